import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OptionValues } from '../../src/config/types.js';
import { budgetRoom, currentSpend, type BudgetSettings, type Ledger, type OtherPoolsSpend } from '../../src/engine/budget.js';
import { deriveInstallationId } from '../../src/engine/identity.js';
import { TimewebProvider } from '../../src/providers/timeweb/provider.js';
import type { AssembledPools } from '../../src/pools.js';
import { drive } from '../../src/sandbox/simulate.js';
import type { World } from '../../src/sandbox/world.js';
import { H, M, S, assemblePoolsText, created, isPool, live, newWorld } from './pools-world.js';

/** Warm capacity, budget and identity of several pools in one daemon, against the fakes in virtual time. */

const assemble = assemblePoolsText;

describe('several pools: warm capacity per pool', () => {
  it('only the pool with min-idle-slots keeps idle slots', async () => {
    const { clock, world } = newWorld();
    const a = await assemble(
      clock,
      world,
      `
pools:
  - id: warm
    max-agents: 3
    min-idle-slots: 2
    agent-labels: { size: small }
  - id: cold
    max-agents: 3
    agent-labels: { size: large }
`,
    );
    for (let i = 0; i < 12; i++) {
      await drive(clock, a.set.tick('full'));
      await clock.runFor(30 * S);
    }
    assert.equal(live(world, 'warm'), 2, 'two idle slots (one workflow per agent): two servers');
    assert.equal(created(world, 'cold'), 0, 'the pool without idle slots keeps nothing');
    const [warm, cold] = a.set.last?.reports ?? [];
    assert.equal(warm?.plan?.summary.warm?.idleSlots, 2);
    assert.equal(cold?.plan?.summary.warm?.idleSlots, 0, 'only the forecast (on by default), and nothing arrived');
    assert.equal(world.woodpecker.state().agents.filter((x) => isPool('warm')(x.name)).length, 2);
  });

  it("a pool's forecast counts its own arrivals only, not another pool's", async () => {
    const { clock, world } = newWorld();
    const a = await assemble(
      clock,
      world,
      `
pools:
  - id: small
    max-agents: 4
    agent-labels: { size: small }
    forecast: true
    boot-time: 10m
  - id: large
    max-agents: 4
    agent-labels: { size: large }
    forecast: true
    boot-time: 10m
`,
    );
    const why: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) world.queueWorkflow({ durationMs: 90 * S, labels: { size: 'small' } });
      const r = await drive(clock, a.set.tick('full'));
      for (const w of r.reports[0]?.plan?.summary.warm?.why ?? []) why.push(w);
      await clock.runFor(30 * S);
    }
    assert.ok(why.some((w) => w.startsWith('forecast:')), 'the small pool forecasts its own arrivals');
    assert.equal(created(world, 'large'), 0, 'the small pool’s arrivals keep no large server warm');
    assert.equal(a.set.last?.reports[1]?.plan?.summary.warm?.idleSlots, 0);
  });
});

describe('budgetRoom with several pools', () => {
  const ledger = (spent: number): Ledger => ({ day: 'd', month: 'm', spentDay: spent, spentMonth: spent, paidUntil: {} });
  const settings: BudgetSettings = { daily: 20, timeZone: 'UTC', perHour: 2, currency: 'RUB' };
  const none: OtherPoolsSpend = { spentDay: 0, spentMonth: 0, reserved: 0, servers: 0, competing: 0 };
  const cases: {
    what: string;
    spent: number;
    running: number;
    s?: Partial<BudgetSettings>;
    others?: Partial<OtherPoolsSpend>;
    creates: number;
    affordable: number;
    why?: RegExp;
  }[] = [
    { what: 'one pool: the cap is its own', spent: 4, running: 2, creates: 3, affordable: 8 },
    { what: 'the other pools’ spend counts', spent: 4, running: 2, others: { spentDay: 6 }, creates: 1, affordable: 5 },
    {
      what: 'and their next hour',
      spent: 4,
      running: 2,
      others: { spentDay: 6, reserved: 4, servers: 2 },
      creates: 0,
      affordable: 3,
      why: /^daily \(all pools\) budget: 10\.00 RUB of 20\.00 RUB spent, the next hour of 2 running server\(s\), the next hour of the other pools' 2 server\(s\) \(4\.00 RUB\) reserved/,
    },
    { what: 'the room is shared with the pools still waiting in this tick', spent: 0, running: 0, others: { competing: 2 }, creates: 2, affordable: 10 },
    { what: 'a pool cap counts the pool’s own spend only', spent: 4, running: 0, s: { daily: 100, pool: { daily: 10 } }, others: { spentDay: 50, competing: 3 }, creates: 1, affordable: 3, why: /^pool's daily budget: 4\.00 RUB of 10\.00 RUB spent/ },
    { what: 'only a pool cap', spent: 0, running: 0, s: { daily: undefined, pool: { monthly: 8 } }, others: { spentMonth: 1000 }, creates: 2, affordable: 4 },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const r = budgetRoom(ledger(c.spent), c.running, { ...settings, ...c.s }, c.others ? { ...none, ...c.others } : undefined);
      assert.deepEqual([r.creates, r.affordable], [c.creates, c.affordable]);
      if (c.why) assert.match(r.why ?? '', c.why);
    });
  }

  it('another pool’s ledger of an earlier day or month counts nothing', () => {
    const now = Date.UTC(2025, 0, 7, 10);
    const l: Ledger = { day: '2025-1-6', month: '2025-1', spentDay: 5, spentMonth: 9, paidUntil: {} };
    assert.deepEqual(currentSpend(l, now, 'UTC'), { day: 0, month: 9 });
    assert.deepEqual(currentSpend({ ...l, day: '2025-1-7' }, now, 'UTC'), { day: 5, month: 9 });
    assert.deepEqual(currentSpend(undefined, now, 'UTC'), { day: 0, month: 0 });
  });
});

