import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { budgetRoom, paidUntil, updateLedger, type BudgetSettings } from '../../src/engine/budget.js';
import {
  ScheduleError,
  localTime,
  parseSchedule,
  scheduledSettings,
  validTimeZone,
} from '../../src/engine/schedule.js';

const H = 3_600_000;
const M = 60_000;
/** Monday 2025-01-06 00:00 UTC */
const MON = Date.UTC(2025, 0, 6, 0, 0, 0);

describe('schedules', () => {
  const office = parseSchedule('* 8-18 * * mon-fri min-agents=2 min-idle-slots=4');
  const cases: { what: string; at: number; tz?: string; want: { minAgents?: number; minIdleSlots?: number } }[] = [
    { what: 'Monday 08:00 UTC is in', at: MON + 8 * H, want: { minAgents: 2, minIdleSlots: 4 } },
    { what: 'Monday 18:59 is in (hour 18 covers the whole hour)', at: MON + 18 * H + 59 * M, want: { minAgents: 2, minIdleSlots: 4 } },
    { what: 'Monday 19:00 is out', at: MON + 19 * H, want: {} },
    { what: 'Monday 07:59 is out', at: MON + 8 * H - M, want: {} },
    { what: 'Saturday 10:00 is out', at: MON + 5 * 24 * H + 10 * H, want: {} },
    { what: 'Friday 10:00 is in', at: MON + 4 * 24 * H + 10 * H, want: { minAgents: 2, minIdleSlots: 4 } },
    { what: 'the time zone moves the window: 05:00 UTC is 08:00 in Moscow', at: MON + 5 * H, tz: 'Europe/Moscow', want: { minAgents: 2, minIdleSlots: 4 } },
    { what: '16:00 UTC is 19:00 in Moscow: out', at: MON + 16 * H, tz: 'Europe/Moscow', want: {} },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const got = scheduledSettings([office], c.at, c.tz ?? 'UTC');
      assert.deepEqual({ minAgents: got.minAgents, minIdleSlots: got.minIdleSlots }, { minAgents: undefined, minIdleSlots: undefined, ...c.want });
    });
  }

  it('the last matching schedule wins, per setting (a holiday overrides the office hours)', () => {
    const holiday = parseSchedule('* * 6 1 * min-agents=0');
    const got = scheduledSettings([office, holiday], MON + 10 * H, 'UTC');
    assert.equal(got.minAgents, 0);
    assert.equal(got.minIdleSlots, 4, 'a setting the later schedule does not name stays');
    assert.deepEqual(got.active, [office.text, holiday.text]);
  });

  it('lists, steps, names and 7 for Sunday', () => {
    const s = parseSchedule('0-29/15 9,12 * jan-mar sun,7 min-idle-slots=1');
    const sunday = MON - 24 * H; // Sunday 2025-01-05
    assert.equal(scheduledSettings([s], sunday + 9 * H + 15 * M, 'UTC').minIdleSlots, 1);
    assert.equal(scheduledSettings([s], sunday + 9 * H + 16 * M, 'UTC').minIdleSlots, undefined);
    assert.equal(scheduledSettings([s], sunday + 10 * H, 'UTC').minIdleSlots, undefined);
  });

  it('day of month OR day of week when both are restricted (cron)', () => {
    const s = parseSchedule('* * 1 * mon min-agents=1');
    assert.equal(scheduledSettings([s], MON + H, 'UTC').minAgents, 1, 'a Monday');
    assert.equal(scheduledSettings([s], Date.UTC(2025, 1, 1, 1), 'UTC').minAgents, 1, 'the 1st (a Saturday)');
    assert.equal(scheduledSettings([s], MON + 24 * H, 'UTC').minAgents, undefined, 'a Tuesday the 7th');
  });

  const bad: [string, RegExp][] = [
    ['* 8-18 * * mon-fri', /5 cron range fields .* at least one setting/],
    ['* 25 * * * min-agents=1', /hour: 25 is outside 0–23/],
    ['* 18-8 * * * min-agents=1', /runs backwards/],
    ['* * * * funday min-agents=1', /day of week: "funday" is not a number or a name/],
    ['* * * * * max-agents=3', /sets min-agents or min-idle-slots/],
    ['* * * * * min-agents=-1', /whole number/],
    ['*/0 * * * * min-agents=1', /bad step/],
  ];
  for (const [text, re] of bad) {
    it(`rejects "${text}"`, () => assert.throws(() => parseSchedule(text), (e: unknown) => e instanceof ScheduleError && re.test(e.message)));
  }

  it('knows IANA time zones and local wall time', () => {
    assert.ok(validTimeZone('Europe/Moscow'));
    assert.ok(validTimeZone('UTC'));
    assert.ok(!validTimeZone('Mars/Olympus'));
    assert.deepEqual(localTime(MON, 'Asia/Yekaterinburg'), { minute: 0, hour: 5, day: 6, month: 1, year: 2025, weekday: 1 });
  });
});

