import type { Clock } from '../util/clock.js';

/**
 * A wake-up call for the loop: `notify()` (an event said work may be waiting) ends the loop's current sleep early.
 * Notifications that arrive while the loop is busy are kept (one is enough) and end the next sleep at once, so
 * a burst of events costs one extra queue poll, not one per event.
 */
export class Wake {
  private pending = false;
  private waiter: (() => void) | undefined;
  /** Notifications received (for metrics and tests). */
  count = 0;

  notify(): void {
    this.count++;
    this.pending = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** True (once) when a notification arrived since the last call. */
  take(): boolean {
    const p = this.pending;
    this.pending = false;
    return p;
  }

  /** Sleeps `ms` on `clock`; returns early on a notification (also one that is already pending) or on abort. */
  async sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) return;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const woken = new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
    try {
      await Promise.race([clock.sleep(ms, stop.signal).catch(() => undefined), woken]);
    } finally {
      this.waiter = undefined;
      stop.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
