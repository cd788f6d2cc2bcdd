import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus } from '../../src/cli/admin.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { mergeExpositions, observePools } from '../../src/observability/pools.js';
import { createStatusTracker } from '../../src/observability/status.js';
import { drive } from '../../src/sandbox/simulate.js';
import type { AssembledPools } from '../../src/pools.js';
import type { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import type { World } from '../../src/sandbox/world.js';
import { M, S, assemblePoolsText, created, live, newWorld } from './pools-world.js';

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
  const { clock, world } = newWorld();
  return { clock, world, a: await assemblePoolsText(clock, world, POOLS) };
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
    // The queue poll does not wake the pools for work none of them can run; new work of a pool does.
    const q = await drive(clock, a.first.woodpecker.queueInfo());
    assert.equal(a.set.mayScaleFor(q), false);
    const unseen = { ...(q.pending[0] ?? assert.fail('the gpu task is pending')), id: 'new-task' };
    assert.equal(a.set.mayScaleFor({ pending: [...q.pending, unseen] }), true);
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

  it('status, metrics and admin controls cover every pool; unservable work is a metric and in the status', async () => {
    const { clock, world, a } = await setup();
    const head = {
      status: createStatusTracker({ clock, config: a.first.reconciler.config }),
      metrics: createMetrics({ poolId: a.first.engine.poolId, installationId: a.first.engine.installationId }),
    };
    a.first.reconciler.onTick((r) => {
      head.metrics.observeTick(r);
      head.status.observeTick(r);
    });
    const o = observePools(a, head, clock);
    world.queueWorkflow({ durationMs: 30 * M, labels: { size: 'small' } });
    world.queueWorkflow({ durationMs: 30 * M, labels: { size: 'large' } });
    world.queueWorkflow({ durationMs: 30 * M, labels: { type: 'gpu' } });
    for (let i = 0; i < 10; i++) {
      await drive(clock, a.set.tick('full'));
      await clock.runFor(30 * S);
    }
    const s = o.status.snapshot();
    assert.equal(s.pool.poolId, 'small', 'the single-pool fields are the first pool');
    assert.deepEqual(
      s.pools?.map((p) => [p.pool.poolId, p.labels, p.agents.length, p.demand?.running]),
      [
        ['small', 'size=small', 1, 1],
        ['large', 'size=large', 1, 1],
      ],
    );
    for (const p of s.pools ?? []) for (const ag of p.agents) assert.match(ag.name, new RegExp(`^pool-${p.pool.poolId ?? ''}-agent-`));
    assert.deepEqual(s.unservable, [{ labels: 'org-id=1,repo=acme/app,type=gpu', tasks: 1 }]);
    const text = formatStatus(s);
    assert.match(text, /Pools:\n.*POOL.*\n.*small.*size=small/);
    assert.match(text, /Unservable: 1 pending workflow\(s\) with labels org-id=1,repo=acme\/app,type=gpu/);

    const body = (await o.metrics.render()).body;
    assert.match(body, /^twcloud_scaler_desired_agents\{pool="small"\} 1$/m);
    assert.match(body, /^twcloud_scaler_desired_agents\{pool="large"\} 1$/m);
    assert.match(body, /^twcloud_scaler_unservable_tasks\{labels="org-id=1,repo=acme\/app,type=gpu"\} 1$/m);
    assert.equal(body.match(/^# HELP twcloud_scaler_desired_agents /gm)?.length, 1, 'one family header for all pools');

    // Admin controls: pause is for every pool; a drain goes to the agent's own pool.
    o.controls.setPaused(true);
    assert.deepEqual(a.pools.map((p) => p.reconciler.state.paused), [true, true]);
    const large = s.pools?.[1]?.agents[0]?.name ?? '';
    o.controls.requestDrain(large);
    assert.deepEqual(a.pools.map((p) => p.reconciler.state.drainRequested), [[], [large]]);
  });
});

describe('mergeExpositions', () => {
  it('puts the samples of one family from several registries under one header, in first-seen order', () => {
    const a = '# HELP x_total X.\n# TYPE x_total counter\nx_total{pool="a"} 1\n\n# HELP y Y.\n# TYPE y gauge\ny{pool="a"} 2\n';
    const b = '# HELP x_total X.\n# TYPE x_total counter\nx_total{pool="b"} 3\n';
    assert.equal(
      mergeExpositions([a, b]),
      '# HELP x_total X.\n# TYPE x_total counter\nx_total{pool="a"} 1\nx_total{pool="b"} 3\n\n# HELP y Y.\n# TYPE y gauge\ny{pool="a"} 2\n',
    );
  });
});
