import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolAgentLabels } from '../../src/engine/labels.js';
import { assignDemand, poolFor } from '../../src/engine/pool-demand.js';
import type { DemandInput, DemandPool, DemandResult, PoolDemand } from '../../src/engine/pool-demand.js';
import type { WoodpeckerAgent, WoodpeckerTask } from '../../src/woodpecker/types.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const ONLINE = Math.floor(NOW / 1000) - 5;

const task = (id: string, labels: Record<string, string> = {}, agentId = 0): WoodpeckerTask => ({
  id,
  labels: { repo: 'acme/app', 'org-id': '1', 'woodpecker-ci.org/repo-id': '7', ...labels },
  dependencies: null,
  run_on: null,
  dep_status: null,
  agent_id: agentId,
});

interface AgentOpts {
  labels?: Record<string, string>;
  capacity?: number;
  lastContact?: number;
  noSchedule?: boolean;
}

const agent = (id: number, name: string, o: AgentOpts = {}): WoodpeckerAgent => ({
  id,
  created: 1,
  updated: 1,
  name,
  owner_id: 1,
  token: `token-${id}`,
  last_contact: o.lastContact ?? ONLINE,
  last_work: 0,
  platform: 'linux/amd64',
  backend: 'docker',
  capacity: o.capacity ?? 2,
  version: '3.17.0',
  no_schedule: o.noSchedule ?? false,
  custom_labels: o.labels ?? null,
  org_id: -1,
});

const pool = (id: string, labels: Record<string, string>, pricePerHour = 1): DemandPool => ({
  id,
  labels: poolAgentLabels(labels),
  pricePerHour,
});

/** Pool membership by name, `<pool>-N`; anything else is outside every pool. */
const poolOfName = (a: WoodpeckerAgent): string | undefined => /^([a-z]+)-\d+$/.exec(a.name)?.[1];

function demand(over: Partial<DemandInput> & Pick<DemandInput, 'pools'>): DemandResult {
  return assignDemand({
    now: NOW,
    onlineWithin: 60_000,
    queue: { pending: [], waiting_on_deps: [], running: [] },
    agents: [],
    poolOf: poolOfName,
    ...over,
  });
}

const pendingOf = (r: DemandResult): Record<string, string[]> =>
  Object.fromEntries(r.pools.map((p) => [p.poolId, p.pendingTaskIds]));

const only = (r: DemandResult, id: string): PoolDemand => {
  const p = r.pools.find((x) => x.poolId === id);
  assert.ok(p, `pool ${id}`);
  return p;
};

describe('assignDemand: which pool serves a pending task', () => {
  const cases: { what: string; pools: DemandPool[]; tasks: WoodpeckerTask[]; want: Record<string, string[]> }[] = [
    {
      what: 'small and large pools get their own size',
      pools: [pool('small', { size: 'small' }), pool('large', { size: 'large' }, 4)],
      tasks: [task('1', { size: 'small' }), task('2', { size: 'large' }), task('3', { size: 'small' })],
      want: { small: ['1', '3'], large: ['2'] },
    },
    {
      what: 'an exact pool beats a wildcard pool, even when dearer',
      pools: [pool('any', { size: '*' }, 1), pool('large', { size: 'large' }, 9)],
      tasks: [task('1', { size: 'large' }), task('2', { size: 'small' })],
      want: { any: ['2'], large: ['1'] },
    },
    {
      what: 'equal score: the cheapest pool',
      pools: [pool('dear', { type: 'cpu' }, 3), pool('cheap', { type: 'cpu' }, 1)],
      tasks: [task('1', { type: 'cpu' })],
      want: { dear: [], cheap: ['1'] },
    },
    {
      what: 'equal score and price: the lowest pool id',
      pools: [pool('b', {}, 2), pool('a', {}, 2), pool('c', {}, 2)],
      tasks: [task('1')],
      want: { b: [], a: ['1'], c: [] },
    },
    {
      what: 'an unknown (non-finite) price loses to a known one',
      pools: [pool('a', {}, Number.NaN), pool('b', {}, 5)],
      tasks: [task('1')],
      want: { a: [], b: ['1'] },
    },
    {
      what: 'internal labels are ignored',
      pools: [pool('cpu', { type: 'cpu' })],
      tasks: [task('1', { type: 'cpu', 'woodpecker-ci.org/branch': 'main', 'woodpecker-ci.org/event': 'push' })],
      want: { cpu: ['1'] },
    },
    {
      what: 'a plain workflow goes to a labelled pool too (its labels are all on the agent)',
      pools: [pool('cpu', { type: 'cpu' })],
      tasks: [task('1')],
      want: { cpu: ['1'] },
    },
    {
      what: 'a required label (!key) keeps plain workflows away from a pool',
      pools: [pool('gpu', { '!type': 'gpu' }, 1), pool('cpu', {}, 5)],
      tasks: [task('1'), task('2', { type: 'gpu' })],
      want: { gpu: ['2'], cpu: ['1'] },
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const r = demand({ pools: c.pools, queue: { pending: c.tasks, waiting_on_deps: [], running: [] } });
      assert.deepEqual(pendingOf(r), c.want);
      for (const p of r.pools) assert.equal(p.pending, p.pendingTaskIds.length);
      const counted = r.pools.reduce((n, p) => n + p.pending, 0);
      assert.equal(counted, c.tasks.length, 'every task counts for exactly one pool');
    });
  }

  it('poolFor is the same rule, for one task', () => {
    const pools = [pool('any', { size: '*' }), pool('large', { size: 'large' }, 9)];
    assert.equal(poolFor({ labels: { size: 'large' } }, pools)?.id, 'large');
    assert.equal(poolFor({ labels: { size: 'small' } }, pools)?.id, 'any');
    assert.equal(poolFor({ labels: { type: 'gpu' } }, pools), undefined);
  });
});

