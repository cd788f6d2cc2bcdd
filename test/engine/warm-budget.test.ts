import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { updateLedger } from '../../src/engine/budget.js';
import { nextCapacity, warmTarget } from '../../src/engine/capacity.js';
import { emptyHistory, forecastSlots, observeArrivals, poissonQuantile } from '../../src/engine/forecast.js';
import { plan } from '../../src/engine/planner.js';
import { parseSchedule } from '../../src/engine/schedule.js';
import type { EngineConfig, EngineMemory, Policy } from '../../src/engine/types.js';
import { HOUR, MIN, NOW, SEC, agent, config, memory, n, queue, rows, server, world } from './fixtures.js';

const warm = (over: Partial<NonNullable<EngineConfig['warm']>> = {}): NonNullable<EngineConfig['warm']> => ({
  minIdleSlots: 0,
  schedules: [],
  timeZone: 'UTC',
  ...over,
});

describe('warm capacity: min-idle-slots', () => {
  const cases: {
    what: string;
    idle: number;
    agents: number;
    running: number[];
    free: number;
    pending?: number;
    policy?: Policy;
    want: string[];
  }[] = [
    { what: 'an empty pool gets agents for the idle slots', idle: 2, agents: 0, running: [], free: 0, want: ['create', 'create'] },
    { what: 'free slots already there: nothing', idle: 2, agents: 2, running: [], free: 2, want: [] },
    { what: 'one busy, one free, two wanted: one more', idle: 2, agents: 2, running: [1], free: 1, want: ['create'] },
    { what: 'pending work and idle slots add up', idle: 1, agents: 0, running: [], free: 0, pending: 2, want: ['create', 'create', 'create'] },
    { what: 'the upstream policy has no warm capacity', idle: 2, agents: 0, running: [], free: 0, policy: 'upstream', want: [] },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const agents = Array.from({ length: c.agents }, (_, i) => agent(i + 1, n(`a${i}`), { work: 20 * MIN }));
      const obs = world({ agents, running: c.running, free: c.free, pending: c.pending ?? 0 });
      const p = plan(obs, config({ policy: c.policy ?? 'default', warm: warm({ minIdleSlots: c.idle }) }), memory());
      assert.deepEqual(p.actions.map((a) => a.kind), c.want);
    });
  }

  it('a create for warm capacity says so; one for the queue says pending-work', () => {
    const idleOnly = plan(world({}), config({ warm: warm({ minIdleSlots: 1 }) }), memory());
    assert.deepEqual(rows(idleOnly.actions), [['create', '', 'warm-capacity']]);
    assert.match(idleOnly.actions[0]?.reason.message ?? '', /keeping 1 workflow slot\(s\) free/);
    const queued = plan(world({ pending: 1 }), config({ warm: warm({ minIdleSlots: 1 }) }), memory());
    assert.equal(queued.actions[0]?.reason.code, 'pending-work');
  });

  it('idle agents beyond the warm target are drained, not the ones that keep it', () => {
    const agents = [1, 2, 3].map((i) => agent(i, n(`a${i}`), { work: 20 * MIN }));
    const p = plan(world({ agents, free: 3 }), config({ warm: warm({ minIdleSlots: 2 }) }), memory());
    assert.deepEqual(p.actions.map((a) => a.kind), ['drain']);
  });

  it('max-agents still caps warm capacity', () => {
    const p = plan(world({}), config({ maxAgents: 2, warm: warm({ minIdleSlots: 5 }) }), memory());
    assert.equal(p.actions.length, 2);
  });
});

