import type { Clock, FetchFn } from './clock.js';

/** One HTTP answer, body read as text. */
export interface RawResponse {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

/**
 * Default cap of one response body: far above the largest real answer (a page of 50 agents, a long queue, the
 * Timeweb preset and OS lists are well under 1 MiB), far below memory trouble on a small VDS.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** `16 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * Why an attempt got no usable answer: the time limit ran out, the request failed on the network, or the answer's
 * body was larger than the limit (`status` is then the HTTP status of that answer; reading stopped, connection closed).
 */
export class AttemptFailure extends Error {
  override name = 'AttemptFailure';
  constructor(
    readonly kind: 'timeout' | 'network' | 'too-large',
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.status = options?.status ?? 0;
  }
  readonly status: number;
}

export interface AttemptOptions {
  fetch: FetchFn;
  url: string;
  method: string;
  /** `Authorization: Bearer <token>` when set. */
  bearer?: string;
  /** Extra headers; `Accept: application/json` is always sent. */
  headers?: Record<string, string>;
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** The time limit runs on this clock (virtual in the simulator). */
  clock: Clock;
  timeoutMs: number;
  /** The caller's signal: when it aborts, its reason is thrown as it is. */
  signal?: AbortSignal;
  /** Largest response body read, in bytes; a larger one is an AttemptFailure `too-large`. Default 16 MiB. */
  maxResponseBytes?: number;
}

/** The reason of an aborted signal, as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}

/** An error's message with its cause, for one-line reports. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause: unknown = err.cause;
    if (cause instanceof Error && cause.message && cause.message !== err.message) return `${err.message} (${cause.message})`;
    return err.message;
  }
  return String(err);
}

/** A URL without `user:password@`, for messages. */
export function redactUrl(u: string): string {
  return u.replace(/^(https?:\/\/)[^/@]*@/i, '$1').replace(/\/+$/, '');
}

/** Exponential back-off with jitter in [exp/2, exp): spreads retries without going below half the delay. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + (exp / 2) * random());
}

/**
 * The body as text, read as a stream and given up as soon as it passes `limit` bytes (a declared Content-Length
 * above the limit fails before reading), so an endless or huge answer never occupies more than the limit. The
 * caller aborts the request afterwards, which closes the connection.
 * @throws AttemptFailure `too-large`.
 */
async function readCapped(response: Response, limit: number): Promise<string> {
  const tooLarge = (): AttemptFailure =>
    new AttemptFailure('too-large', `the answer is larger than ${formatBytes(limit)} (the limit); stopped reading`, {
      status: response.status,
    });
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const body = response.body;
  if (body === null) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

/**
 * One HTTP attempt with its own time limit on the injected clock. The injected fetch may ignore the abort signal,
 * so the answer is also raced against it.
 * @throws the caller's abort reason when `signal` aborts; AttemptFailure on timeout, a network error or a body
 *   larger than `maxResponseBytes` (the request is aborted: the connection is closed).
 */
export async function attempt(opts: AttemptOptions): Promise<RawResponse> {
  const { signal } = opts;
  if (signal?.aborted) throw abortReason(signal);
  const controller = new AbortController();
  const timerStop = new AbortController();
  let timedOut = false;
  opts.clock.sleep(opts.timeoutMs, timerStop.signal).then(
    () => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    },
    () => undefined,
  );
  const onCallerAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });
  aborted.catch(() => undefined);
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.bearer !== undefined) headers.Authorization = `Bearer ${opts.bearer}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  try {
    const response = await Promise.race([
      opts.fetch(opts.url, { method: opts.method, headers, body, signal: controller.signal }),
      aborted,
    ]);
    const text = await Promise.race([readCapped(response, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES), aborted]);
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, headers: response.headers };
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal);
    if (err instanceof AttemptFailure) throw err;
    if (timedOut) throw new AttemptFailure('timeout', `no answer within ${opts.timeoutMs} ms`);
    throw new AttemptFailure('network', describeError(err), { cause: err });
  } finally {
    timerStop.abort();
    signal?.removeEventListener('abort', onCallerAbort);
    controller.abort(); // releases the race promise's listener; harmless after completion
  }
}