/** Spend of the servers of `pool` up to `now`, from the fake cloud's records: every started hour, at `perHour`. */
function spent(world: World, pool: string, perHour: number, now: number): number {
  let hours = 0;
  for (const v of world.vms()) {
    if (!isPool(pool)(v.name)) continue;
    const end = v.deletedAt ?? now;
    hours += Math.max(1, Math.ceil((end - v.createdAt) / H));
  }
  return hours * perHour;
}

describe('several pools: the budget', () => {
  const POOLS = `
pools:
  - id: small
    max-agents: 5
    agent-labels: { size: small }
  - id: large
    max-agents: 5
    agent-labels: { size: large }
    timewebcloud-preset-id: [2455]
`;

  /**
   * The queue is paused (agents stay idle, the work stays pending: demand that never ends, and no server is ever
   * busy at its renewal, where running work may pass a cap), hourly billing, 8 hours of one calendar day.
   */
  async function run(text: string, user: OptionValues, check: (t: { a: AssembledPools; world: World; now: number; price: number[] }) => void): Promise<void> {
    const { clock, world } = newWorld();
    const a = await assemble(clock, world, text, { timewebcloudBilling: 'hourly', ...user });
    const price = a.pools.map((p) => p.provider.price?.()?.perHour ?? NaN);
    world.woodpecker.setPaused(true);
    for (let i = 0; i < 8; i++) {
      world.queueWorkflow({ durationMs: 10 * M, labels: { size: 'small' } });
      world.queueWorkflow({ durationMs: 10 * M, labels: { size: 'large' } });
    }
    for (let t = 0; t < 8 * 60; t++) {
      await drive(clock, a.set.tick('full'));
      check({ a, world, now: clock.now(), price });
      await clock.runFor(M);
    }
  }

  it('the flag is the cap of the whole daemon: all pools together never spend more', async (t) => {
    const { clock, world } = newWorld();
    const probe = await assemble(clock, world, POOLS);
    const [ps, pl] = probe.pools.map((p) => p.provider.price?.()?.perHour ?? NaN);
    assert.ok(ps !== undefined && pl !== undefined && pl > ps, `two prices (${String(ps)}, ${String(pl)})`);
    // Room for about 12 small server-hours in the day, far less than two pools of 5 for 8 hours.
    const cap = Math.round(12 * ps * 100) / 100;
    let most = 0;
    let both = false;
    const peak = [0, 0];
    await run(POOLS, { budgetDaily: cap }, ({ world: w, now, price }) => {
      const total = spent(w, 'small', price[0] ?? NaN, now) + spent(w, 'large', price[1] ?? NaN, now);
      assert.ok(total <= cap + 1e-9, `spent ${total.toFixed(2)} of the daemon-wide cap ${cap}`);
      most = Math.max(most, total);
      peak[0] = Math.max(peak[0] ?? 0, live(w, 'small'));
      peak[1] = Math.max(peak[1] ?? 0, live(w, 'large'));
      if (live(w, 'small') > 0 && live(w, 'large') > 0) both = true;
    });
    t.diagnostic(`cap ${cap} RUB/day, spent at most ${most.toFixed(2)}; peak servers small ${peak[0]}, large ${peak[1]}`);
    assert.ok(most >= cap - 2 * pl, `the cap is used (${most.toFixed(2)} of ${cap})`);
    assert.ok(both, 'both pools got servers');
  });

  it("a pool's own cap in the file holds beside the daemon-wide one", async () => {
    const { clock, world } = newWorld();
    const probe = await assemble(clock, world, POOLS);
    const [ps, pl] = probe.pools.map((p) => p.provider.price?.()?.perHour ?? NaN);
    assert.ok(ps !== undefined && pl !== undefined);
    const own = Math.round(4 * pl * 100) / 100;
    const cap = Math.round(30 * ps * 100) / 100;
    const text = POOLS.replace('timewebcloud-preset-id: [2455]', `timewebcloud-preset-id: [2455]\n    budget-daily: ${own}`);
    let large = 0;
    let total = 0;
    await run(text, { budgetDaily: cap }, ({ a, world: w, now, price }) => {
      large = spent(w, 'large', price[1] ?? NaN, now);
      total = large + spent(w, 'small', price[0] ?? NaN, now);
      assert.ok(large <= own + 1e-9, `the large pool spent ${large.toFixed(2)} of its own ${own}`);
      assert.ok(total <= cap + 1e-9, `all pools spent ${total.toFixed(2)} of ${cap}`);
      const b = a.set.last?.reports[1]?.plan?.summary.budget;
      assert.deepEqual(b?.pool, { daily: own });
      assert.equal(b?.daily, cap);
    });
    assert.ok(large >= own - 2 * pl, `the large pool used its cap (${large.toFixed(2)} of ${own})`);
    assert.ok(total > large + 5 * ps, 'the small pool used the rest of the daemon-wide cap');
  });
});

