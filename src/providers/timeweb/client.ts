import { monotonicNow, type Clock, type FetchFn, type RandomFn } from '../../util/clock.js';
import { isRecord } from '../../util/guards.js';
import { attempt, AttemptFailure, backoffDelay, redactUrl, type RawResponse } from '../../util/http.js';
import { parseRetryAfter } from '../../util/retry-after.js';
import type {
  TwAccountStatus,
  TwConfigurator,
  TwCreateServerRequest,
  TwDeleteServerResult,
  TwFinances,
  TwFloatingIp,
  TwLocation,
  TwOs,
  TwPreset,
  TwProject,
  TwServer,
  TwServiceCost,
  TwSshKey,
} from './types.js';
import type { TimewebImageEndpoint } from './images-api.js';

/**
 * Typed client for the subset of the Timeweb Cloud API the autoscaler uses, over an injected `fetch`.
 *
 * - Errors: every failure is a {@link TimewebApiError} (HTTP status, `error_code`, message — a string or a
 *   string[] joined with "; " — and `response_id`). A 401 has an EMPTY body on Timeweb; proxies may answer non-JSON.
 * - Rate limit: Timeweb may answer 429 above 20 requests/s per endpoint. A token bucket per endpoint (GCRA, on the
 *   injected clock) keeps us at ≤ 20 requests in any 1-second window by default (15/s sustained + a burst of 5).
 * - Retries: 429, 5xx, timeouts and network errors are retried with exponential backoff and jitter for GET and
 *   DELETE only. POST (create) and PATCH are never retried here: after an ambiguous create the caller must LIST
 *   before creating again (the provider does that).
 * - Secrets: the token, `root_pass`, `vnc_pass` and `cloud_init` never appear in errors or events.
 */

/** Route templates: metric labels (`onRequest`), rate-limit keys and error prefixes. */
export type TimewebEndpoint =
  | 'POST /api/v1/servers'
  | 'GET /api/v1/servers'
  | 'GET /api/v1/servers/:id'
  | 'DELETE /api/v1/servers/:id'
  | 'PATCH /api/v1/servers/:id'
  | 'GET /api/v1/floating-ips'
  | 'PATCH /api/v1/floating-ips/:id'
  | 'DELETE /api/v1/floating-ips/:id'
  | 'GET /api/v1/os/servers'
  | 'GET /api/v1/presets/servers'
  | 'GET /api/v1/configurator/servers'
  | 'GET /api/v2/locations'
  | 'GET /api/v1/ssh-keys'
  | 'GET /api/v1/projects'
  | 'GET /api/v1/projects/:id/resources/servers'
  | 'GET /api/v1/account/status'
  | 'GET /api/v1/account/finances'
  | 'GET /api/v1/account/services/cost'
  | TimewebImageEndpoint;

export interface TimewebRequestEvent {
  endpoint: TimewebEndpoint;
  /** HTTP status; 0 = network error or timeout. */
  status: number;
  durationMs: number;
  /** True when Timeweb answered 429. */
  rateLimited?: boolean;
}

export interface TimewebRateLimit {
  /** Sustained requests per second per endpoint. */
  perSecond: number;
  /** Extra requests allowed at once. perSecond + burst bounds any 1-second window. */
  burst: number;
}

export interface TimewebClientOptions {
  /** Default `https://api.timeweb.cloud`. */
  baseUrl?: string;
  /** API token (JWT). Never logged, never in an error. */
  token: string;
  fetch: FetchFn;
  /** Timeouts, rate limiting and backoff sleeps run on this clock. */
  clock: Clock;
  /** Jitter source for retries. */
  random: RandomFn;
  /** Per-attempt timeout including the body. Default 30 s. */
  timeoutMs?: number;
  /** Largest response body read (bytes); a larger answer fails with kind `too-large`. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Extra attempts for GET/DELETE on 429, 5xx, timeouts and network errors. Default 4. */
  retries?: number;
  /** First backoff delay (doubles per retry). Default 500 ms. */
  retryBaseMs?: number;
  /** Upper bound of one backoff delay. Default 10 s. */
  retryMaxMs?: number;
  /** Client-side limit per endpoint. Default `{ perSecond: 15, burst: 5 }` (≤ 20 in any second); `false` = off. */
  rateLimit?: TimewebRateLimit | false;
  /** Page size for `GET /api/v1/servers`. Default 100 (the API's default). */
  pageSize?: number;
  /** Safety cap for page walks. Default 1000 pages. */
  maxPages?: number;
  /** Called once per HTTP attempt (metrics). Must not throw. */
  onRequest?: (e: TimewebRequestEvent) => void;
}

