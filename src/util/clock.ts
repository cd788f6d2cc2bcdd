import { performance } from 'node:perf_hooks';

/**
 * Time is injected everywhere so the same engine runs in real time (daemon, demo) and in virtual time
 * (simulator, tests). `now()` is wall time, milliseconds since the Unix epoch: for timestamps shown to people and
 * compared with other machines. `monotonic()` never jumps when the wall clock is stepped (NTP, an operator, a VM
 * resumed): scheduling, timeouts and "how long ago" on this process use it. `sleep` waits monotonic time.
 */
export interface Clock {
  now(): number;
  /**
   * Milliseconds on a clock that only moves forward at a steady rate, from an arbitrary origin (compare two
   * readings of the same clock, never with `now()`). Optional for small test clocks: `monotonicNow` falls back to
   * `now()`.
   */
  monotonic?(): number;
  /** Resolves after `ms` of this clock's time, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The clock's monotonic reading, or its wall time when it has none (test clocks that never jump). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A `fetch`-compatible function; injected into every HTTP client. */
export type FetchFn = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/** Source of randomness, injected so the simulator is reproducible. Returns a float in [0, 1). */
export type RandomFn = () => number;

/** Small deterministic PRNG (mulberry32) for seeded runs. */
export function seededRandom(seed: number): RandomFn {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
