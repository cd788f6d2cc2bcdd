import type { BillingModel, ProviderServer } from '../providers/types.js';
import { localTime } from './schedule.js';

/**
 * Money as a limit. A ledger estimates what this pool's servers cost, from what the daemon observes (each owned
 * server, its creation time, the billing model and the price of one server per hour), per calendar day and month
 * in the budget's time zone. Creates stop when a new server's first and next hour would not fit under a cap together
 * with the next hour of every server that already runs, and a server whose next hour does not fit is let go before
 * it renews; running work is never cut. Pure functions: the caller keeps the ledger between ticks.
 *
 * A restart keeps the ledger when a ledger store holds it (`--state-file`, see src/engine/ledger-store.ts). Without
 * one the ledger starts again from what exists: each server is charged from the start of its current paid hour
 * (hourly billing) or from the first observation (per-second billing), so spend earlier that day by servers that are
 * gone is not known. Prices come from the provider's price list, not from invoices.
 */

const HOUR = 3_600_000;

export interface BudgetSettings {
  /** Cap per calendar day in the account's currency, for the whole daemon (all its pools); undefined = none. */
  daily?: number;
  /** Cap per calendar month, for the whole daemon; undefined = none. */
  monthly?: number;
  /** Several pools: this pool's own caps (pools file), on top of the daemon's. */
  pool?: { daily?: number; monthly?: number };
  /** Time zone of the calendar (IANA name). */
  timeZone: string;
  /** Price of one server per hour (everything it bills: server and public IPv4). */
  perHour: number;
  currency: string;
}

export interface Ledger {
  /** `YYYY-M-D` / `YYYY-M` of the period the totals belong to. */
  day: string;
  month: string;
  spentDay: number;
  spentMonth: number;
  /** Per owned server name: unix ms up to which its cost is counted. */
  paidUntil: Readonly<Record<string, number>>;
}

function periodKeys(now: number, tz: string): { day: string; month: string } {
  const t = localTime(now, tz);
  return { day: `${t.year}-${t.month}-${t.day}`, month: `${t.year}-${t.month}` };
}

/** Up to when a server is paid at `now`: every started hour (hourly billing), or `now` (per-second billing). */
export function paidUntil(createdAt: number, now: number, billing: BillingModel): number {
  if (billing === 'per-second') return Math.max(createdAt, now);
  const hours = Math.max(1, Math.ceil((now - createdAt) / HOUR));
  return createdAt + hours * HOUR;
}

/** The ledger after observing `servers` (this pool's own, including booting ones) at `now`. */
export function updateLedger(
  prev: Ledger | undefined,
  servers: readonly Pick<ProviderServer, 'name' | 'createdAt'>[],
  now: number,
  billing: BillingModel,
  settings: Pick<BudgetSettings, 'perHour' | 'timeZone'>,
): Ledger {
  const keys = periodKeys(now, settings.timeZone);
  let spentDay = prev && prev.day === keys.day ? prev.spentDay : 0;
  let spentMonth = prev && prev.month === keys.month ? prev.spentMonth : 0;
  const next: Record<string, number> = {};
  for (const s of servers) {
    const until = paidUntil(s.createdAt, now, billing);
    const known = prev?.paidUntil[s.name];
    // A server seen for the first time: charged from its current paid hour (or from now), see the module comment;
    // one created by this daemon is seen on the tick that created it, so its first hour is counted in full.
    const from = known ?? (billing === 'hourly' ? until - HOUR : Math.max(s.createdAt, now));
    const cost = (Math.max(0, until - Math.max(from, s.createdAt)) / HOUR) * settings.perHour;
    spentDay += cost;
    spentMonth += cost;
    next[s.name] = Math.max(until, known ?? 0);
  }
  return { ...keys, spentDay, spentMonth, paidUntil: next };
}

/**
 * Several pools: what the daemon's OTHER pools have spent in the current day and month and have committed (the next
 * hour of each of their servers), at their own prices. It counts against the daemon-wide caps, so N pools never
 * spend N × the cap.
 */
export interface OtherPoolsSpend {
  spentDay: number;
  spentMonth: number;
  /** The next hour of every server of the other pools, in money. */
  reserved: number;
  /** Their servers (for the reason text). */
  servers: number;
  /**
   * Other pools with pending work that plan after this one in the same tick: the room the daemon-wide caps leave
   * for new servers is shared with them (this pool takes its part, rounded up), so the first pool in the file does
   * not take it all.
   */
  competing: number;
}

/** A ledger's spend in the period of `now` (0 for a day or month that has ended since it was last updated). */
export function currentSpend(ledger: Ledger | undefined, now: number, timeZone: string): { day: number; month: number } {
  if (!ledger) return { day: 0, month: 0 };
  const keys = periodKeys(now, timeZone);
  return { day: ledger.day === keys.day ? ledger.spentDay : 0, month: ledger.month === keys.month ? ledger.spentMonth : 0 };
}