/** `too-large`: the answer's body passed the size limit (reading stopped); the request itself may have taken effect. */
export type TimewebErrorKind = 'http' | 'timeout' | 'network' | 'malformed' | 'too-large';

/** Any failed Timeweb call. `status` 0 = no HTTP answer (timeout or network error). */
export class TimewebApiError extends Error {
  override name = 'TimewebApiError';
  readonly kind: TimewebErrorKind;
  readonly status: number;
  readonly endpoint: TimewebEndpoint;
  /** `error_code` from the body, e.g. `bad_request`, `not_found`. */
  readonly errorCode: string | undefined;
  /** The API's `message` (a string[] joined with "; "), or our description when the body had none. */
  readonly apiMessage: string;
  /** `response_id` to quote to Timeweb support. */
  readonly responseId: string | undefined;
  /** A 429's `Retry-After` in ms, when Timeweb sent a readable one. */
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    kind: TimewebErrorKind;
    status: number;
    endpoint: TimewebEndpoint;
    errorCode?: string;
    apiMessage: string;
    responseId?: string;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    const code = init.errorCode ? ` ${init.errorCode}` : '';
    const status = init.status > 0 ? `HTTP ${init.status}${code}: ` : '';
    const rid = init.responseId ? ` (response_id ${init.responseId})` : '';
    super(`Timeweb API ${init.endpoint}: ${status}${init.apiMessage}${rid}`, { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.endpoint = init.endpoint;
    this.errorCode = init.errorCode;
    this.apiMessage = init.apiMessage;
    this.responseId = init.responseId;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** The request may or may not have taken effect (timeout, network error, an unread oversized answer, 5xx). */
  get ambiguous(): boolean {
    return this.kind === 'timeout' || this.kind === 'network' || this.kind === 'too-large' || this.status >= 500;
  }

  /** Worth retrying for an idempotent request (not an oversized answer: it would be just as big again). */
  get retryable(): boolean {
    return (this.ambiguous && this.kind !== 'too-large') || this.status === 429;
  }
}

export interface TimewebServersPage {
  servers: TwServer[];
  total: number | undefined;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface CallSpec {
  method: Method;
  endpoint: TimewebEndpoint;
  /** Path below the base URL with the query, starting with `/`. */
  path: string;
  body?: unknown;
  /** Texts that must not appear in an error (e.g. the user-data lines of a create), besides the token. */
  secrets?: string[];
}


const DEFAULT_BASE_URL = 'https://api.timeweb.cloud';
const SNIPPET = 200;

/**
 * A per-key token bucket implemented as GCRA: each caller reserves its slot synchronously, so concurrent callers
 * queue up in order without a thundering herd. Any window of 1 s admits at most `perSecond + burst` calls.
 */
export class RateLimiter {
  private readonly tat = new Map<string, number>();
  private readonly interval: number;
  private readonly tolerance: number;

  constructor(
    private readonly clock: Clock,
    limit: TimewebRateLimit,
  ) {
    if (!(limit.perSecond > 0)) throw new Error('rate limit perSecond must be > 0');
    this.interval = 1000 / limit.perSecond;
    this.tolerance = Math.max(0, Math.floor(limit.burst) - 1) * this.interval;
  }

  /** Delay (ms) the caller must wait before sending; the slot is reserved. */
  reserve(key: string): number {
    // Monotonic: a wall clock stepped back an hour must not hold every request for that hour.
    const now = monotonicNow(this.clock);
    // GCRA: a tolerance of (B-1)·T admits B requests at once, then one per T.
    const tat = Math.max(this.tat.get(key) ?? now, now);
    const allowedAt = tat - this.tolerance;
    this.tat.set(key, tat + this.interval);
    // Whole milliseconds; the epsilon absorbs floating-point residue (times are ~1.7e12 ms).
    return Math.max(0, Math.ceil(allowedAt - now - 0.01));
  }

  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(key);
    if (wait > 0) await this.clock.sleep(wait, signal);
  }
}

export class TimewebClient {
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: FetchFn;
  private readonly clock: Clock;
  private readonly random: RandomFn;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number | undefined;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly limiter: RateLimiter | undefined;
  private readonly onRequest: ((e: TimewebRequestEvent) => void) | undefined;

  constructor(opts: TimewebClientOptions) {
    this.base = (opts.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchFn = opts.fetch;
    this.clock = opts.clock;
    this.random = opts.random;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes;
    this.retries = Math.max(0, opts.retries ?? 4);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
    this.pageSize = opts.pageSize ?? 100;
    this.maxPages = opts.maxPages ?? 1000;
    const rl = opts.rateLimit === undefined ? { perSecond: 15, burst: 5 } : opts.rateLimit;
    this.limiter = rl === false ? undefined : new RateLimiter(opts.clock, rl);
    this.onRequest = opts.onRequest;
  }

  /** The base URL without credentials, for messages. */
  get baseUrl(): string {
    return redactUrl(this.base);
  }

  // ---- servers ----

  /**
   * `POST /api/v1/servers`. Never retried: on an ambiguous failure, list before creating again.
   * `secrets`: texts besides the user-data that must not appear in an error (the agent's token: with a custom
   * template it need not sit on a `KEY=value` line of the user-data, so it cannot be told from the text alone).
   */
  async createServer(req: TwCreateServerRequest, signal?: AbortSignal, secrets: readonly string[] = []): Promise<TwServer> {
    const endpoint: TimewebEndpoint = 'POST /api/v1/servers';
    const hidden = secretTexts(req.cloud_init, secrets);
    const body = await this.json({ method: 'POST', endpoint, path: '/api/v1/servers', body: req, secrets: hidden }, signal);
    return this.server(endpoint, field(body, 'server'));
  }

  /** `GET /api/v1/servers/:id`; undefined when the server does not exist (404). */
  async getServer(id: number, signal?: AbortSignal): Promise<TwServer | undefined> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/servers/:id';
    try {
      const body = await this.json({ method: 'GET', endpoint, path: `/api/v1/servers/${enc(id)}` }, signal);
      return this.server(endpoint, field(body, 'server'));
    } catch (err) {
      if (err instanceof TimewebApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** One page of `GET /api/v1/servers`. */
  async listServersPage(limit: number, offset: number, signal?: AbortSignal): Promise<TimewebServersPage> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/servers';
    const body = await this.json(
      { method: 'GET', endpoint, path: `/api/v1/servers?limit=${enc(limit)}&offset=${enc(offset)}` },
      signal,
    );
    const servers = this.array(endpoint, body, 'servers').map((s) => this.server(endpoint, s));
    return { servers, total: metaTotal(body) };
  }

  /** Every server on the account: pages of `pageSize` until `meta.total` is reached or a page comes back empty. */
  async listServers(signal?: AbortSignal): Promise<TwServer[]> {
    const out: TwServer[] = [];
    const seen = new Set<number>();
    for (let page = 0; page < this.maxPages; page++) {
      const { servers, total } = await this.listServersPage(this.pageSize, out.length, signal);
      if (servers.length === 0) break;
      for (const s of servers) {
        // A server created between two pages shifts the offsets: never report one twice.
        if (seen.has(s.id)) continue;
        seen.add(s.id);
        out.push(s);
      }
      if (total !== undefined && out.length >= total) break;
      if (total === undefined && servers.length < this.pageSize) break;
    }
    return out;
  }

  /**
   * `DELETE /api/v1/servers/:id` (optionally with the confirmation `hash`/`code`).
   * 204 → deleted; 404 → not-found; 200 with a hash → confirmation-required (NOT deleted);
   * 200 with `is_moved_in_quarantine` → quarantined. 423 (deletion locked by SMS/Telegram confirmation) throws.
   */
  async deleteServer(
    id: number,
    opts: { hash?: string; code?: string } = {},
    signal?: AbortSignal,
  ): Promise<TwDeleteServerResult> {
    const endpoint: TimewebEndpoint = 'DELETE /api/v1/servers/:id';
    const q = new URLSearchParams();
    if (opts.hash !== undefined) q.set('hash', opts.hash);
    if (opts.code !== undefined) q.set('code', opts.code);
    const qs = q.size > 0 ? `?${q.toString()}` : '';
    let raw: RawResponse;
    try {
      raw = await this.call({ method: 'DELETE', endpoint, path: `/api/v1/servers/${enc(id)}${qs}` }, signal);
    } catch (err) {
      if (err instanceof TimewebApiError && err.status === 404) return { kind: 'not-found' };
      throw err;
    }
    if (raw.status === 204 || raw.text.trim() === '') return { kind: 'deleted' };
    const body = this.parse(endpoint, raw);
    const sd = field(body, 'server_delete');
    if (isRecord(sd)) {
      if (sd.is_moved_in_quarantine === true) return { kind: 'quarantined' };
      if (typeof sd.hash === 'string' && sd.hash !== '') return { kind: 'confirmation-required', hash: sd.hash };
    }
    // An unknown 2xx answer: assume the deletion went through but let the caller verify.
    return { kind: 'deleted' };
  }

  /** `PATCH /api/v1/servers/:id` with `{comment}` (at most 255 characters). */
  async updateServerComment(id: number, comment: string, signal?: AbortSignal): Promise<TwServer> {
    const endpoint: TimewebEndpoint = 'PATCH /api/v1/servers/:id';
    const body = await this.json({ method: 'PATCH', endpoint, path: `/api/v1/servers/${enc(id)}`, body: { comment } }, signal);
    return this.server(endpoint, field(body, 'server'));
  }

  // ---- floating IPs ----

  async listFloatingIps(signal?: AbortSignal): Promise<TwFloatingIp[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/floating-ips';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/floating-ips' }, signal);
    return this.array(endpoint, body, 'ips').map((x) => this.floatingIp(endpoint, x));
  }

  /** `DELETE /api/v1/floating-ips/:id`: 204 → deleted, 404 → not-found. */
  async deleteFloatingIp(id: string, signal?: AbortSignal): Promise<'deleted' | 'not-found'> {
    const endpoint: TimewebEndpoint = 'DELETE /api/v1/floating-ips/:id';
    try {
      await this.call({ method: 'DELETE', endpoint, path: `/api/v1/floating-ips/${enc(id)}` }, signal);
      return 'deleted';
    } catch (err) {
      if (err instanceof TimewebApiError && err.status === 404) return 'not-found';
      throw err;
    }
  }

  /** `PATCH /api/v1/floating-ips/:id` with `{comment}`. */
  async updateFloatingIpComment(id: string, comment: string, signal?: AbortSignal): Promise<TwFloatingIp | undefined> {
    const endpoint: TimewebEndpoint = 'PATCH /api/v1/floating-ips/:id';
    const body = await this.json(
      { method: 'PATCH', endpoint, path: `/api/v1/floating-ips/${enc(id)}`, body: { comment } },
      signal,
    );
    const ip = field(body, 'ip');
    return isRecord(ip) ? this.floatingIp(endpoint, ip) : undefined;
  }

  // ---- catalogs ----

  async listOs(signal?: AbortSignal): Promise<TwOs[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/os/servers';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/os/servers' }, signal);
    return this.array(endpoint, body, 'servers_os').map((x) => this.checked<TwOs>(endpoint, x, ['id', 'name']));
  }

