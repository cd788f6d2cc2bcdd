import type { Logger } from 'pino';
import { monotonicNow, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/guards.js';
import type { WoodpeckerApi } from './executor.js';
import type { QueueInfo } from '../woodpecker/types.js';
import type { EngineConfig, PlanMode } from './types.js';
import type { Wake } from './wake.js';

/** What the loop ticks: one pool's Reconciler, or the PoolSet of several pools. */
export interface Tickable {
  readonly config: Pick<EngineConfig, 'policy'>;
  tick(mode: PlanMode): Promise<{ ok: boolean; errors: string[] }>;
  /** Whether a queue poll's pending work may be work for it (default: any pending work is). */
  mayScaleFor?(queue: QueueInfo): boolean;
}

export interface LoopOptions {
  reconciler: Tickable;
  woodpecker: Pick<WoodpeckerApi, 'queueInfo'>;
  clock: Clock;
  logger: Logger;
  /** Full reconcile period (ms). */
  interval: number;
  /** Cheap queue poll period (ms) that triggers a scale-up tick when work is pending; 0 disables. */
  queuePollInterval: number;
  /**
   * Stops the loop. The tick in progress is finished first (its requests are not aborted: a create or delete
   * must never be cut in half by a shutdown).
   */
  signal: AbortSignal;
  /**
   * Ends a sleep early for an immediate queue poll (the Woodpecker event stream calls it when a pipeline is
   * created). Default policy only, like the poll itself.
   */
  wake?: Wake;
}

function sleepUntilAborted(clock: Clock, ms: number, signal: AbortSignal, wake: Wake | undefined): Promise<void> {
  if (wake) return wake.sleep(clock, ms, signal);
  return clock.sleep(ms, signal).catch(() => undefined);
}

/**
 * The daemon loop: a full reconcile right at start, then every `interval`; between them, a queue poll every
 * `queuePollInterval` runs a scale-up-only tick when workflows are pending; a `wake` notification runs that poll at
 * once. Ticks never overlap (it is one sequential loop). Returns when `signal` aborts, after the current tick.
 * Scheduled on the clock's monotonic time: stepping the wall clock back or forward neither stalls nor bursts ticks.
 */
export async function runLoop(opts: LoopOptions): Promise<void> {
  const { reconciler, clock, logger, signal } = opts;
  const mono = (): number => monotonicNow(clock);
  let nextFull = mono();
  // The fast queue poll is part of the default policy only: upstream reacts once per interval.
  const pollEvery = reconciler.config.policy === 'default' ? opts.queuePollInterval : 0;
  let nextPoll = pollEvery > 0 ? mono() + pollEvery : Infinity;
  const wake = pollEvery > 0 ? opts.wake : undefined;
  while (!signal.aborted) {
    const now = mono();
    // An event asks for the poll now (a full tick that is due covers it).
    if (wake?.take() && now < nextFull) nextPoll = now;
    if (now >= nextFull) {
      nextFull = now + opts.interval;
      await safeTick(reconciler, 'full', logger);
      // A full tick also covers the poll.
      if (pollEvery > 0) nextPoll = mono() + pollEvery;
    } else if (now >= nextPoll) {
      nextPoll = now + pollEvery;
      try {
        const q = await opts.woodpecker.queueInfo();
        if (q.stats.pending_count > 0 && (reconciler.mayScaleFor?.(q) ?? true)) await safeTick(reconciler, 'scale-up', logger);
      } catch (e) {
        logger.warn({ err: errorMessage(e) }, 'queue poll failed');
      }
    }
    if (signal.aborted) break;
    const wait = Math.min(nextFull, nextPoll) - mono();
    if (wait > 0) await sleepUntilAborted(clock, wait, signal, wake);
  }
  logger.info('autoscaler loop stopped');
}

async function safeTick(reconciler: Tickable, mode: 'full' | 'scale-up', logger: Logger): Promise<void> {
  try {
    const report = await reconciler.tick(mode);
    if (!report.ok) logger.warn({ mode, errors: report.errors }, 'reconciliation finished with errors');
  } catch (e) {
    logger.error({ mode, err: errorMessage(e) }, 'reconciliation failed');
  }
}
