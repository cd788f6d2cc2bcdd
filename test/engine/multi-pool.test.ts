import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePoolsFile } from '../../src/config/pools-file.js';
import type { OptionValues } from '../../src/config/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { assemblePools, type AssembledPools } from '../../src/pools.js';
import { sandboxValues } from '../../src/sandbox/engine.js';
import { drive } from '../../src/sandbox/simulate.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld, type World } from '../../src/sandbox/world.js';
import { seededRandom } from '../../src/util/clock.js';

const S = 1000;
const M = 60 * S;

const POOLS = `
pools:
  - id: small
    max-agents: 3
    agent-labels: { size: small }
  - id: large
    max-agents: 3
    agent-labels: { size: large }
`;

async function setup(): Promise<{ clock: VirtualClock; world: World; a: AssembledPools }> {
  const clock = new VirtualClock();
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(5),
    grpcAddr: 'woodpecker-server:9000',
    bootDelay: 60 * S,
    agentStartDelay: 20 * S,
    agentDeathAfter: { min: 1000 * M, max: 1000 * M },
    track: (p) => clock.track(p),
  });
  const user: OptionValues = {
    minAgents: 0,
    workflowsPerAgent: 1,
    timewebcloudBilling: 'per-second',
    agentIdleTimeout: 5 * M,
  };
  const pools = parsePoolsFile(POOLS, 'pools.yaml', sandboxValues(world, user), { core: { requireServer: false } });
  const a = await drive(clock, assemblePools({ pools, clock, fetch: world.fetch, random: seededRandom(9), logger: silentLogger() }));
  return { clock, world, a };
}

/** Live servers of a pool (by the engine's own name pattern: the fake account holds only this installation's). */
function live(world: World, pool: string): number {
  return world.timeweb.servers().filter((s) => s.name.startsWith(`pool-${pool}-agent-`)).length;
}

function created(world: World, pool: string): number {
  return world.vms().filter((v) => v.name.startsWith(`pool-${pool}-agent-`)).length;
}

describe('several pools in one daemon (--pools-file), against the fakes in virtual time', () => {
  it('each pool creates servers only for its own work; unservable work creates nothing and is reported', async () => {
    const { clock, world, a } = await setup();
    world.queueWorkflow({ durationMs: 3 * M, labels: { size: 'small' } });
    world.queueWorkflow({ durationMs: 3 * M, labels: { size: 'small' } });
    world.queueWorkflow({ durationMs: 3 * M, labels: { size: 'large' } });
    world.queueWorkflow({ durationMs: 3 * M, labels: { type: 'gpu' } });
    let maxSmall = 0;
    let maxLarge = 0;
    for (let i = 0; i < 20; i++) {
      const r = await drive(clock, a.set.tick('full'));
      assert.equal(r.reports.length, 2);
      maxSmall = Math.max(maxSmall, live(world, 'small'));
      maxLarge = Math.max(maxLarge, live(world, 'large'));
      await clock.runFor(30 * S);
    }
    assert.equal(maxSmall, 2, 'two small workflows: two small servers');
    assert.equal(maxLarge, 1, 'one large workflow: one large server');
    assert.equal(created(world, 'small') + created(world, 'large'), 3, 'nothing was created for the gpu workflow');
    assert.equal(world.vms().length, 3);
    const st = world.woodpecker.state();
    assert.equal(st.completed.length, 3);
    for (const w of st.completed) {
      const size = w.labels.size ?? '';
      assert.match(w.agentName, new RegExp(`^pool-${size}-agent-`), 'each workflow ran on its own pool');
    }
    assert.equal(st.pending.length, 1, 'the gpu workflow still waits');
    const last = a.set.last;
    assert.deepEqual(
      last?.unservable.map((g) => [g.labels, g.taskIds.length]),
      // The server adds the repo and org labels to every task.
      [[{ 'org-id': '1', repo: 'acme/app', type: 'gpu' }, 1]],
    );
    assert.deepEqual(
      last?.reports.map((r) => r.plan?.summary.pendingTasks),
      [0, 0],
      'the gpu task is no pool’s pending work',
    );
    // One lease for the installation, however many pools.
    assert.equal(last?.lease?.role, 'acting');
    assert.equal(last?.lease?.records.length, 1);
  });

  it("a pool's idle agents go when idle although another pool has work queued and running (and gpu work waits)", async () => {
    const { clock, world, a } = await setup();
    world.queueWorkflow({ durationMs: 2 * M, labels: { size: 'small' } });
    world.queueWorkflow({ durationMs: 90 * M, labels: { size: 'large' } });
    world.queueWorkflow({ durationMs: 90 * M, labels: { size: 'large' } });
    world.queueWorkflow({ durationMs: 3 * M, labels: { type: 'gpu' } });
    let smallGoneAt: number | undefined;
    for (let i = 0; i < 60; i++) {
      await drive(clock, a.set.tick('full'));
      if (i > 4 && smallGoneAt === undefined && live(world, 'small') === 0 && created(world, 'small') > 0) smallGoneAt = i;
      await clock.runFor(30 * S);
    }
    assert.equal(created(world, 'small'), 1);
    assert.ok(smallGoneAt !== undefined && smallGoneAt < 40, `the idle small agent was removed (tick ${String(smallGoneAt)})`);
    assert.equal(live(world, 'small'), 0, 'and no small server came back for the other pools’ work');
    assert.equal(live(world, 'large'), 2, 'the large pool keeps its busy agents');
    assert.equal(world.woodpecker.state().running.length, 2);
  });
});