describe('assignDemand: unservable work', () => {
  it('a gpu workflow and a cpu pool: no demand, reported once with its labels', () => {
    const r = demand({
      pools: [pool('cpu', { type: 'cpu' })],
      queue: { pending: [task('1', { type: 'gpu' }), task('2', { type: 'gpu' }), task('3')], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(pendingOf(r), { cpu: ['3'] });
    assert.deepEqual(r.unservable, [{ labels: { 'org-id': '1', repo: 'acme/app', type: 'gpu' }, taskIds: ['1', '2'] }]);
    assert.deepEqual(r.leftToOthers, []);
  });

  it('no pools at all: every task nothing matches is unservable, grouped by label set', () => {
    const r = demand({
      pools: [],
      queue: { pending: [task('1', { type: 'gpu' }), task('2', { arch: 'arm' }), task('3', { type: 'gpu' })], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(
      r.unservable.map((g) => g.taskIds),
      [['1', '3'], ['2']],
    );
  });

  it('a task only an existing agent outside the pools matches waits for it (even offline or drained): not unservable', () => {
    const r = demand({
      pools: [pool('cpu', { type: 'cpu' })],
      agents: [
        agent(1, 'gpubox', { labels: { type: 'gpu' }, lastContact: ONLINE - 3600 }),
        agent(2, 'armbox', { labels: { arch: 'arm' }, noSchedule: true }),
      ],
      queue: { pending: [task('1', { type: 'gpu' }), task('2', { arch: 'arm' })], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(r.leftToOthers, ['1', '2']);
    assert.deepEqual(r.unservable, []);
    assert.deepEqual(pendingOf(r), { cpu: [] });
  });
});

describe('assignDemand: free slots absorb work before any pool scales', () => {
  it('a static agent with one free slot takes one task; the rest is demand', () => {
    const r = demand({
      pools: [pool('cpu', {})],
      agents: [agent(1, 'static', { capacity: 1 })],
      queue: { pending: [task('1'), task('2'), task('3')], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(r.absorbed, [{ taskId: '1', agentId: 1 }]);
    assert.deepEqual(pendingOf(r), { cpu: ['2', '3'] });
    assert.equal(only(r, 'cpu').absorbed, 0, 'a static agent is not the pool');
  });

  const notUsable: { what: string; a: WoodpeckerAgent; running?: WoodpeckerTask[] }[] = [
    { what: 'offline (old contact)', a: agent(1, 'static', { lastContact: ONLINE - 120 }) },
    { what: 'never connected', a: agent(1, 'static', { lastContact: 0 }) },
    { what: 'drained (no_schedule)', a: agent(1, 'static', { noSchedule: true }) },
    { what: 'busy (every slot running)', a: agent(1, 'static', { capacity: 1 }), running: [task('r1', {}, 1)] },
    { what: 'not matching', a: agent(1, 'static', { labels: { repo: 'acme/other' } }) },
  ];
  for (const c of notUsable) {
    it(`an agent that is ${c.what} absorbs nothing`, () => {
      const r = demand({
        pools: [pool('cpu', {})],
        agents: [c.a],
        queue: { pending: [task('1')], waiting_on_deps: [], running: c.running ?? [] },
      });
      assert.deepEqual(r.absorbed, []);
      assert.deepEqual(pendingOf(r), { cpu: ['1'] });
    });
  }

  it("a pool's own free slot: absorbed, counted for the pool, and no longer free", () => {
    const r = demand({
      pools: [pool('cpu', {})],
      agents: [agent(1, 'cpu-1', { capacity: 2 })],
      queue: { pending: [task('1'), task('2'), task('3')], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(r.absorbed.map((x) => x.taskId), ['1', '2']);
    assert.deepEqual(only(r, 'cpu'), {
      poolId: 'cpu',
      pending: 1,
      pendingTaskIds: ['3'],
      waitingOnDeps: 0,
      running: 0,
      freeSlots: 0,
      absorbed: 2,
    });
  });

  it('the free agent that matches best takes the task (exact beats wildcard), in queue order', () => {
    const r = demand({
      pools: [pool('any', { size: '*' })],
      agents: [agent(1, 'any-1', { capacity: 1, labels: { size: '*' } }), agent(2, 'static', { capacity: 1, labels: { size: 'large' } })],
      queue: { pending: [task('1', { size: 'large' }), task('2', { size: 'large' }), task('3', { size: 'large' })], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(r.absorbed, [
      { taskId: '1', agentId: 2 },
      { taskId: '2', agentId: 1 },
    ]);
    assert.deepEqual(pendingOf(r), { any: ['3'] });
  });

  it('a gpu slot does not absorb cpu work, and a cpu slot does not absorb gpu work', () => {
    const r = demand({
      pools: [pool('cpu', { type: 'cpu' }), pool('gpu', { type: 'gpu' })],
      agents: [agent(1, 'gpu-1', { capacity: 1, labels: { type: 'gpu' } })],
      queue: { pending: [task('1', { type: 'cpu' }), task('2', { type: 'gpu' })], waiting_on_deps: [], running: [] },
    });
    assert.deepEqual(r.absorbed, [{ taskId: '2', agentId: 1 }]);
    assert.deepEqual(pendingOf(r), { cpu: ['1'], gpu: [] });
  });
});

describe("assignDemand: running and free capacity from each pool's own agents", () => {
  it('counts per pool, ignoring static agents and agents of unknown pools', () => {
    const agents = [
      agent(1, 'cpu-1', { capacity: 2 }),
      agent(2, 'cpu-2', { capacity: 2, noSchedule: true }),
      agent(3, 'gpu-1', { capacity: 1, labels: { type: 'gpu' } }),
      agent(4, 'static', { capacity: 4 }),
      agent(5, 'other-1', { capacity: 4 }),
    ];
    const running = [task('r1', {}, 1), task('r2', {}, 2), task('r3', {}, 2), task('r4', { type: 'gpu' }, 3), task('r5', {}, 4), task('r6', {}, 5), task('r7', {}, 99)];
    const r = demand({ pools: [pool('cpu', {}), pool('gpu', { type: 'gpu' })], agents, queue: { pending: [], waiting_on_deps: [], running } });
    assert.deepEqual(
      r.pools.map((p) => [p.poolId, p.running, p.freeSlots]),
      [
        ['cpu', 3, 1],
        ['gpu', 1, 0],
      ],
    );
  });
});

describe('assignDemand: waiting-on-deps tasks', () => {
  it('are not demand (like upstream), but are counted for the pool that would serve them', () => {
    const r = demand({
      pools: [pool('small', { size: 'small' }), pool('large', { size: 'large' })],
      queue: { pending: [task('1', { size: 'small' })], waiting_on_deps: [task('2', { size: 'large' }), task('3', { size: 'large' }), task('4', { type: 'gpu' })], running: [] },
    });
    assert.deepEqual(
      r.pools.map((p) => [p.poolId, p.pending, p.waitingOnDeps]),
      [
        ['small', 1, 0],
        ['large', 0, 2],
      ],
    );
    assert.deepEqual(r.unservable, [], 'only pending tasks are reported unservable');
  });
});
