import type { Logger } from 'pino';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { isRecord } from '../util/guards.js';
import { backoffDelay, describeError, redactUrl } from '../util/http.js';

/**
 * Woodpecker's event stream, `GET /api/stream/events` (server/api/stream.go, EventStreamSSE): Server-Sent Events,
 * `Content-Type: text/event-stream`, a `: ping` comment at once and after every 30 s without an event, and one
 * `data: <JSON model.Event>` block per pipeline change (`{"repo": {...}, "pipeline": {...}}`). It only carries
 * changes of public repos and of repos the token's user can see (`RepoList(user, …)`), so it can wake a queue poll
 * early but never replace it. No `id:` or `retry:` lines are sent; a reconnect simply starts from "now".
 */

/** What the autoscaler reads of one event. */
export interface PipelineEvent {
  /** `owner/name`, or '' when the event carries no repo. */
  repo: string;
  /** Pipeline number, 0 when absent. */
  pipeline: number;
  /** Pipeline status word (`pending`, `running`, `success`, …), '' when absent. */
  status: string;
}

/** Pipeline statuses after which new work may be waiting in the queue (created, or a later workflow started). */
const WAKE_STATUSES = new Set(['pending', 'running']);

/** True when this event may mean new pending work: worth a queue poll. */
export function mayHaveNewWork(e: PipelineEvent): boolean {
  return WAKE_STATUSES.has(e.status);
}

/** The JSON of one `data:` block as a PipelineEvent; undefined when it is not a pipeline event. Never throws. */
export function parsePipelineEvent(data: string): PipelineEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || !isRecord(raw.pipeline)) return undefined;
  const repo = isRecord(raw.repo) && typeof raw.repo.full_name === 'string' ? raw.repo.full_name : '';
  const p = raw.pipeline;
  return {
    repo,
    pipeline: typeof p.number === 'number' ? p.number : 0,
    status: typeof p.status === 'string' ? p.status : '',
  };
}

/**
 * Incremental Server-Sent-Events parser (the WHATWG rules the autoscaler needs): lines end in LF, CRLF or CR;
 * `:` lines are comments; `data:` lines accumulate, joined by LF; a blank line dispatches. `event`, `id` and
 * `retry` are read past. A single event larger than `maxEventBytes` is dropped (and counted), so a broken stream
 * cannot grow memory without bound.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private dataBytes = 0;
  private dropping = false;
  /** Events dropped for their size. */
  oversized = 0;
  /** Comment lines seen (`: ping`). */
  comments = 0;

  constructor(private readonly maxEventBytes = 1024 * 1024) {}

  /** Feeds a chunk; returns the `data` of every event completed by it. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const out: string[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const event = this.line(line);
      if (event !== undefined) out.push(event);
    }
    if (this.buffer.length > this.maxEventBytes) {
      // One endless line: drop it and what belongs to its event.
      this.buffer = '';
      this.drop();
    }
    return out;
  }

  private drop(): void {
    if (!this.dropping) this.oversized++;
    this.dropping = true;
    this.data = [];
    this.dataBytes = 0;
  }

  private line(line: string): string | undefined {
    if (line === '') {
      const done = this.dropping || this.data.length === 0 ? undefined : this.data.join('\n');
      this.data = [];
      this.dataBytes = 0;
      this.dropping = false;
      return done;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field !== 'data' || this.dropping) return undefined;
    this.dataBytes += value.length + 1;
    if (this.dataBytes > this.maxEventBytes) {
      this.drop();
      return undefined;
    }
    this.data.push(value);
    return undefined;
  }
}

export type EventStreamState = 'connecting' | 'connected' | 'disconnected' | 'unsupported' | 'stopped';

export interface EventStreamOptions {
  /** The Woodpecker server's base URL (as the REST client gets it). */
  baseUrl: string;
  /** Admin token; sent as `Authorization: Bearer`, never logged. */
  token: string;
  fetch: FetchFn;
  clock: Clock;
  random: RandomFn;
  logger: Logger;
  /** Called for every pipeline event (must not throw; errors are logged and ignored). */
  onEvent: (e: PipelineEvent) => void;
  /** Called when the connection state changes (status page, metrics). */
  onState?: (s: EventStreamState) => void;
  /** Stops the stream for good. */
  signal: AbortSignal;
  /** First reconnect delay; doubles up to `retryMaxMs`. Default 1 s. */
  retryBaseMs?: number;
  /** Default 60 s. */
  retryMaxMs?: number;
  /**
   * Reconnect when nothing (not even a ping) arrived for this long; the server pings every 30 s. Default 75 s.
   */
  idleTimeoutMs?: number;
  /** Wait before trying again after the server showed it has no stream (an HTML answer, 404). Default 30 min. */
  unsupportedRetryMs?: number;
}

/**
 * Keeps one subscription to the event stream open until `signal` aborts: reconnects with exponential back-off and
 * jitter, drops a silent connection after `idleTimeoutMs`, and never throws (the stream is an optimisation: the
 * queue poll still runs when it is down). Resolves when stopped.
 */
