import type { QueueInfo } from '../woodpecker/types.js';

/**
 * A demand forecast from the pool's own recent history: how many workflows arrived in the last `window`, and so how
 * many are likely to arrive within one boot time. Keeping that many slots free means the next arrivals find a
 * running agent instead of waiting for a server to boot. Pure; the caller keeps the history between ticks.
 */

export interface ArrivalHistory {
  /** Ids of the tasks in the queue (pending, waiting, running) at the last observation. */
  seen: readonly string[];
  /** unix ms of each arrival (a task id not seen before), oldest first, within the window. */
  arrivals: readonly number[];
  /** False until the first observation: the tasks already queued at start are not arrivals. */
  primed: boolean;
}

export const emptyHistory: ArrivalHistory = { seen: [], arrivals: [], primed: false };

/** Caps the history so a flood of tasks cannot grow memory without bound. */
const MAX_ARRIVALS = 10_000;

/** The history after observing `queue` at `now`. */
export function observeArrivals(
  prev: ArrivalHistory,
  queue: Pick<QueueInfo, 'pending' | 'waiting_on_deps' | 'running'>,
  now: number,
  windowMs: number,
): ArrivalHistory {
  const ids = [...queue.pending, ...queue.waiting_on_deps, ...queue.running].map((t) => t.id);
  const before = new Set(prev.seen);
  const fresh = prev.primed ? ids.filter((id) => !before.has(id)).length : 0;
  const kept = prev.arrivals.filter((t) => now - t < windowMs);
  const arrivals = [...kept, ...Array.from({ length: fresh }, () => now)].slice(-MAX_ARRIVALS);
  return { seen: [...new Set(ids)], arrivals, primed: true };
}

/**
 * Free slots to keep for the arrivals expected within `horizonMs` (one boot time): the arrival rate of the last
 * `windowMs` times the horizon, rounded to the nearest whole slot (so a quiet pool keeps none), at most `cap`.
 */
export function forecastSlots(history: ArrivalHistory, now: number, windowMs: number, horizonMs: number, cap: number): number {
  if (windowMs <= 0 || horizonMs <= 0 || cap <= 0) return 0;
  const recent = history.arrivals.filter((t) => now - t < windowMs).length;
  const expected = (recent / windowMs) * horizonMs;
  return Math.min(cap, Math.round(expected));
}
