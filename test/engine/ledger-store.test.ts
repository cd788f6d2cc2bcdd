import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { updateLedger, type Ledger } from '../../src/engine/budget.js';
import {
  LEDGER_SAVE_INTERVAL_MS,
  fileLedgerStore,
  keepLedger,
  ledgerWorthSaving,
  loadLedger,
  memoryLedgerStore,
  writeFileAtomic,
} from '../../src/engine/ledger-store.js';
import { ledgerStoreFor } from '../../src/cli/run.js';
import { parsePoolsFile } from '../../src/config/pools-file.js';
import type { OptionValues } from '../../src/config/types.js';
import { assemblePools } from '../../src/pools.js';
import { assembleEngine } from '../../src/assemble.js';
import { sandboxCore, sandboxValues } from '../../src/sandbox/engine.js';
import { DEFAULT_SIM_START, VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld } from '../../src/sandbox/world.js';
import { seededRandom } from '../../src/util/clock.js';
import { captureLogger } from '../timeweb/helpers.js';

const HOUR = 3_600_000;
const MIN = 60_000;
/** Thursday 2026-01-15 10:00 UTC. */
const NOW = Date.UTC(2026, 0, 15, 10, 0, 0);
const settings = { perHour: 2, timeZone: 'UTC' };

const ledger = (over: Partial<Ledger> = {}): Ledger => ({
  day: '2026-1-15',
  month: '2026-1',
  spentDay: 6,
  spentMonth: 40,
  paidUntil: { 'pool-1-agent-a': NOW + 20 * MIN },
  ...over,
});

function scratch(): { dir: string; file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'twcloud-ledger-'));
  return { dir, file: join(dir, 'state.json'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('the file ledger store (--state-file)', () => {
  it('no file yet: a fresh ledger, no warning; a save is read back by the next process', () => {
    const s = scratch();
    try {
      const log = captureLogger();
      const first = fileLedgerStore(s.file, log.logger);
      assert.deepEqual(first.load(), {});
      assert.doesNotMatch(log.text(), /"level":40/);
      assert.equal(first.save('small', ledger()), true);
      assert.equal(first.save('large', ledger({ spentDay: 1 })), true);
      const next = fileLedgerStore(s.file, captureLogger().logger);
      assert.deepEqual(next.load(), { small: ledger(), large: ledger({ spentDay: 1 }) });
      assert.deepEqual(readdirSync(s.dir), ['state.json'], 'no temporary file left behind');
    } finally {
      s.done();
    }
  });

  const broken: { what: string; make: (file: string) => void; warning: RegExp }[] = [
    { what: 'not JSON', make: (f) => writeFileSync(f, '{"version":1,"ledgers":{"1":{"day"'), warning: /is corrupt/ },
    { what: 'another format', make: (f) => writeFileSync(f, '{"spent": 3}'), warning: /is corrupt \(not a version 1 state file\)/ },
    {
      what: 'a malformed ledger',
      make: (f) => writeFileSync(f, JSON.stringify({ version: 1, ledgers: { 1: { ...ledger(), spentDay: -5 } } })),
      warning: /is corrupt \(the ledger of pool \\"1\\" is malformed\)/,
    },
    { what: 'unreadable (a directory)', make: (f) => mkdirSync(f), warning: /cannot be read/ },
  ];
  for (const c of broken) {
    it(`${c.what}: a warning and a fresh ledger, never a crash`, () => {
      const s = scratch();
      try {
        c.make(s.file);
        const log = captureLogger();
        const store = fileLedgerStore(s.file, log.logger);
        assert.deepEqual(store.load(), {});
        assert.match(log.text(), c.warning);
        assert.match(log.text(), /the budget starts a fresh ledger/);
      } finally {
        s.done();
      }
    });
  }

  it('a corrupt file is replaced by the next save', () => {
    const s = scratch();
    try {
      writeFileSync(s.file, 'garbage');
      const store = fileLedgerStore(s.file, captureLogger().logger);
      assert.equal(store.save('1', ledger()), true);
      assert.deepEqual(fileLedgerStore(s.file, captureLogger().logger).load(), { 1: ledger() });
    } finally {
      s.done();
    }
  });

  it('a failed write is one warning per failing stretch, returns false and leaves the last good file whole', () => {
    const s = scratch();
    try {
      const log = captureLogger();
      let fail = false;
      const store = fileLedgerStore(s.file, log.logger, {
        write: (p, t) => {
          if (fail) throw new Error('ENOSPC: no space left on device');
          writeFileAtomic(p, t);
        },
      });
      assert.equal(store.save('1', ledger()), true);
      fail = true;
      assert.equal(store.save('1', ledger({ spentDay: 8 })), false);
      assert.equal(store.save('1', ledger({ spentDay: 9 })), false);
      assert.equal(log.text().match(/cannot be written/g)?.length, 1);
      assert.deepEqual(fileLedgerStore(s.file, captureLogger().logger).load(), { 1: ledger() });
      fail = false;
      assert.equal(store.save('1', ledger({ spentDay: 9 })), true);
      assert.match(log.text(), /written again/);
    } finally {
      s.done();
    }
  });

  it('writes atomically: a temporary file renamed over the old one; a failed rename leaves the old file and no temporary one', () => {
    const s = scratch();
    try {
      writeFileAtomic(s.file, 'one');
      writeFileAtomic(s.file, 'two');
      assert.equal(readFileSync(s.file, 'utf8'), 'two');
      const target = join(s.dir, 'a-directory');
      mkdirSync(join(target, 'inside'), { recursive: true });
      assert.throws(() => writeFileAtomic(target, 'three'));
      assert.deepEqual(readdirSync(s.dir).sort(), ['a-directory', 'state.json']);
    } finally {
      s.done();
    }
  });
});

describe('a ledger loaded after a restart', () => {
  const cases: { what: string; now: number; want: Pick<Ledger, 'day' | 'month' | 'spentDay' | 'spentMonth'> }[] = [
    { what: 'the same day: kept', now: NOW + HOUR, want: { day: '2026-1-15', month: '2026-1', spentDay: 6, spentMonth: 40 } },
    { what: 'the next day: the day starts at 0', now: NOW + 20 * HOUR, want: { day: '2026-1-16', month: '2026-1', spentDay: 0, spentMonth: 40 } },
    { what: 'the next month: both start at 0', now: Date.UTC(2026, 1, 1, 1), want: { day: '2026-2-1', month: '2026-2', spentDay: 0, spentMonth: 0 } },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const store = memoryLedgerStore();
      store.save('1', ledger());
      const loaded = loadLedger(store, '1', c.now, 'UTC');
      assert.deepEqual(loaded, { ...c.want, paidUntil: ledger().paidUntil });
      assert.equal(loadLedger(store, 'other-pool', c.now, 'UTC'), undefined);
    });
  }

  it('a server whose current hour was charged before the restart is not charged again; one gone keeps its spend', () => {
    const created = NOW - 40 * MIN;
    const servers = [
      { name: 'a', createdAt: created },
      { name: 'b', createdAt: created },
    ];
    const before = updateLedger(undefined, servers, NOW - 30 * MIN, 'hourly', settings);
    assert.equal(before.spentDay, 4);
    const store = memoryLedgerStore();
    store.save('1', before);
    // Restarted 10 minutes later: `b` was deleted meanwhile; `a` is still within its paid hour.
    const after = updateLedger(loadLedger(store, '1', NOW - 20 * MIN, 'UTC'), [servers[0] ?? { name: 'a', createdAt: created }], NOW - 20 * MIN, 'hourly', settings);
    assert.equal(after.spentDay, 4, 'nothing charged twice, nothing forgotten');
    // Without the store, the same restart forgets b's hour.
    assert.equal(updateLedger(undefined, [{ name: 'a', createdAt: created }], NOW - 20 * MIN, 'hourly', settings).spentDay, 2);
  });
});

