import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../src/sandbox/simulate.js';
import type { SimulationResult } from '../../src/sandbox/result.js';
import { builtinWorkload } from '../../src/sandbox/workloads.js';
import type { Workload } from '../../src/sandbox/workloads.js';

const M = 60_000;

/** A short workload: a quiet start, a burst of 12, then a trickle. */
const burst: Workload = {
  name: 'short-burst',
  span: 90 * M,
  items: [
    { arrival: 0, duration: 5 * M },
    ...Array.from({ length: 12 }, (_, i) => ({ arrival: 20 * M + i * 2_000, duration: (6 + (i % 4)) * M })),
    { arrival: 60 * M, duration: 3 * M, labels: { repo: 'acme/web' } },
    { arrival: 75 * M, duration: 4 * M },
  ],
};

function comparable(r: SimulationResult): Omit<SimulationResult, 'wallMs'> {
  const { wallMs: _ignored, ...rest } = r;
  return rest;
}

describe('simulate', () => {
  for (const policy of ['default', 'upstream'] as const) {
    for (const billing of ['hourly', 'per-second'] as const) {
      it(`${policy} policy, ${billing} billing: every workflow completes, nothing leaks, nothing foreign is touched`, async () => {
        const r = await simulate({
          workload: burst,
          values: { policy, minAgents: 0, maxAgents: 4, timewebcloudBilling: billing },
          seed: 3,
          tail: 90 * M,
        });
        assert.equal(r.policy, policy);
        assert.equal(r.workflows.queued, burst.items.length);
        assert.equal(r.workflows.completed, burst.items.length);
        assert.equal(r.workflows.unfinished, 0);
        assert.ok(r.vms.created >= 2, `${r.vms.created} VMs`);
        assert.ok(r.vms.peak <= 4, `peak ${r.vms.peak} ≤ max-agents`);
        assert.deepEqual(r.leftover, {
          servers: 0,
          serversWithoutAgent: 0,
          agentsWithoutServer: 0,
          unattachedFloatingIps: 0,
          foreignTouched: [],
        });
        assert.ok(r.cost.total > 0);
        assert.equal(r.cost.billing, billing);
        // a server's price includes its public IPv4 (preset 1000 + the account's 150 RUB/month, ÷ 730 h)
        assert.ok(Math.abs(r.cost.perHour - 1150 / 730) < 1e-9, `${r.cost.perHour}`);
        assert.match(String(r.settings.price), /public IPv4 150 RUB\/month/);
        assert.ok((r.actions['create pending-work'] ?? 0) >= 2);
        assert.ok(r.queueWait.max >= r.queueWait.p95 && r.queueWait.p95 >= r.queueWait.p50);
        assert.equal(r.series.t.length, r.series.cost.length);
        assert.equal(r.series.cost.at(-1), r.cost.total);
        assert.ok((r.apiCalls['timeweb POST /api/v1/servers'] ?? 0) === r.vms.created);
      });
    }
  }

  it('is deterministic per seed', async () => {
    const w = builtinWorkload('bursty', { seed: 4, span: 3 * 3_600_000 });
    const run = (seed: number): Promise<SimulationResult> =>
      simulate({ workload: w, values: { maxAgents: 5 }, seed, tail: 30 * M });
    const a = await run(9);
    const b = await run(9);
    const c = await run(10);
    assert.deepEqual(comparable(a), comparable(b));
    assert.notDeepEqual(comparable(a).series, comparable(c).series);
  });

  it('a broken cloud-init template yields no agents: workflows stay queued and creates back off', async () => {
    const r = await simulate({
      workload: { name: 'two', span: M, items: [{ arrival: 0, duration: M }, { arrival: 1_000, duration: M }] },
      values: { minAgents: 0, maxAgents: 3, cloudinitTemplate: '#cloud-config\nruncmd:\n  - echo no agent here\n' },
      maxOvertime: 2 * 3_600_000,
      tail: 0,
    });
    assert.equal(r.workflows.completed, 0);
    assert.equal(r.workflows.unfinished, 2);
    assert.equal(r.vms.withAgent, 0);
    assert.ok(r.vms.created >= 1);
    // back-off after agents that never connect: far fewer servers than one per tick
    assert.ok(r.vms.created <= 12, `${r.vms.created} VMs created in 2 h`);
    assert.ok((r.actions['remove-agent never-connected'] ?? 0) >= 1, JSON.stringify(r.actions));
  });

  it('agents that die and VMs that never boot are cleaned up, and the work still completes', async () => {
    const r = await simulate({
      workload: burst,
      values: { minAgents: 0, maxAgents: 4 },
      seed: 11,
      neverBootRate: 0.3,
      agentDeathRate: 0.5,
      tail: 2 * 3_600_000,
    });
    assert.equal(r.workflows.unfinished, 0);
    assert.equal(r.workflows.completed, burst.items.length);
    assert.equal(r.leftover.servers, 0);
    assert.equal(r.leftover.agentsWithoutServer, 0);
    assert.equal(r.leftover.unattachedFloatingIps, 0);
    assert.deepEqual(r.leftover.foreignTouched, []);
  });

  it('a pool booting from a baked image skips the installs: agents come up sooner (boot model per path)', async () => {
    const run = (values: Record<string, string | number>) =>
      simulate({ workload: burst, values: { maxAgents: 6, ...values }, seed: 3, tail: 30 * M, bootDelay: { min: 60_000, max: 60_000 } });
    const os = await run({});
    const image = await run({ timewebcloudImageId: 'ci-agent-golden' });
    assert.equal(image.settings.bootPath, 'baked image ci-agent-golden');
    assert.ok(os.vms.bootP95 >= 80_000, `OS path: 60 s install + 20–40 s agent start, got ${os.vms.bootP95}`);
    assert.ok(image.vms.bootP95 <= 70_000, `image path: 60 s + 5–10 s, got ${image.vms.bootP95}`);
    assert.ok(image.queueWait.p95 < os.queueWait.p95);
    assert.equal(image.workflows.completed, burst.items.length);
  });

  it('warm capacity and a budget show in the reported settings', async () => {
    const r = await simulate({ workload: burst, values: { minIdleSlots: 2, budgetDaily: 500 }, seed: 1, tail: 30 * M });
    assert.equal(r.settings.minIdleSlots, 2);
    assert.equal(r.settings.budgetDaily, 500);
    assert.equal(r.workflows.completed, burst.items.length);
    assert.ok(Math.abs(r.cost.perWorkflow - r.cost.total / r.workflows.completed) < 0.001, 'cost per workflow');
  });
});