describe('warm capacity: schedules', () => {
  // NOW is Thursday 2026-01-15 12:00 UTC.
  const office = parseSchedule('* 8-18 * * mon-fri min-agents=2 min-idle-slots=1');
  const night = parseSchedule('* 0-6 * * * min-agents=0');

  it('office hours raise min-agents and idle slots', () => {
    const target = warmTarget({ ...config(), warm: warm({ schedules: [office, night] }) }, emptyHistory, NOW);
    assert.deepEqual({ minAgents: target.minAgents, idleSlots: target.idleSlots }, { minAgents: 2, idleSlots: 1 });
    assert.deepEqual(target.why, [`schedule "${office.text}"`]);
    const p = plan(world({}), config({ warm: warm({ schedules: [office] }) }), memory());
    assert.deepEqual(rows(p.actions), [
      ['create', '', 'min-agents'],
      ['create', '', 'min-agents'],
    ]);
    assert.match(p.actions[0]?.reason.message ?? '', /min-agents 2 \(set by a schedule\)/);
  });

  it('outside the schedule the configured floor applies', () => {
    const sat = NOW + 2 * 24 * HOUR; // Saturday
    const t = warmTarget({ ...config({ minAgents: 1 }), warm: warm({ schedules: [office] }) }, emptyHistory, sat);
    assert.deepEqual({ minAgents: t.minAgents, idleSlots: t.idleSlots }, { minAgents: 1, idleSlots: 0 });
  });

  it('a schedule lowering min-agents lets idle agents go', () => {
    const at3 = Date.UTC(2026, 0, 15, 3, 0, 0);
    const agents = [agent(1, n('a1'), { work: 20 * MIN, now: at3 })];
    const p = plan(world({ now: at3, agents, free: 1 }), config({ minAgents: 1, warm: warm({ schedules: [night] }) }), memory());
    assert.deepEqual(p.actions.map((a) => a.kind), ['drain']);
  });
});

describe('warm capacity: forecast', () => {
  const task = (id: string) => ({ id, labels: null, dependencies: null, run_on: null, dep_status: null, agent_id: 0 });
  const q = (ids: string[]) => ({ ...queue(), pending: ids.map(task) });

  it('the first observation is a baseline; later new task ids are arrivals; the window forgets', () => {
    let h = observeArrivals(emptyHistory, q(['1', '2']), NOW, 30 * MIN);
    assert.deepEqual(h.arrivals, [], 'what was queued at start did not arrive now');
    h = observeArrivals(h, q(['1', '2', '3', '4']), NOW + MIN, 30 * MIN);
    assert.deepEqual(h.arrivals, [NOW + MIN, NOW + MIN]);
    h = observeArrivals(h, q(['4']), NOW + 2 * MIN, 30 * MIN);
    assert.equal(h.arrivals.length, 2, 'a task leaving is no arrival');
    h = observeArrivals(h, q([]), NOW + 40 * MIN, 30 * MIN);
    assert.deepEqual(h.arrivals, []);
  });

  it('poissonQuantile: the smallest k whose cumulative probability reaches q', () => {
    const cases: Array<[lambda: number, q: number, k: number]> = [
      [0, 0.9, 0],
      [-1, 0.9, 0],
      [0.05, 0.9, 0], // P(0) = 0.951
      [0.2, 0.8, 0], // P(0) = 0.819
      [0.2, 0.9, 1], // P(≤1) = 0.982
      [0.6, 0.9, 2], // P(≤1) = 0.878 falls short
      [1, 0.9, 2], // P(≤1) = 0.736, P(≤2) = 0.920
      [1, 0.95, 3], // P(≤2) = 0.920, P(≤3) = 0.981
      [4, 0.9, 7], // P(≤6) = 0.889, P(≤7) = 0.949
    ];
    for (const [lambda, q, k] of cases) {
      assert.equal(poissonQuantile(lambda, q), k, `lambda ${lambda}, q ${q}`);
    }
    const big = poissonQuantile(5000, 0.9);
    assert.ok(big > 5000 + 1.2 * Math.sqrt(5000) && big < 5000 + 1.4 * Math.sqrt(5000), `large rates: normal-like (${big})`);
    assert.equal(poissonQuantile(3, 1), Math.ceil(3 + 40 * Math.sqrt(3) + 40), 'q = 1 ends at the bound');
  });

  it('slots cover the arrivals of one boot time in q of the cases, capped; no arrivals, no slots', () => {
    const h = { seen: [], primed: true, arrivals: Array.from({ length: 30 }, (_, i) => NOW - i * MIN) };
    assert.equal(forecastSlots(h, NOW, 30 * MIN, 2 * MIN, 100, 0.9), 4, '1 per minute × 2 min = 2 expected; 4 cover 90 %');
    assert.equal(forecastSlots(h, NOW, 30 * MIN, 2 * MIN, 1, 0.9), 1, 'capped');
    const quiet = { seen: [], primed: true, arrivals: [NOW - MIN] };
    assert.equal(forecastSlots(quiet, NOW, 30 * MIN, 2 * MIN, 100, 0.9), 0, 'one arrival in 30 min: 0.07 expected, none kept');
    const steady = { seen: [], primed: true, arrivals: [NOW - MIN, NOW - 11 * MIN, NOW - 21 * MIN] };
    assert.equal(forecastSlots(steady, NOW, 30 * MIN, 2 * MIN, 100, 0.9), 1, 'six an hour: one slot');
    const old = { seen: [], primed: true, arrivals: [NOW - 31 * MIN, NOW - 40 * MIN] };
    assert.equal(forecastSlots(old, NOW, 30 * MIN, 2 * MIN, 100, 0.9), 0, 'outside the window');
  });

  it('the planner keeps the forecast slots warm and says why', () => {
    const arrivals = Array.from({ length: 30 }, (_, i) => NOW - i * MIN);
    const mem: EngineMemory = memory({ capacity: { arrivals: { seen: [], primed: true, arrivals } } });
    const cfg = config({ warm: warm({ forecast: { windowMs: 30 * MIN, horizonMs: 2 * MIN } }) });
    const p = plan(world({}), cfg, mem);
    // 1 a minute × 2 min = 2 expected; 4 slots cover 9 boot times in 10: 4 agents of one slot each.
    assert.deepEqual(rows(p.actions), Array.from({ length: 4 }, () => ['create', '', 'warm-capacity']));
    assert.match(p.actions[0]?.reason.message ?? '', /forecast: 4 slot\(s\) cover the arrivals of one boot time 9 times in 10/);
  });
});

