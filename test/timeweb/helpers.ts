import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/observability/logger.js';
import type { Clock, FetchFn } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import type { FakeTimeweb, FakeTimewebOptions } from '../../src/sandbox/fake-timeweb.js';
import { TimewebClient } from '../../src/providers/timeweb/client.js';
import type { TimewebClientOptions, TimewebRequestEvent } from '../../src/providers/timeweb/client.js';
import type { OptionValues } from '../../src/config/types.js';
import type { ProviderContext } from '../../src/providers/types.js';

/**
 * Virtual time that runs itself: whenever nothing happened for a few macrotask turns (every in-process request to
 * the fake completes within one), it jumps to the earliest pending sleep. Timeouts, backoff and rate-limit waits
 * then cost no real time, and code under test needs no driver.
 */
export class AutoClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];
  private pumping = false;
  /** Every sleep ever requested (ms), for assertions about backoff. */
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2025, 0, 6, 0, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        return;
      }
      const timer = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.timers = this.timers.filter((x) => x !== timer);
        this.seq++;
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
      this.pump();
    });
  }

  /** Moves time forward by hand (fires due sleeps). */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      await quiet(() => this.seq);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const first = this.timers[0];
      if (!first || first.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, first.at);
      first.fire();
    }
    this.t = Math.max(this.t, until);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      while (this.timers.length > 0) {
        await quiet(() => this.seq);
        this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const first = this.timers.shift();
        if (!first) break;
        this.t = Math.max(this.t, first.at);
        first.fire();
      }
      this.pumping = false;
    })();
  }
}

/** Waits until `activity()` did not change for 10 macrotask turns. */
async function quiet(activity: () => number): Promise<void> {
  let calm = 0;
  let last = activity();
  while (calm < 10) {
    await new Promise<void>((r) => setImmediate(r));
    const now = activity();
    if (now === last) calm++;
    else {
      calm = 0;
      last = now;
    }
  }
}

/** A logger that keeps every line (JSON text) for assertions; redaction is the real one. */
export function captureLogger(): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: stream });
  return { logger, lines, text: () => lines.join('') };
}

export interface Env {
  clock: AutoClock;
  fake: FakeTimeweb;
  client: TimewebClient;
  events: TimewebRequestEvent[];
}

export function makeEnv(
  fakeOpts: Partial<FakeTimewebOptions> = {},
  clientOpts: Partial<TimewebClientOptions> = {},
): Env {
  const clock = new AutoClock();
  const fake = createFakeTimeweb({ clock, random: seededRandom(7), ...fakeOpts });
  const events: TimewebRequestEvent[] = [];
  const client = new TimewebClient({
    baseUrl: fake.baseUrl,
    token: fake.token,
    fetch: fake.fetch,
    clock,
    random: seededRandom(3),
    onRequest: (e) => events.push(e),
    ...clientOpts,
  });
  return { clock, fake, client, events };
}

export const POOL = '1';
/** The installation of the provider under test. */
export const INSTALLATION = 'inst-a';
/** Its owner identity (markers). */
export const OWNER = { poolId: POOL, installationId: INSTALLATION };

/** A provider context over the fake; `values` are provider option values keyed by option key. */
export function providerCtx(
  env: { clock: Clock; fake: FakeTimeweb },
  values: Record<string, OptionValues[string]>,
  logger: Logger,
  fetch: FetchFn = env.fake.fetch,
): ProviderContext {
  return {
    poolId: POOL,
    installationId: INSTALLATION,
    values: { timewebcloudApiToken: env.fake.token, timewebcloudApiUrl: env.fake.baseUrl, ...values },
    fetch,
    clock: env.clock,
    random: seededRandom(11),
    logger,
  };
}

/** The foreign servers the fake seeds, as they must stay: ids and comments. */
export const FOREIGN_SERVER_IDS = [1001, 1002, 1003, 1004, 1005];