describe('when the ledger is saved', () => {
  const base = ledger();
  const cases: { what: string; next: Ledger; sinceMs: number; want: boolean }[] = [
    { what: 'unchanged', next: { ...base }, sinceMs: 10 * HOUR, want: false },
    { what: 'a server gone', next: { ...base, paidUntil: {} }, sinceMs: 1000, want: true },
    { what: 'a new server', next: { ...base, spentDay: 8, paidUntil: { ...base.paidUntil, b: NOW + HOUR } }, sinceMs: 1000, want: true },
    { what: 'a new day', next: { ...base, day: '2026-1-16', spentDay: 0 }, sinceMs: 1000, want: true },
    { what: 'spend only, soon after the last save', next: { ...base, spentDay: 6.1 }, sinceMs: 1000, want: false },
    { what: 'spend only, a while after', next: { ...base, spentDay: 6.1 }, sinceMs: LEDGER_SAVE_INTERVAL_MS, want: true },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.want ? 'saved' : 'not saved'}`, () => {
      assert.equal(ledgerWorthSaving(base, c.next, NOW, NOW + c.sinceMs), c.want);
    });
  }

  it('after the ticks that change it, not every tick', () => {
    const saves: Ledger[] = [];
    const store = { load: () => ({}), save: (_: string, l: Ledger) => saves.push(l) > 0 };
    const listeners: ((r: { memory: { capacity: { ledger?: Ledger } } }) => void)[] = [];
    let now = NOW;
    keepLedger({ onTick: (l) => listeners.push(l) }, store, '1', { now: () => now, sleep: () => Promise.resolve() }, undefined);
    const tick = (l?: Ledger): void => {
      now += 10_000;
      for (const f of listeners) f({ memory: { capacity: l ? { ledger: l } : {} } });
    };
    tick();
    tick(base);
    tick({ ...base });
    tick({ ...base });
    tick({ ...base, paidUntil: {} });
    assert.deepEqual(saves, [base, { ...base, paidUntil: {} }]);
  });
});

describe('the daemon without --state-file', () => {
  const core = { budgetDaily: undefined, budgetMonthly: undefined, stateFile: undefined };
  it('a budget gets a start-up warning that a restart forgets the spend so far', () => {
    const log = captureLogger();
    assert.equal(ledgerStoreFor([{ ...core, budgetDaily: 100 }], log.logger), undefined);
    assert.match(log.text(), /a budget is set without --state-file \(WOODPECKER_STATE_FILE\).*a restart forgets the spend so far/);
  });
  it('no budget, no warning; a pool with its own cap counts', () => {
    const quiet = captureLogger();
    ledgerStoreFor([core], quiet.logger);
    assert.equal(quiet.lines.length, 0);
    const pools = captureLogger();
    ledgerStoreFor([core, { ...core, poolBudget: { monthly: 900 } }], pools.logger);
    assert.match(pools.text(), /without --state-file/);
  });
  it('with --state-file: the file store, no warning', () => {
    const log = captureLogger();
    assert.ok(ledgerStoreFor([{ ...core, budgetDaily: 100, stateFile: join(tmpdir(), 'twcloud-never-written.json') }], log.logger));
    assert.equal(log.lines.length, 0);
  });
});

describe('assembly: the engine takes its ledger from the store', () => {
  const run = async (values: OptionValues, dryRun = false): Promise<{ initial: Ledger | undefined; saved: Ledger | undefined }> => {
    const clock = new VirtualClock();
    const world = createWorld({ scheduler: clock, random: seededRandom(3), grpcAddr: 'woodpecker-server:9000', track: (p) => clock.track(p) });
    const store = memoryLedgerStore();
    const before: Ledger = { day: '2025-1-6', month: '2025-1', spentDay: 6, spentMonth: 6, paidUntil: { 'pool-1-agent-gone': clock.now() } };
    store.save('1', before);
    try {
      const all = sandboxValues(world, { minAgents: 0, maxAgents: 2, forecast: false, ...values });
      // The sandbox never dry-runs; the daemon's --dry-run is a core setting.
      const a = await assembleEngine({
        core: { ...sandboxCore(all), dryRun },
        values: all,
        clock,
        fetch: world.fetch,
        random: seededRandom(4),
        logger: captureLogger().logger,
        ledgerStore: store,
      });
      const initial = a.reconciler.state.capacity.ledger;
      await a.reconciler.tick('full');
      return { initial, saved: store.load()['1'] };
    } finally {
      await world.close();
    }
  };

  it('a restarted engine starts from the saved spend and saves the ledger when its servers change', async () => {
    const { initial, saved } = await run({ budgetDaily: 50 });
    assert.equal(initial?.spentDay, 6);
    assert.deepEqual(saved && { spentDay: saved.spentDay, paidUntil: saved.paidUntil }, { spentDay: 6, paidUntil: {} });
  });

  it('a dry run reads the ledger but never saves over it; without a budget there is no ledger', async () => {
    const dry = await run({ budgetDaily: 50 }, true);
    assert.equal(dry.initial?.spentDay, 6);
    assert.deepEqual(dry.saved?.paidUntil, { 'pool-1-agent-gone': DEFAULT_SIM_START });
    const none = await run({});
    assert.equal(none.initial, undefined);
  });
});

describe('several pools: one store, each pool its own ledger by pool id', () => {
  it('every pool starts from its own saved ledger and saves it under its id', async () => {
    const clock = new VirtualClock();
    const world = createWorld({ scheduler: clock, random: seededRandom(5), grpcAddr: 'woodpecker-server:9000', track: (p) => clock.track(p) });
    const store = memoryLedgerStore();
    const saved = (spentDay: number): Ledger => ({ day: '2025-1-6', month: '2025-1', spentDay, spentMonth: spentDay, paidUntil: {} });
    store.save('small', saved(3));
    store.save('large', saved(5));
    try {
      const values = sandboxValues(world, { minAgents: 0, forecast: false, budgetDaily: 50 });
      const yaml = 'pools:\n  - id: large\n    agent-labels: size=large\n  - id: small\n    agent-labels: size=small\n';
      const a = await assemblePools({
        pools: parsePoolsFile(yaml, 'pools.yaml', values),
        clock,
        fetch: world.fetch,
        random: seededRandom(6),
        logger: captureLogger().logger,
        ledgerStore: store,
      });
      assert.deepEqual(
        a.pools.map((p) => [p.engine.poolId, p.reconciler.state.capacity.ledger?.spentDay]),
        [
          ['large', 5],
          ['small', 3],
        ],
      );
      world.queueWorkflow({ durationMs: 600_000, labels: { size: 'small' } });
      await a.set.tick('full');
      const after = store.load();
      assert.equal(after.large?.spentDay, 5, 'nothing created for large: unchanged');
      assert.ok((after.small?.spentDay ?? 0) > 3, 'small created a server: its hour is added to what it had spent');
      await a.first.lease.release();
    } finally {
      await world.close();
    }
  });
});
