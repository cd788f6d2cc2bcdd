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

/** The smallest k with P(N ≤ k) ≥ q for N ~ Poisson(lambda): how many arrivals one boot time holds, q of the time. */
export function poissonQuantile(lambda: number, q: number): number {
  if (!(lambda > 0) || !(q > 0)) return 0;
  // In log space, so a large rate (e^-lambda underflows past about 745) still sums from k = 0; terms too small
  // to represent add nothing. The quantile lies within a few sqrt(lambda) of lambda: the bound only guards q ≥ 1.
  const bound = Math.ceil(lambda + 40 * Math.sqrt(lambda) + 40);
  let logP = -lambda;
  let cdf = Math.exp(logP);
  let k = 0;
  while (cdf < q && k < bound) {
    k++;
    logP += Math.log(lambda / k);
    cdf += Math.exp(logP);
  }
  return k;
}

/** The share of boot windows whose arrivals the forecast's slots cover. */
export const FORECAST_QUANTILE = 0.9;

/**
 * Free slots to keep for the arrivals expected within `horizonMs` (one boot time): the arrivals of the last
 * `windowMs` give a rate; the slots cover the arrivals within one horizon in `quantile` of the cases (a Poisson
 * quantile, so a burst of bad luck is covered, not only the mean), at most `cap`. No arrivals in the window: none.
 */
export function forecastSlots(
  history: ArrivalHistory,
  now: number,
  windowMs: number,
  horizonMs: number,
  cap: number,
  quantile = FORECAST_QUANTILE,
): number {
  if (windowMs <= 0 || horizonMs <= 0 || cap <= 0) return 0;
  const recent = history.arrivals.filter((t) => now - t < windowMs).length;
  return Math.min(cap, poissonQuantile((recent / windowMs) * horizonMs, quantile));
}