/**
 * A ledger kept across a restart (src/engine/ledger-store.ts), as of `now`: a day or month that has ended since it
 * was saved starts again at 0, like `updateLedger` does; `paidUntil` is kept, so a server whose hour was charged before
 * the restart is not charged again, and one that ran while the daemon was down is charged from where it was.
 */
export function ledgerAt(ledger: Ledger, now: number, timeZone: string): Ledger {
  const spent = currentSpend(ledger, now, timeZone);
  return { ...ledger, ...periodKeys(now, timeZone), spentDay: spent.day, spentMonth: spent.month };
}

export interface BudgetRoom {
  /** New servers the budget allows now (Infinity without caps). */
  creates: number;
  /** Servers whose next paid hour still fits under the caps (Infinity without caps): the pool shrinks to this. */
  affordable: number;
  /** The next hour of the servers that run does not fit: keep nothing warm, let idle ones go before they renew. */
  exhausted: boolean;
  /** Why creates are limited, for notes and reasons; undefined when they are not. */
  why?: string;
}

function fmt(n: number, currency: string): string {
  return `${n.toFixed(2)} ${currency}`;
}

/**
 * What the caps allow. Every server that runs holds a reservation for its next hour; a new server costs its first
 * hour at once (hourly billing charges it; per-second billing is charged for at most that before a later decision
 * can stop it) plus the reservation of its own next hour. So the pool never commits to more than the caps cover, and
 * a server whose next hour does not fit is let go before it renews (unless it runs a workflow: running work is never
 * cut, and only such a server's renewal can pass a cap). With several pools (`others`), the daemon-wide caps count
 * the other pools' spend and reservations too; a pool's own caps count its own spend only.
 */
export function budgetRoom(
  ledger: Ledger | undefined,
  running: number,
  settings: BudgetSettings,
  others?: OtherPoolsSpend,
): BudgetRoom {
  const caps: { name: string; cap: number; spent: number; reserved: number; daemonWide: boolean }[] = [];
  const wide = others ? ' (all pools)' : '';
  const oDay = others?.spentDay ?? 0;
  const oMonth = others?.spentMonth ?? 0;
  const oReserved = others?.reserved ?? 0;
  const spentDay = ledger?.spentDay ?? 0;
  const spentMonth = ledger?.spentMonth ?? 0;
  if (settings.daily !== undefined) caps.push({ name: `daily${wide}`, cap: settings.daily, spent: spentDay + oDay, reserved: oReserved, daemonWide: true });
  if (settings.monthly !== undefined) {
    caps.push({ name: `monthly${wide}`, cap: settings.monthly, spent: spentMonth + oMonth, reserved: oReserved, daemonWide: true });
  }
  const own = settings.pool;
  if (own?.daily !== undefined) caps.push({ name: "pool's daily", cap: own.daily, spent: spentDay, reserved: 0, daemonWide: false });
  if (own?.monthly !== undefined) caps.push({ name: "pool's monthly", cap: own.monthly, spent: spentMonth, reserved: 0, daemonWide: false });
  if (caps.length === 0 || settings.perHour <= 0) return { creates: Infinity, affordable: Infinity, exhausted: false };
  const left = (c: (typeof caps)[number]): number => c.cap - c.spent - c.reserved;
  let tightest = caps[0];
  for (const c of caps) if (tightest === undefined || left(c) < left(tightest)) tightest = c;
  if (tightest === undefined) return { creates: Infinity, affordable: Infinity, exhausted: false };
  const affordable = Math.max(0, Math.floor(left(tightest) / settings.perHour + 1e-9));
  let creates = Math.max(0, Math.floor((affordable - running) / 2));
  // A daemon-wide cap binds: the room is shared with the other pools that still wait for servers in this tick.
  const sharedWith = tightest.daemonWide ? (others?.competing ?? 0) : 0;
  if (sharedWith > 0) creates = Math.ceil(creates / (sharedWith + 1));
  const otherPools =
    tightest.reserved > 0 && others ? `, the next hour of the other pools' ${others.servers} server(s) (${fmt(tightest.reserved, settings.currency)})` : '';
  const why =
    `${tightest.name} budget: ${fmt(tightest.spent, settings.currency)} of ${fmt(tightest.cap, settings.currency)} spent, ` +
    `the next hour of ${running} running server(s)${otherPools} reserved, ${fmt(2 * settings.perHour, settings.currency)} ` +
    `(first and next hour) per new server`;
  return { creates, affordable, exhausted: affordable < running, why };
}