describe('several pools: one lease, whatever the order of the pools', () => {
  const AB = `
pools:
  - id: small
    max-agents: 3
    agent-labels: { size: small }
  - id: large
    max-agents: 3
    agent-labels: { size: large }
`;
  const BA = `
pools:
  - id: large
    max-agents: 3
    agent-labels: { size: large }
  - id: small
    max-agents: 3
    agent-labels: { size: small }
`;

  it('reordering or adding pools keeps the lease and every pool’s ownership; the second instance stands by', async () => {
    const { clock, world } = newWorld();
    const first = await assemble(clock, world, AB, {}, 9);
    const second = await assemble(clock, world, BA, {}, 10);
    const added = await assemble(clock, world, `${BA}  - id: arm\n    agent-labels: { platform: linux/arm64 }\n`, {}, 11);
    assert.equal(first.leaseId, second.leaseId);
    assert.equal(first.leaseId, added.leaseId, 'adding a pool keeps the lease');
    assert.notEqual(first.leaseId, deriveInstallationId(world.urls.woodpecker, 'small'), 'not the first pool’s');
    const inst = (x: AssembledPools): Record<string, string> =>
      Object.fromEntries(x.pools.map((p) => [p.engine.poolId, p.engine.installationId]));
    assert.deepEqual(inst(second), inst(first));
    assert.equal(inst(first).small, deriveInstallationId(world.urls.woodpecker, 'small'), 'each pool keeps its own identity');

    world.queueWorkflow({ durationMs: 60 * M, labels: { size: 'small' } });
    world.queueWorkflow({ durationMs: 60 * M, labels: { size: 'large' } });
    for (let i = 0; i < 8; i++) {
      const r1 = await drive(clock, first.set.tick('full'));
      const r2 = await drive(clock, second.set.tick('full'));
      assert.equal(r1.lease?.role, 'acting');
      assert.equal(r2.lease?.role, 'standby', 'the reordered instance shares the lease and stands by');
      assert.equal(r2.reports.flatMap((r) => r.results).length, 0);
      await clock.runFor(30 * S);
    }
    assert.deepEqual([live(world, 'small'), live(world, 'large')], [1, 1]);

    // The first instance stops; the reordered one takes over and owns every server the first one made.
    await drive(clock, first.first.lease.release());
    const r = await drive(clock, second.set.tick('full'));
    assert.equal(r.lease?.role, 'acting');
    for (const rep of r.reports) {
      assert.deepEqual(rep.plan?.foreign, [], 'nothing looks foreign');
      assert.equal(rep.plan?.summary.poolAgents, 1);
      assert.deepEqual(rep.results, [], 'no server created again, none removed');
    }
    assert.deepEqual([created(world, 'small'), created(world, 'large')], [1, 1]);
  });

  it('the pools share one Woodpecker client and one cloud API client (one rate limit each)', async () => {
    const { clock, world } = newWorld();
    const a = await assemble(clock, world, AB);
    const [x, y] = a.pools;
    assert.ok(x && y && x.provider instanceof TimewebProvider && y.provider instanceof TimewebProvider);
    assert.equal(y.woodpecker, x.woodpecker);
    assert.equal(y.provider.client, x.provider.client);
    assert.notEqual(y.provider, x.provider, 'each pool keeps its own provider (settings, markers)');
  });

  it('--installation-id names the lease (and every pool’s identity) when it is given', async () => {
    const { clock, world } = newWorld();
    const a = await assemble(clock, world, AB, { installationId: 'team-a' });
    assert.equal(a.leaseId, 'team-a');
    assert.deepEqual(a.pools.map((p) => p.engine.installationId), ['team-a', 'team-a']);
  });
});