describe('budget', () => {
  const budget = { daily: 10, timeZone: 'UTC', perHour: 2, currency: 'RUB' };
  const ledger = (spentDay: number) => ({ day: '2026-1-15', month: '2026-1', spentDay, spentMonth: spentDay, paidUntil: {} });

  it('creates stop where one more hour of every running server plus the new one would pass the cap', () => {
    const agents = [agent(1, n('a1'))];
    const obs = world({ agents, running: [1], pending: 6 });
    const cfg = config({ budget });
    const free = plan(obs, cfg, memory()).actions.filter((a) => a.kind === 'create').length;
    assert.equal(free, 2, '10 / 2 = 5 hours: one reserved for the running server, two per new server');
    const p = plan(obs, cfg, memory({ capacity: { arrivals: emptyHistory, ledger: ledger(4) } }));
    assert.equal(p.actions.filter((a) => a.kind === 'create').length, 1);
    assert.ok(p.notes.some((x) => /create limited to 1 of \d by the daily budget: 4\.00 RUB of 10\.00 RUB spent/.test(x)), p.notes.join('\n'));
    assert.deepEqual(p.summary.budget, { currency: 'RUB', spentDay: 4, spentMonth: 4, daily: 10, room: 1, exhausted: false });
  });

  it('an exhausted budget keeps nothing warm and lets min-agents go; a busy agent takes no new work, its running work is never cut', () => {
    const agents = [agent(1, n('idle'), { work: 20 * MIN }), agent(2, n('busy'))];
    const obs = world({ agents, running: [2], free: 1 });
    const cfg = config({ minAgents: 2, budget, warm: warm({ minIdleSlots: 2 }) });
    const p = plan(obs, cfg, memory({ capacity: { arrivals: emptyHistory, ledger: ledger(9) } }));
    // The idle one first; the busy one is drained too (a busy agent that kept taking queued work would renew past the
    // cap hour after hour), and nothing of it is removed while it runs its workflow.
    assert.deepEqual(rows(p.actions), [
      ['drain', n('idle'), 'budget'],
      ['drain', n('busy'), 'budget'],
    ]);
    assert.match(p.actions[1]?.reason.message ?? '', /finishes its 1 running workflow\(s\) first/);
    assert.equal(p.summary.budget?.exhausted, true);
  });

  it('hourly billing: the budget drains a busy agent only in the teardown window before its next paid hour', () => {
    const cfg = config({ billingModel: 'hourly', budget });
    const mem = memory({ capacity: { arrivals: emptyHistory, ledger: ledger(9) } });
    const drains = (ageMin: number): ReturnType<typeof rows> =>
      rows(plan(world({ agents: [agent(1, n('busy'), { created: ageMin * MIN })], running: [1] }), cfg, mem).actions);
    assert.deepEqual(drains(30), [], 'mid-hour: the paid hour is used');
    assert.deepEqual(drains(58), [['drain', n('busy'), 'budget']]);
  });

  it('the upstream policy obeys the budget too', () => {
    const p = plan(world({ pending: 3 }), config({ policy: 'upstream', budget }), memory({ capacity: { arrivals: emptyHistory, ledger: ledger(6) } }));
    assert.equal(p.actions.filter((a) => a.kind === 'create').length, 1);
  });

  it('the ledger follows the servers after the tick (a server created now is charged now)', () => {
    const before = world({ agents: [] });
    const after = { ...before, servers: [server(n('new'), { age: 0 })] };
    const mem = nextCapacity({ arrivals: emptyHistory }, before, after, { billingModel: 'hourly', budget });
    assert.equal(mem.ledger?.spentDay, 2);
    const later = nextCapacity(mem, before, { ...after, now: NOW + 61 * MIN }, { billingModel: 'hourly', budget });
    assert.equal(later.ledger?.spentDay, 4);
    assert.deepEqual(updateLedger(undefined, [], NOW, 'hourly', budget).paidUntil, {});
  });

  it('never spends above the cap over a simulated day of steady demand (hourly billing)', () => {
    const cfg = config({ budget, billingModel: 'hourly', maxAgents: 5 });
    let mem = memory();
    let servers: ReturnType<typeof server>[] = [];
    let agents: ReturnType<typeof agent>[] = [];
    for (let t = 0; t < 24 * 60; t += 1) {
      const now = NOW + t * MIN;
      const obs = { ...world({ now, agents, pending: 3 }), servers };
      const p = plan(obs, cfg, mem);
      for (const a of p.actions) {
        if (a.kind === 'drain') agents = agents.map((x) => (x.name === a.agent.name ? { ...x, no_schedule: true } : x));
        if (a.kind === 'remove-agent') {
          agents = agents.filter((x) => x.name !== a.agent.name);
          servers = servers.filter((x) => x.name !== a.agent.name);
        }
      }
      const made = p.actions.filter((a) => a.kind === 'create').length;
      for (let i = 0; i < made; i++) {
        const name = n(`s${t}x${i}`);
        servers = [...servers, { ...server(name, { age: 0, now }) }];
        agents = [...agents, agent(agents.length + 1, name, { now, created: 0, contact: SEC })];
      }
      mem = { ...mem, capacity: nextCapacity(mem.capacity, obs, { ...obs, servers }, cfg) };
      assert.ok((mem.capacity.ledger?.spentDay ?? 0) <= budget.daily + 1e-9, `minute ${t}: spent ${mem.capacity.ledger?.spentDay}`);
    }
    assert.ok((mem.capacity.ledger?.spentDay ?? 0) > 0);
  });
});
