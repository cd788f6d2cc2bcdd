import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queueDemand } from '../../src/engine/demand.js';
import { plan } from '../../src/engine/planner.js';
import type { QueueInfo, WoodpeckerTask } from '../../src/woodpecker/types.js';
import { config, memory, world } from './fixtures.js';

function t(id: number, labels: Record<string, string> | null, agentId = 0): WoodpeckerTask {
  return { id: String(id), labels, dependencies: null, run_on: null, dep_status: null, agent_id: agentId };
}

/** A queue whose stats disagree with its lists on purpose: the filter must count the lists, not the stats. */
function q(pending: WoodpeckerTask[], running: WoodpeckerTask[], waiting: WoodpeckerTask[] = []): QueueInfo {
  return {
    pending,
    waiting_on_deps: waiting,
    running,
    stats: { worker_count: 7, pending_count: 40, waiting_on_deps_count: waiting.length, running_count: 30 },
    paused: false,
  };
}

const arm = { platform: 'linux/arm64' };
const amd = { platform: 'linux/amd64' };

// The Go autoscaler 1.5.0 (engine getQueueInfo + countTasksByLabel): with a filter, running and pending are the
// numbers of running / pending tasks whose labels have exactly that key and value; free stays stats.worker_count.
const cases: Array<{ name: string; filter?: { key: string; value: string }; queue: QueueInfo; want: [number, number, number] }> = [
  {
    name: 'no filter: the server-wide stats',
    queue: q([t(1, arm)], [t(2, amd)]),
    want: [7, 30, 40],
  },
  {
    name: 'counts only matching pending and running tasks; free stays server-wide',
    filter: { key: 'platform', value: 'linux/arm64' },
    queue: q([t(1, arm), t(2, amd), t(3, arm)], [t(4, arm, 9), t(5, amd, 9)]),
    want: [7, 1, 2],
  },
  {
    name: 'the value must be equal, not a prefix, pattern or wildcard',
    filter: { key: 'platform', value: 'linux' },
    queue: q([t(1, arm), t(2, { platform: '*' }), t(3, { platform: 'linux' })], []),
    want: [7, 0, 1],
  },
  {
    name: 'keys are case-sensitive and must be present',
    filter: { key: 'Platform', value: 'linux/arm64' },
    queue: q([t(1, arm), t(2, null), t(3, {})], []),
    want: [7, 0, 0],
  },
  {
    name: 'an empty value (key=) matches tasks whose label is set to the empty string only',
    filter: { key: 'gpu', value: '' },
    queue: q([t(1, { gpu: '' }), t(2, {}), t(3, { gpu: 'yes' })], []),
    want: [7, 0, 1],
  },
  {
    name: 'tasks waiting on dependencies are never counted',
    filter: { key: 'platform', value: 'linux/arm64' },
    queue: q([], [], [t(1, arm), t(2, arm)]),
    want: [7, 0, 0],
  },
  {
    name: 'other labels on a task do not matter',
    filter: { key: 'region', value: 'spb' },
    queue: q([t(1, { region: 'spb', platform: 'linux/amd64', repo: 'a/b' })], [t(2, { region: 'msk' }, 3)]),
    want: [7, 0, 1],
  },
];

describe('queueDemand (--filter-labels, Go autoscaler 1.5.0 semantics)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const d = queueDemand(c.queue, c.filter);
      assert.deepEqual([d.free, d.running, d.pending], c.want);
    });
  }
});

describe('planner with --filter-labels', () => {
  it('does not scale up for pending work of other labels, and does for matching work', () => {
    const obs = world({ free: 0 });
    const other: QueueInfo = { ...obs.queue, pending: [t(1, amd), t(2, amd)] };
    other.stats = { ...other.stats, pending_count: 2 };
    const cfg = config({ filterLabels: { key: 'platform', value: 'linux/arm64' } });

    const unfiltered = plan({ ...obs, queue: other }, config(), memory());
    assert.equal(unfiltered.actions.filter((a) => a.kind === 'create').length, 2, 'without the filter both count');

    const filtered = plan({ ...obs, queue: other }, cfg, memory());
    assert.deepEqual(filtered.actions, []);
    assert.equal(filtered.summary.pendingTasks, 0);

    const mine: QueueInfo = { ...other, pending: [t(1, amd), t(2, arm)] };
    const p = plan({ ...obs, queue: mine }, cfg, memory());
    assert.deepEqual(p.actions.map((a) => [a.kind, a.reason.code]), [['create', 'pending-work']]);
    assert.equal(p.summary.pendingTasks, 1);
  });
});
