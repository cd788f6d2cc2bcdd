import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { costAt } from '../../src/sandbox/metrics.js';
import { simulate } from '../../src/sandbox/simulate.js';
import type { World } from '../../src/sandbox/world.js';
import type { Workload } from '../../src/sandbox/workloads.js';

const M = 60_000;

/** `simulate` with a pools file and a labelled workload: every pool runs, each only for its own work. */
describe('simulate with --pools-file', () => {
  it('creates servers per pool for its own workflows, none for unservable ones, and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-pools-'));
    try {
      const file = join(dir, 'pools.yaml');
      writeFileSync(file, 'pools:\n  - id: small\n    max-agents: 3\n    agent-labels: size=small\n  - id: large\n    max-agents: 2\n    agent-labels: size=large\n');
      const small = { size: 'small' };
      const large = { size: 'large' };
      const workload: Workload = {
        name: 'labelled',
        span: 40 * M,
        items: [
          { arrival: 0, duration: 10 * M, labels: small },
          { arrival: 1 * M, duration: 10 * M, labels: large },
          { arrival: 2 * M, duration: 10 * M, labels: { type: 'gpu' } },
          { arrival: 5 * M, duration: 10 * M, labels: small },
          { arrival: 30 * M, duration: 5 * M, labels: small },
        ],
      };
      let world: World | undefined;
      const r = await simulate({
        workload,
        values: { poolsFile: file, minAgents: 0, timewebcloudBilling: 'per-second', agentIdleTimeout: 5 * M },
        maxOvertime: 30 * M,
        tail: 30 * M,
        setup: (w) => {
          world = w;
        },
      });
      assert.equal(r.settings.pools, 'small (size=small, 0-3 agents); large (size=large, 0-2 agents)');
      assert.equal(r.unservable, 1);
      assert.deepEqual(
        r.labelClasses.map((c) => [c.labels, c.queued, c.completed, c.unservable]),
        [
          ['size=large', 1, 1, 0],
          ['size=small', 3, 3, 0],
          ['type=gpu', 1, 0, 1],
        ],
      );
      assert.deepEqual(
        r.pools.map((p) => [p.id, p.agentLabels, p.vmsForWorkItCannotRun]),
        [
          ['small', 'size=small', 0],
          ['large', 'size=large', 0],
        ],
      );
      assert.deepEqual(r.workflows, { queued: 5, completed: 4, unfinished: 1, restarted: 0 });
      const names = world?.vms().map((v) => v.name) ?? [];
      const of = (pool: string): number => names.filter((n) => n.startsWith(`pool-${pool}-agent-`)).length;
      assert.ok(of('small') >= 1 && of('small') <= 3, `small servers: ${of('small')}`);
      assert.equal(of('large'), 1);
      assert.equal(names.length, of('small') + of('large'), 'nothing created for the gpu workflow');
      assert.equal(r.leftover.servers, 0, 'every pool shrank to 0 after its work although gpu work still waits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const withPresets =
    'pools:\n' +
    '  - id: small\n    max-agents: 3\n    agent-labels: size=small\n    timewebcloud-preset-id: 2451\n' +
    '  - id: large\n    max-agents: 2\n    workflows-per-agent: 1\n    agent-labels: size=large\n    timewebcloud-preset-id: 2455\n';
  const mixed: Workload = {
    name: 'mixed',
    span: 20 * M,
    items: [
      { arrival: 0, duration: 10 * M, labels: { size: 'small' } },
      { arrival: 0, duration: 10 * M, labels: { size: 'large' } },
      { arrival: 1 * M, duration: 10 * M, labels: { size: 'large' } },
      { arrival: 2 * M, duration: 5 * M, labels: { type: 'gpu' } },
      { arrival: 20 * M, duration: 5 * M, labels: { size: 'small' } },
    ],
  };

  it('prices every pool at its own preset: cost per pool and in total', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-pools-'));
    try {
      const file = join(dir, 'pools.yaml');
      writeFileSync(file, withPresets);
      let world: World | undefined;
      const r = await simulate({
        workload: mixed,
        values: { poolsFile: file, minAgents: 0, agentIdleTimeout: 5 * M },
        tail: 20 * M,
        setup: (w) => {
          world = w;
        },
      });
      const [small, large] = r.pools;
      assert.ok(small && large && r.pools.length === 2);
      // Presets 2451 (800 RUB/month) and 2455 (1 900 RUB/month), each with the same public IPv4, per 730 hours.
      assert.ok(Math.abs(large.perHour - small.perHour - (1900 - 800) / 730) < 1e-9, `${large.perHour} vs ${small.perHour}`);
      assert.match(small.priceDescription, /2451/);
      assert.match(large.priceDescription, /2455/);
      const end = r.startedAt + r.simulatedMs;
      for (const p of [small, large]) {
        const lives = (world?.vms() ?? []).filter((v) => v.name.startsWith(`pool-${p.id}-agent-`));
        assert.ok(lives.length >= 1, `pool ${p.id} created servers`);
        assert.equal(p.vmsCreated, lives.length);
        assert.equal(p.cost, Math.round(costAt(lives, end, p.perHour, 'hourly') * 100) / 100, `cost of pool ${p.id}`);
      }
      assert.ok(Math.abs(r.cost.total - small.cost - large.cost) <= 0.011, `total ${r.cost.total} = ${small.cost} + ${large.cost}`);
      assert.equal(r.series.cost.at(-1), r.cost.total, 'the cost curve ends at the total');
      assert.match(String(r.settings.price), /^small 1\.\d\d RUB\/h .*; large 2\.\d\d RUB\/h /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('labelBlind: one pool counting the whole queue in place of the pools, on the same workload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-pools-'));
    try {
      const file = join(dir, 'pools.yaml');
      writeFileSync(file, withPresets);
      const r = await simulate({ workload: mixed, values: { poolsFile: file, minAgents: 0, agentIdleTimeout: 5 * M }, tail: 20 * M, labelBlind: 'upstream' });
      assert.equal(r.policy, 'upstream');
      const [blind] = r.pools;
      assert.ok(blind && r.pools.length === 1);
      assert.deepEqual([blind.id, blind.agentLabels], ['blind', 'size=small']);
      assert.match(blind.priceDescription, /2451/, "the first pool's machine");
      assert.equal(r.settings.maxAgents, 5, 'as many agents as both pools together');
      assert.match(String(r.settings.labelBlind), /in place of small, large/);
      assert.equal(r.unservable, 3, 'the large workflows and the gpu one');
      assert.deepEqual(
        r.labelClasses.map((c) => [c.labels, c.completed, c.waitP95 === null]),
        [
          ['size=large', 0, true],
          ['size=small', 2, false],
          ['type=gpu', 0, true],
        ],
      );
      assert.ok(blind.vmsForWorkItCannotRun >= 1, `created for large work: ${blind.vmsForWorkItCannotRun} of ${blind.vmsCreated}`);
      assert.ok(blind.vmsForWorkItCannotRun < blind.vmsCreated, 'the small workflows needed one');
      assert.ok(r.simulatedMs <= mixed.span + 2 * 60 * M, 'the run does not wait for work nothing can run');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
