/**
 * What the world bills, computed from the simulated cloud's own server records (creation and deletion times) and the
 * price list, independently of the engine's ledger: hourly billing bills every started hour from creation to
 * deletion, at the start of that hour; per-second billing bills the time alive. Spend is split by calendar day (UTC,
 * the chaos runs' budget time zone).
 */

const HOUR = 3_600_000;

export interface BilledServer {
  name: string;
  createdAt: number;
  /** Undefined while it exists. */
  deletedAt?: number | undefined;
  /** Its price per hour. */
  perHour: number;
}

export type Billing = 'hourly' | 'per-second';

const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Spend per UTC day (`YYYY-MM-DD`) of `servers` up to `now`. */
export function billedPerDay(servers: readonly BilledServer[], now: number, billing: Billing): Map<string, number> {
  const out = new Map<string, number>();
  const add = (t: number, amount: number): void => {
    out.set(dayOf(t), (out.get(dayOf(t)) ?? 0) + amount);
  };
  for (const s of servers) {
    const end = Math.min(s.deletedAt ?? now, now);
    if (billing === 'hourly') {
      // Every hour that has started by `end` (the first one at creation).
      for (let start = s.createdAt; start === s.createdAt || start < end; start += HOUR) add(start, s.perHour);
      continue;
    }
    // Per second, cut at midnights.
    for (let t = s.createdAt; t < end; ) {
      const midnight = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth(), new Date(t).getUTCDate() + 1);
      const until = Math.min(end, midnight);
      add(t, ((until - t) / HOUR) * s.perHour);
      t = until;
    }
  }
  return out;
}