  async listPresets(signal?: AbortSignal): Promise<TwPreset[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/presets/servers';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/presets/servers' }, signal);
    return this.array(endpoint, body, 'server_presets').map((x) =>
      this.checked<TwPreset>(endpoint, x, ['id', 'location', 'cpu', 'ram', 'disk']),
    );
  }

  async listConfigurators(signal?: AbortSignal): Promise<TwConfigurator[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/configurator/servers';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/configurator/servers' }, signal);
    return this.array(endpoint, body, 'server_configurators').map((x) =>
      this.checked<TwConfigurator>(endpoint, x, ['id', 'location', 'requirements']),
    );
  }

  async listLocations(signal?: AbortSignal): Promise<TwLocation[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v2/locations';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v2/locations' }, signal);
    return this.array(endpoint, body, 'locations').map((x) => {
      const loc = this.checked<TwLocation>(endpoint, x, ['location']);
      return { ...loc, availability_zones: Array.isArray(loc.availability_zones) ? loc.availability_zones : [] };
    });
  }

  /** `GET /api/v1/ssh-keys`: the real key is `ssh_keys`; the schema says `ssh-keys`. Both are accepted. */
  async listSshKeys(signal?: AbortSignal): Promise<TwSshKey[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/ssh-keys';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/ssh-keys' }, signal);
    const key = isRecord(body) && !('ssh_keys' in body) && 'ssh-keys' in body ? 'ssh-keys' : 'ssh_keys';
    return this.array(endpoint, body, key).map((x) => this.checked<TwSshKey>(endpoint, x, ['id', 'name']));
  }

  async listProjects(signal?: AbortSignal): Promise<TwProject[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/projects';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/projects' }, signal);
    return this.array(endpoint, body, 'projects').map((x) => this.checked<TwProject>(endpoint, x, ['id', 'name']));
  }

  /** `GET /api/v1/projects/:id/resources/servers` (no pagination in the API). */
  async listProjectServers(projectId: number, signal?: AbortSignal): Promise<TwServer[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/projects/:id/resources/servers';
    const body = await this.json(
      { method: 'GET', endpoint, path: `/api/v1/projects/${enc(projectId)}/resources/servers` },
      signal,
    );
    return this.array(endpoint, body, 'servers').map((s) => this.server(endpoint, s));
  }

  // ---- account ----

  async getAccountStatus(signal?: AbortSignal): Promise<TwAccountStatus> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/account/status';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/account/status' }, signal);
    return this.checked<TwAccountStatus>(endpoint, field(body, 'status'), []);
  }

  async getFinances(signal?: AbortSignal): Promise<TwFinances> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/account/finances';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/account/finances' }, signal);
    return this.checked<TwFinances>(endpoint, field(body, 'finances'), ['balance']);
  }

  /** `GET /api/v1/account/services/cost`: what each active service of the account costs, with its parts. */
  async getServiceCosts(signal?: AbortSignal): Promise<TwServiceCost[]> {
    const endpoint: TimewebEndpoint = 'GET /api/v1/account/services/cost';
    const body = await this.json({ method: 'GET', endpoint, path: '/api/v1/account/services/cost' }, signal);
    return this.array(endpoint, body, 'services_costs').map((x) => this.checked<TwServiceCost>(endpoint, x, ['type', 'cost']));
  }

  // ---- plumbing ----

  /**
   * One JSON call for the endpoint modules beside this client (images-api.ts): the same rate limit, retries (GET and
   * DELETE only), error mapping and secret scrubbing as the methods above. An empty 2xx body reads as `{}`.
   */
  async requestJson(spec: CallSpec, signal?: AbortSignal): Promise<unknown> {
    return this.json(spec, signal);
  }

  private server(endpoint: TimewebEndpoint, x: unknown): TwServer {
    const s = this.checked<TwServer>(endpoint, x, ['id', 'name', 'status']);
    return { ...s, comment: typeof s.comment === 'string' ? s.comment : null };
  }

  private floatingIp(endpoint: TimewebEndpoint, x: unknown): TwFloatingIp {
    const ip = this.checked<TwFloatingIp>(endpoint, x, ['id']);
    return {
      ...ip,
      id: String(ip.id),
      ip: typeof ip.ip === 'string' ? ip.ip : null,
      resource_id: typeof ip.resource_id === 'number' ? ip.resource_id : null,
      resource_type: typeof ip.resource_type === 'string' ? ip.resource_type : null,
      comment: typeof ip.comment === 'string' ? ip.comment : null,
    };
  }

  /** Checks that `x` is an object with the given keys; the rest of the shape is trusted. */
  private checked<T>(endpoint: TimewebEndpoint, x: unknown, keys: readonly string[]): T {
    if (!isRecord(x)) throw this.malformed(endpoint, `expected an object, got ${describeValue(x)}`);
    for (const k of keys) {
      if (x[k] === undefined || x[k] === null) throw this.malformed(endpoint, `object without "${k}"`);
    }
    return x as T;
  }

  private array(endpoint: TimewebEndpoint, body: unknown, key: string): unknown[] {
    const v = field(body, key);
    if (v === null) return [];
    if (!Array.isArray(v)) throw this.malformed(endpoint, `expected "${key}" to be an array, got ${describeValue(v)}`);
    return v;
  }

  private malformed(endpoint: TimewebEndpoint, what: string): TimewebApiError {
    return new TimewebApiError({ kind: 'malformed', status: 200, endpoint, apiMessage: `unexpected response: ${what}` });
  }

  private async json(spec: CallSpec, signal?: AbortSignal): Promise<unknown> {
    const raw = await this.call(spec, signal);
    return this.parse(spec.endpoint, raw);
  }

  private parse(endpoint: TimewebEndpoint, raw: RawResponse): unknown {
    if (raw.text.trim() === '') return {};
    try {
      return JSON.parse(raw.text) as unknown;
    } catch {
      throw new TimewebApiError({
        kind: 'malformed',
        status: raw.status,
        endpoint,
        apiMessage: `non-JSON response (${contentTypeOf(raw)}): ${this.snippet(raw.text)}`,
      });
    }
  }

  /** One logical call: rate limit, attempt, retries for GET/DELETE. Resolves with a 2xx answer, else throws. */
  private async call(spec: CallSpec, signal?: AbortSignal): Promise<RawResponse> {
    const idempotent = spec.method === 'GET' || spec.method === 'DELETE';
    const maxAttempts = idempotent ? this.retries + 1 : 1;
    for (let attempt = 0; ; attempt++) {
      if (this.limiter) await this.limiter.acquire(spec.endpoint, signal);
      let err: TimewebApiError;
      try {
        const raw = await this.attempt(spec, signal);
        if (raw.status >= 200 && raw.status < 300) return raw;
        err = this.statusError(spec.endpoint, raw, spec.secrets);
      } catch (e) {
        if (!(e instanceof TimewebApiError)) throw e; // the caller's abort
        err = e;
      }
      if (attempt + 1 >= maxAttempts || !err.retryable) throw err;
      await this.clock.sleep(this.backoff(attempt, err.status === 429), signal);
    }
  }

  private backoff(n: number, rateLimited: boolean): number {
    const base = rateLimited ? Math.max(this.retryBaseMs, 1000) : this.retryBaseMs;
    return backoffDelay(n, base, this.retryMaxMs, this.random);
  }

  /** One HTTP attempt with its own timeout on the injected clock. */
  private async attempt(spec: CallSpec, signal?: AbortSignal): Promise<RawResponse> {
    const started = monotonicNow(this.clock);
    let status = 0;
    try {
      const raw = await attempt({
        fetch: this.fetchFn,
        url: this.base + spec.path,
        method: spec.method,
        bearer: this.token,
        headers: { 'User-Agent': 'twcloud-scaler' },
        json: spec.body,
        clock: this.clock,
        timeoutMs: this.timeoutMs,
        signal,
        maxResponseBytes: this.maxResponseBytes,
      });
      status = raw.status;
      return raw;
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err; // the caller's abort
      if (err.kind === 'too-large') {
        status = err.status;
        throw new TimewebApiError({ kind: 'too-large', status: err.status, endpoint: spec.endpoint, apiMessage: err.message });
      }
      throw new TimewebApiError({
        kind: err.kind,
        status: 0,
        endpoint: spec.endpoint,
        apiMessage:
          err.kind === 'timeout'
            ? `no answer from ${redactUrl(this.base)} within ${this.timeoutMs} ms`
            : `cannot reach ${redactUrl(this.base)}: ${this.scrub(err.message)}`,
        ...(err.kind === 'network' ? { cause: err.cause } : {}),
      });
    } finally {
      this.report(spec.endpoint, status, monotonicNow(this.clock) - started);
    }
  }

  private report(endpoint: TimewebEndpoint, status: number, durationMs: number): void {
    if (!this.onRequest) return;
    const e: TimewebRequestEvent = { endpoint, status, durationMs: Math.max(0, durationMs) };
    if (status === 429) e.rateLimited = true;
    try {
      this.onRequest(e);
    } catch {
      // metrics must never break a call
    }
  }

  private statusError(endpoint: TimewebEndpoint, raw: RawResponse, secrets: string[] = []): TimewebApiError {
    const text = raw.text.trim();
    let body: unknown;
    let isJson = false;
    if (text !== '') {
      try {
        body = JSON.parse(text) as unknown;
        isJson = true;
      } catch {
        isJson = false;
      }
    }
    let errorCode: string | undefined;
    let responseId: string | undefined;
    let message: string | undefined;
    if (isJson && isRecord(body)) {
      if (typeof body.error_code === 'string') errorCode = this.scrub(body.error_code, secrets);
      if (typeof body.response_id === 'string') responseId = this.scrub(body.response_id, secrets);
      if (typeof body.message === 'string') message = body.message;
      else if (Array.isArray(body.message)) message = body.message.map((m) => String(m)).join('; ');
    }
    if (message !== undefined) message = this.scrub(message, secrets);
    const hint = statusHint(endpoint, raw.status);
    let apiMessage: string;
    if (text === '') apiMessage = hint ?? 'empty response body';
    else if (!isJson) apiMessage = `non-JSON response (${contentTypeOf(raw)}): ${this.snippet(text, secrets)}`;
    else if (message !== undefined && message !== '') apiMessage = hint ? `${hint}: ${message}` : message;
    else apiMessage = hint ?? this.snippet(text, secrets);
    const retryAfterMs = raw.status === 429 ? parseRetryAfter(raw.headers.get('retry-after'), this.clock.now()) : undefined;
    return new TimewebApiError({ kind: 'http', status: raw.status, endpoint, errorCode, apiMessage, responseId, retryAfterMs });
  }

  private snippet(text: string, secrets: string[] = []): string {
    const flat = this.scrub(this.scrub(text, secrets).replace(/\s+/g, ' ').trim());
    return flat.length > SNIPPET ? `${flat.slice(0, SNIPPET)}…` : flat;
  }

  /** Belt and braces: the token (and the call's secrets) never appear in an error, even if echoed back. */
  private scrub(s: string, secrets: readonly string[] = []): string {
    let out = s;
    for (const secret of [this.token, ...secrets]) {
      if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    }
    return out;
  }
}

