import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { errorMessage, isRecord } from '../util/guards.js';
import type { Clock } from '../util/clock.js';
import { ledgerAt, type Ledger } from './budget.js';

/**
 * Where the budget's ledger survives a restart. The engine keeps the ledger in memory between ticks; the assembly
 * loads it from a store when the process starts and saves it after the ticks that change it, so spend earlier that
 * day (servers already deleted, hours already paid) still counts after a restart, and a server whose current hour
 * was charged before is not charged again (`paidUntil`). One store holds every pool's ledger, by pool id.
 *
 * The daemon's store is a JSON file (`--state-file`), written atomically (a temporary file, then a rename); an
 * unreadable or corrupt file is a warning and a fresh ledger, a failed write a warning: the daemon never stops for it.
 */
export interface LedgerStore {
  /** Every pool's ledger as last saved, by pool id (empty: none yet, or unreadable). */
  load(): Record<string, Ledger>;
  /** Saves one pool's ledger (the other pools' as they are); false when it could not be saved (warned). */
  save(poolId: string, ledger: Ledger): boolean;
}

const FORMAT_VERSION = 1;

function isLedger(v: unknown): v is Ledger {
  if (!isRecord(v)) return false;
  const money = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (typeof v.day !== 'string' || typeof v.month !== 'string' || !money(v.spentDay) || !money(v.spentMonth)) return false;
  const paid = v.paidUntil;
  return isRecord(paid) && Object.values(paid).every((t) => typeof t === 'number' && Number.isFinite(t));
}

/** The ledgers in a state file's text; throws a message for what is wrong with it. */
export function parseLedgers(text: string): Record<string, Ledger> {
  const doc: unknown = JSON.parse(text);
  if (!isRecord(doc) || doc.version !== FORMAT_VERSION || !isRecord(doc.ledgers)) {
    throw new Error(`not a version ${FORMAT_VERSION} state file`);
  }
  const out: Record<string, Ledger> = {};
  for (const [pool, ledger] of Object.entries(doc.ledgers)) {
    if (!isLedger(ledger)) throw new Error(`the ledger of pool ${JSON.stringify(pool)} is malformed`);
    out[pool] = ledger;
  }
  return out;
}

/** In memory: survives what the caller keeps (the chaos harness keeps it across its simulated process restarts). */
export function memoryLedgerStore(): LedgerStore & { text(): string } {
  let text = '';
  const load = (): Record<string, Ledger> => (text === '' ? {} : parseLedgers(text));
  return {
    load,
    save(poolId, ledger) {
      // Serialized like the file, so nothing shares objects with the engine that saved it.
      text = JSON.stringify({ version: FORMAT_VERSION, ledgers: { ...load(), [poolId]: ledger } });
      return true;
    },
    text: () => text,
  };
}

/** Writes `text` to `path` atomically: a temporary file beside it, flushed, then renamed over it. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The daemon's store: the JSON file `path` (see the module comment). */
export function fileLedgerStore(path: string, logger: Logger, io: { write?: (path: string, text: string) => void } = {}): LedgerStore {
  const write = io.write ?? writeFileAtomic;
  let ledgers: Record<string, Ledger> | undefined;
  let failing = false;
  const read = (): Record<string, Ledger> => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (isRecord(e) && e.code === 'ENOENT') {
        logger.info({ stateFile: path }, 'no state file yet: the budget starts a fresh ledger');
      } else {
        logger.warn({ stateFile: path, err: errorMessage(e) }, `state file ${path} cannot be read: the budget starts a fresh ledger`);
      }
      return {};
    }
    try {
      return parseLedgers(text);
    } catch (e) {
      logger.warn(
        { stateFile: path, err: errorMessage(e) },
        `state file ${path} is corrupt (${errorMessage(e)}): the budget starts a fresh ledger, and the file is replaced at the next save`,
      );
      return {};
    }
  };
  return {
    load() {
      ledgers ??= read();
      return { ...ledgers };
    },
    save(poolId, ledger) {
      ledgers = { ...(ledgers ?? read()), [poolId]: ledger };
      try {
        write(path, `${JSON.stringify({ version: FORMAT_VERSION, ledgers }, null, 1)}\n`);
        if (failing) logger.info({ stateFile: path }, `state file ${path} written again`);
        failing = false;
        return true;
      } catch (e) {
        // Once per failing stretch, not every tick; it is retried after the next tick that changes the ledger.
        if (!failing) {
          logger.warn(
            { stateFile: path, err: errorMessage(e) },
            `state file ${path} cannot be written: the budget's spend survives no restart until it can`,
          );
        }
        failing = true;
        return false;
      }
    },
  };
}

/** A ledger that changes only by spend (same servers, same period) is saved at most this often. */
export const LEDGER_SAVE_INTERVAL_MS = 60_000;

/**
 * Should `next` be saved over `saved` (saved at `savedAt`)? At once when the servers or the period change (a server
 * gone takes its spend out of sight of the next process); a change of spend alone at most every
 * LEDGER_SAVE_INTERVAL_MS (per-second billing changes it every tick; a server still listed is charged from its saved
 * `paidUntil` after a restart, so nothing is lost meanwhile); never when nothing changed.
 */
export function ledgerWorthSaving(saved: Ledger | undefined, next: Ledger, savedAt: number, now: number): boolean {
  if (!saved) return true;
  if (saved.day !== next.day || saved.month !== next.month) return true;
  const a = Object.keys(saved.paidUntil);
  const b = Object.keys(next.paidUntil);
  if (a.length !== b.length || b.some((k) => !(k in saved.paidUntil))) return true;
  const same =
    saved.spentDay === next.spentDay && saved.spentMonth === next.spentMonth && b.every((k) => saved.paidUntil[k] === next.paidUntil[k]);
  return !same && now - savedAt >= LEDGER_SAVE_INTERVAL_MS;
}

/** The ledger a pool starts with: the store's, as of now (ended periods reset), or none. */
export function loadLedger(store: LedgerStore, poolId: string, now: number, timeZone: string): Ledger | undefined {
  const saved = store.load()[poolId];
  return saved ? ledgerAt(saved, now, timeZone) : undefined;
}

/** Saves a pool's ledger after every tick that changed it worth saving (see `ledgerWorthSaving`). */
export function keepLedger(
  source: { onTick(l: (r: { memory: { capacity: { ledger?: Ledger } } }) => void): void },
  store: LedgerStore,
  poolId: string,
  clock: Clock,
  initial: Ledger | undefined,
): void {
  let saved = initial;
  let savedAt = Number.NEGATIVE_INFINITY;
  source.onTick((r) => {
    const ledger = r.memory.capacity.ledger;
    const now = clock.now();
    if (!ledger || !ledgerWorthSaving(saved, ledger, savedAt, now)) return;
    if (store.save(poolId, ledger)) {
      saved = ledger;
      savedAt = now;
    }
  });
}
