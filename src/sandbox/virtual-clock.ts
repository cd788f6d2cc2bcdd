import type { Clock } from '../util/clock.js';

/**
 * Virtual time for the simulator and tests. `sleep` registers a timer instead of waiting; the driver moves time
 * forward with `advance()` (to the next timer) or `runUntil(t)`. Between timers it lets promise chains settle by
 * awaiting real macrotask turns (`setImmediate`), so unmodified async code (the engine, HTTP clients talking to an
 * in-process fake through `app.fetch`) runs to its next `sleep` before time moves on.
 *
 * Work that is in flight outside the clock (an in-process HTTP request) can be announced with `track(promise)`:
 * `settle()` keeps turning until nothing tracked is pending, so a request is never overtaken by a time jump.
 */

/** A cancellable scheduled callback. */
export interface TimerHandle {
  cancel(): void;
}

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export interface VirtualClockOptions {
  /** Start time, unix ms. Default: Monday 2025-01-06 00:00 UTC. */
  start?: number;
  /** Consecutive quiet macrotask turns that count as "settled". Default 3. */
  quietTurns?: number;
  /** Safety cap on macrotask turns per settle (an endless promise loop would otherwise hang). Default 100 000. */
  maxTurns?: number;
}

/** Monday 2025-01-06 00:00:00 UTC: a fixed, reproducible start for simulations. */
export const DEFAULT_SIM_START = Date.UTC(2025, 0, 6, 0, 0, 0);

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function abortError(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new Error('aborted');
}

export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  /** Min-heap by (at, seq). */
  private heap: Timer[] = [];
  private live = 0;
  private inFlight = 0;
  private activity = 0;
  private readonly quietTurns: number;
  private readonly maxTurns: number;
  /** Number of timers fired so far (for stats and tests). */
  fired = 0;

  constructor(opts: VirtualClockOptions = {}) {
    this.t = opts.start ?? DEFAULT_SIM_START;
    this.quietTurns = Math.max(1, opts.quietTurns ?? 3);
    this.maxTurns = opts.maxTurns ?? 100_000;
  }

  now(): number {
    return this.t;
  }

  /** Virtual time never steps back; its monotonic reading is the same number (see `steppedClock` for jumps). */
  monotonic(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const handle = this.at(this.t + Math.max(0, Number.isFinite(ms) ? ms : 0), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        handle.cancel();
        reject(abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Runs `fn` when virtual time reaches `at` (or at the next advance, if `at` is in the past). */
  at(at: number, fn: () => void): TimerHandle {
    const timer: Timer = { at: Math.max(at, this.t), seq: this.seq++, fire: fn, cancelled: false };
    this.push(timer);
    this.live++;
    this.activity++;
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        this.live--;
      },
    };
  }

  /** Runs `fn` after `ms` of virtual time. */
  after(ms: number, fn: () => void): TimerHandle {
    return this.at(this.t + Math.max(0, ms), fn);
  }

  /** Runs `fn` every `period` ms (first run after one period) until cancelled. */
  every(period: number, fn: () => void): TimerHandle {
    if (!(period > 0)) throw new Error('period must be positive');
    let current: TimerHandle | undefined;
    let stopped = false;
    const arm = (): void => {
      current = this.after(period, () => {
        if (stopped) return;
        arm();
        fn();
      });
    };
    arm();
    return {
      cancel: () => {
        stopped = true;
        current?.cancel();
      },
    };
  }

  /** Marks `p` as work in flight: `settle()` does not return while it is pending. Returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    this.activity++;
    const done = (): void => {
      this.inFlight--;
      this.activity++;
    };
    p.then(done, done);
    return p;
  }

  /** Live (not cancelled, not fired) timers. */
  get pendingTimers(): number {
    return this.live;
  }

  /** Time of the next live timer, or undefined. */
  nextTimerAt(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /**
   * Lets promise chains run: awaits macrotask turns until nothing tracked is in flight and nothing new happened
   * (no timer registered, no tracked work started or finished) for `quietTurns` consecutive turns.
   */
  async settle(): Promise<void> {
    let quiet = 0;
    for (let i = 0; i < this.maxTurns; i++) {
      const before = this.activity;
      await turn();
      if (this.inFlight === 0 && this.activity === before) {
        if (++quiet >= this.quietTurns) return;
      } else {
        quiet = 0;
      }
    }
    throw new Error(`virtual clock: still busy after ${this.maxTurns} macrotask turns (${this.inFlight} in flight)`);
  }

  /**
   * Settles, then jumps to the next timer and fires every timer due at that instant (in registration order), then
   * settles again. Returns false when there was no timer (time did not move).
   */
  async advance(): Promise<boolean> {
    await this.settle();
    const next = this.nextTimerAt();
    if (next === undefined) return false;
    this.t = Math.max(this.t, next);
    this.fireDue();
    await this.settle();
    return true;
  }

  /** Fires every timer up to `until` (inclusive), then sets the time to `until`. */
  async runUntil(until: number): Promise<void> {
    await this.settle();
    for (;;) {
      const next = this.nextTimerAt();
      if (next === undefined || next > until) break;
      this.t = Math.max(this.t, next);
      this.fireDue();
      await this.settle();
    }
    if (until > this.t) this.t = until;
  }

  /** `runUntil(now + ms)`. */
  runFor(ms: number): Promise<void> {
    return this.runUntil(this.t + ms);
  }

  /**
   * Advances timer by timer until `done()` is true (checked after every step) or `limit` (absolute time) is
   * reached. Returns true when `done()` became true.
   */
  async runWhile(done: () => boolean, limit: number): Promise<boolean> {
    await this.settle();
    for (;;) {
      if (done()) return true;
      const next = this.nextTimerAt();
      if (next === undefined || next > limit) {
        if (limit > this.t && Number.isFinite(limit)) this.t = limit;
        return done();
      }
      this.t = Math.max(this.t, next);
      this.fireDue();
      await this.settle();
    }
  }

  private fireDue(): void {
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.at > this.t) return;
      this.pop();
      top.cancelled = true;
      this.live--;
      this.fired++;
      this.activity++;
      top.fire();
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]?.cancelled) this.pop();
  }

  // ---- binary heap ----------------------------------------------------------------------------------------------

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(x: Timer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as Timer;
      if (!this.less(x, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = x;
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      const lt = h[l];
      if (l < n && lt && this.less(lt, best)) {
        m = l;
        best = lt;
      }
      const rt = h[r];
      if (r < n && rt && this.less(rt, best)) {
        m = r;
        best = rt;
      }
      if (m === i) break;
      h[i] = best;
      i = m;
    }
    h[i] = last;
    return top;
  }
}

/**
 * A clock whose wall time can be stepped (like NTP or an operator setting the date) while its monotonic time and
 * its sleeps run on `base`. Chaos and loop tests give it to the daemon to prove that scheduling, readiness and ages
 * do not depend on the wall clock.
 */
export class SteppedClock implements Clock {
  /** Added to the base clock's wall time. */
  offset = 0;

  constructor(private readonly base: Clock) {}

  now(): number {
    return this.base.now() + this.offset;
  }

  monotonic(): number {
    return this.base.monotonic ? this.base.monotonic() : this.base.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.base.sleep(ms, signal);
  }

  /** Steps the wall clock by `ms` (negative = back). */
  step(ms: number): void {
    this.offset += ms;
  }
}