/**
 * The user-data, each of its longer lines, and the extra secrets: an API error might echo (part of) them, as they
 * are or JSON-escaped (a body that quotes our request), once or twice.
 */
function secretTexts(userData: string | undefined, extra: readonly string[] = []): string[] {
  const texts: string[] = [];
  if (userData !== undefined && userData !== '') {
    const lines = userData.split(/\r?\n/).map((l) => l.trim());
    // `KEY=value` lines (the agent secret): the value alone too — after the first `=` (a base32 token ends in
    // `=` padding) and after the last one (`- KEY=value` inside a quoted string).
    const values = lines.flatMap((l) => [l.slice(l.indexOf('=') + 1).trim(), l.slice(l.lastIndexOf('=') + 1).trim()]);
    texts.push(...[userData, ...lines, ...values].filter((x) => x.length >= 12));
  }
  texts.push(...extra.filter((x) => x.length >= 6));
  const escaped = (x: string): string => JSON.stringify(x).slice(1, -1);
  const all = texts.flatMap((x) => [x, escaped(x), escaped(escaped(x))]);
  // Longest first, so a whole text is replaced before its parts.
  return [...new Set(all)].sort((a, b) => b.length - a.length);
}

/** A readable explanation for statuses whose bodies are empty or terse. */
function statusHint(endpoint: TimewebEndpoint, status: number): string | undefined {
  if (status === 401) return 'API token invalid or expired';
  if (status === 403) return 'forbidden: the API token lacks permission for this operation';
  if (status === 423 && endpoint === 'DELETE /api/v1/servers/:id') {
    return (
      'server deletion is locked: the account requires SMS or Telegram confirmation to delete servers; ' +
      'turn deletion confirmation off for the API token'
    );
  }
  if (status === 423) return 'the resource is locked against this operation';
  if (status === 429) return 'too many requests (Timeweb allows about 20 requests per second per endpoint)';
  return undefined;
}

function field(body: unknown, key: string): unknown {
  return isRecord(body) ? body[key] : undefined;
}

function metaTotal(body: unknown): number | undefined {
  const meta = field(body, 'meta');
  return isRecord(meta) && typeof meta.total === 'number' ? meta.total : undefined;
}

function enc(x: string | number): string {
  return encodeURIComponent(String(x));
}

function contentTypeOf(raw: RawResponse): string {
  return raw.contentType.split(';')[0]?.trim() || 'no content type';
}

function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}



