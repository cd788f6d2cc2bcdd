import type { BillingModel } from '../providers/types.js';

/** Pure helpers for simulation figures: percentiles and what servers cost. */

const HOUR = 3_600_000;

/** Nearest-rank percentile of unsorted values (0 for none). `p` in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** One server's billed life. `deletedAt` undefined = still alive. */
export interface ServerLife {
  name: string;
  createdAt: number;
  deletedAt?: number;
}

/** Billed hours of one server alive for `ms`: every started hour (hourly), or exact (per-second). */
export function billedHours(ms: number, billing: BillingModel): number {
  if (ms <= 0) return billing === 'hourly' ? 1 : 0;
  if (billing === 'hourly') return Math.ceil(ms / HOUR);
  return Math.ceil(ms / 1000) / 3600;
}

/** Cost of all servers up to `at` (servers created after `at` cost nothing yet; hourly pays each hour when it starts). */
export function costAt(lives: readonly ServerLife[], at: number, perHour: number, billing: BillingModel): number {
  let hours = 0;
  for (const s of lives) {
    if (s.createdAt > at) continue;
    const end = Math.min(at, s.deletedAt ?? at);
    const ms = end - s.createdAt;
    if (billing === 'hourly') {
      // An hour is paid when it starts; a server deleted exactly on an hour boundary never starts the next one.
      const deletedOnBoundary = end === s.deletedAt && ms > 0 && ms % HOUR === 0;
      hours += Math.floor(ms / HOUR) + (deletedOnBoundary ? 0 : 1);
    } else {
      hours += Math.ceil(Math.max(0, ms) / 1000) / 3600;
    }
  }
  return hours * perHour;
}

/** Server-hours actually alive up to `at` (exact, whatever the billing). */
export function vmHours(lives: readonly ServerLife[], at: number): number {
  let ms = 0;
  for (const s of lives) {
    if (s.createdAt > at) continue;
    ms += Math.max(0, Math.min(at, s.deletedAt ?? at) - s.createdAt);
  }
  return ms / HOUR;
}

/** Most servers alive at once. */
export function peakConcurrent(lives: readonly ServerLife[], at: number): number {
  const events: [number, number][] = [];
  for (const s of lives) {
    if (s.createdAt > at) continue;
    events.push([s.createdAt, 1]);
    if (s.deletedAt !== undefined && s.deletedAt <= at) events.push([s.deletedAt, -1]);
  }
  // deletions before creations at the same instant
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of events) {
    cur += d;
    peak = Math.max(peak, cur);
  }
  return peak;
}