describe('budget ledger', () => {
  const price: Pick<BudgetSettings, 'perHour' | 'timeZone'> = { perHour: 2, timeZone: 'UTC' };

  it('hourly billing charges every started hour once', () => {
    const s = { name: 'a', createdAt: MON + 10 * M };
    let l = updateLedger(undefined, [s], MON + 10 * M, 'hourly', price);
    assert.equal(l.spentDay, 2, 'the first hour at creation');
    l = updateLedger(l, [s], MON + 69 * M, 'hourly', price);
    assert.equal(l.spentDay, 2, 'still in the first hour');
    l = updateLedger(l, [s], MON + 71 * M, 'hourly', price);
    assert.equal(l.spentDay, 4, 'the second hour started');
    l = updateLedger(l, [], MON + 90 * M, 'hourly', price);
    assert.equal(l.spentDay, 4, 'a removed server costs nothing more');
    assert.deepEqual(l.paidUntil, {});
  });

  it('per-second billing charges the time observed', () => {
    const s = { name: 'a', createdAt: MON };
    let l = updateLedger(undefined, [s], MON, 'per-second', price);
    l = updateLedger(l, [s], MON + 30 * M, 'per-second', price);
    assert.equal(l.spentDay, 1);
  });

  it('a new day and a new month start from zero; the month keeps the day spend', () => {
    const s = { name: 'a', createdAt: Date.UTC(2025, 0, 31, 23, 30) };
    let l = updateLedger(undefined, [s], s.createdAt, 'hourly', price);
    assert.equal(l.spentDay, 2);
    l = updateLedger(l, [s], Date.UTC(2025, 1, 1, 0, 31), 'hourly', price);
    assert.equal(l.spentDay, 2, 'the second hour belongs to Feb 1');
    assert.equal(l.spentMonth, 2, 'a new month');
    assert.equal(l.month, '2025-2');
  });

  it('the calendar is the budget time zone', () => {
    const s = { name: 'a', createdAt: MON + 20 * H + 30 * M }; // 23:30 in Moscow
    let l = updateLedger(undefined, [s], s.createdAt, 'hourly', { ...price, timeZone: 'Europe/Moscow' });
    l = updateLedger(l, [s], MON + 21 * H + 31 * M, 'hourly', { ...price, timeZone: 'Europe/Moscow' });
    assert.equal(l.day, '2025-1-7');
    assert.equal(l.spentDay, 2);
  });

  it('after a restart a server is charged from its current paid hour only', () => {
    const l = updateLedger(undefined, [{ name: 'old', createdAt: MON }], MON + 5 * H + 10 * M, 'hourly', price);
    assert.equal(l.spentDay, 2);
  });

  it('paidUntil', () => {
    assert.equal(paidUntil(MON, MON, 'hourly'), MON + H);
    assert.equal(paidUntil(MON, MON + H, 'hourly'), MON + H);
    assert.equal(paidUntil(MON, MON + H + 1, 'hourly'), MON + 2 * H);
    assert.equal(paidUntil(MON, MON + 5, 'per-second'), MON + 5);
  });
});

describe('budget room', () => {
  const settings: BudgetSettings = { daily: 10, timeZone: 'UTC', perHour: 2, currency: 'RUB' };
  const ledger = (spentDay: number, spentMonth = spentDay) => ({ day: 'd', month: 'm', spentDay, spentMonth, paidUntil: {} });
  const cases: {
    what: string;
    spent: number;
    running: number;
    s?: Partial<BudgetSettings>;
    creates: number;
    affordable: number;
    exhausted: boolean;
  }[] = [
    { what: 'no caps: unlimited', spent: 100, running: 3, s: { daily: undefined }, creates: Infinity, affordable: Infinity, exhausted: false },
    { what: 'empty day: five hours fit, a new server takes two (first + next)', spent: 0, running: 0, creates: 2, affordable: 5, exhausted: false },
    { what: 'running servers reserve their next hour', spent: 2, running: 2, creates: 1, affordable: 4, exhausted: false },
    { what: 'exactly covered: no create, not exhausted', spent: 6, running: 2, creates: 0, affordable: 2, exhausted: false },
    { what: 'the next hour of the running ones does not fit: exhausted', spent: 8, running: 2, creates: 0, affordable: 1, exhausted: true },
    { what: 'the tighter cap wins (monthly)', spent: 0, running: 0, s: { monthly: 4 }, creates: 1, affordable: 2, exhausted: false },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const r = budgetRoom(ledger(c.spent), c.running, { ...settings, ...c.s });
      assert.deepEqual({ creates: r.creates, affordable: r.affordable, exhausted: r.exhausted }, { creates: c.creates, affordable: c.affordable, exhausted: c.exhausted });
      if (c.creates !== Infinity) assert.match(r.why ?? '', /budget: .* RUB/);
    });
  }
});