export async function watchEvents(opts: EventStreamOptions): Promise<void> {
  const { clock, logger, signal } = opts;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const url = `${base}/api/stream/events`;
  const retryBase = opts.retryBaseMs ?? 1_000;
  const retryMax = opts.retryMaxMs ?? 60_000;
  const idleMs = opts.idleTimeoutMs ?? 75_000;
  const unsupportedMs = opts.unsupportedRetryMs ?? 30 * 60_000;
  let state: EventStreamState | undefined;
  const setState = (s: EventStreamState): void => {
    if (s === state) return;
    state = s;
    try {
      opts.onState?.(s);
    } catch {
      // observers must not break the stream
    }
  };
  let failures = 0;
  let warned = false;
  while (!signal.aborted) {
    setState('connecting');
    const outcome = await connectOnce(opts, url, idleMs, () => setState('connected'));
    if (signal.aborted) break;
    let wait: number;
    if (outcome.kind === 'unsupported') {
      setState('unsupported');
      logger.warn(
        { url: redactUrl(url), why: outcome.why },
        `the Woodpecker server offers no event stream (${outcome.why}); relying on the queue poll, trying again in ${Math.round(unsupportedMs / 60_000)} min`,
      );
      wait = unsupportedMs;
      failures = 0;
    } else {
      setState('disconnected');
      // A connection that delivered something resets the back-off: the server ended a healthy stream.
      failures = outcome.received ? 0 : failures + 1;
      wait = backoffDelay(Math.max(0, failures - 1), retryBase, retryMax, opts.random);
      const level = failures >= 3 && !warned ? 'warn' : 'debug';
      if (level === 'warn') warned = true;
      if (failures === 0) warned = false;
      logger[level]({ why: outcome.why, retryInMs: wait }, 'event stream disconnected; the queue poll covers the gap');
    }
    await clock.sleep(wait, signal).catch(() => undefined);
  }
  setState('stopped');
}

type ConnectOutcome =
  | { kind: 'ended'; received: boolean; why: string }
  | { kind: 'unsupported'; why: string };

async function connectOnce(
  opts: EventStreamOptions,
  url: string,
  idleMs: number,
  onConnected: () => void,
): Promise<ConnectOutcome> {
  const { clock, signal } = opts;
  const controller = new AbortController();
  const onStop = (): void => controller.abort(new Error('stopped'));
  signal.addEventListener('abort', onStop, { once: true });
  // One timer, re-armed on every chunk: no data (not even a ping) for idleMs ends this connection.
  let idleTimer = new AbortController();
  let idle = false;
  const armIdle = (): void => {
    idleTimer.abort();
    idleTimer = new AbortController();
    clock.sleep(idleMs, idleTimer.signal).then(
      () => {
        idle = true;
        controller.abort(new Error('idle'));
      },
      () => undefined,
    );
  };
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => undefined);
  let received = false;
  try {
    armIdle();
    const res = await Promise.race([
      opts.fetch(url, {
        method: 'GET',
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${opts.token}`, 'Cache-Control': 'no-cache' },
        signal: controller.signal,
      }),
      aborted,
    ]);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (res.status === 404 || (res.ok && type !== 'text/event-stream')) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'unsupported', why: res.ok ? `HTTP ${res.status} ${type || 'without a content type'}` : 'HTTP 404' };
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'ended', received, why: `HTTP ${res.status}` };
    }
    onConnected();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    // Stop (or the idle timer) cancels the reader, which ends a pending read with `done`. Reads are not raced
    // against a promise that lives as long as the connection: every race would leave a reaction (and its chunk)
    // on it for hours.
    const cancel = (): void => void reader.cancel().catch(() => undefined);
    controller.signal.addEventListener('abort', cancel, { once: true });
    try {
      for (;;) {
        const chunk = await reader.read();
        if (controller.signal.aborted) return { kind: 'ended', received, why: idle ? `no data for ${Math.round(idleMs / 1000)} s` : 'stopped' };
        if (chunk.done) return { kind: 'ended', received, why: 'the server closed the stream' };
        received = true;
        armIdle();
        for (const data of parser.push(decoder.decode(chunk.value, { stream: true }))) {
          const event = parsePipelineEvent(data);
          if (!event) continue;
          try {
            opts.onEvent(event);
          } catch (e) {
            opts.logger.warn({ err: describeError(e) }, 'event handler failed');
          }
        }
      }
    } finally {
      controller.signal.removeEventListener('abort', cancel);
      await reader.cancel().catch(() => undefined);
    }
  } catch (e) {
    if (idle) return { kind: 'ended', received, why: `no data for ${Math.round(idleMs / 1000)} s` };
    return { kind: 'ended', received, why: describeError(e) };
  } finally {
    idleTimer.abort();
    signal.removeEventListener('abort', onStop);
    controller.abort();
  }
}
