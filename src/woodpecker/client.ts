import { monotonicNow, systemClock } from '../util/clock.js';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { isRecord } from '../util/guards.js';
import { attempt, AttemptFailure, backoffDelay, redactUrl, type RawResponse } from '../util/http.js';
import type { QueueInfo, QueueStats, WoodpeckerAgent, WoodpeckerTask } from './types.js';

/**
 * REST client for the Woodpecker server (v3). It handles the server's traps (reference §1.3):
 * - every list endpoint may answer JSON `null` for "empty";
 * - `/api/agents` is capped at 50 per page: we walk every page;
 * - an unknown route answers **200 text/html** (the web UI), so every 2xx must carry JSON or it is a wrong base URL;
 * - PATCH overwrites both `name` and `no_schedule`, so both are always sent;
 * - without `Content-Type: application/json` the server silently ignores the body.
 * Only GETs are retried; a create is never repeated blindly.
 */

/** Route templates, used in metrics (`onRequest`) and error messages. */
export type WoodpeckerEndpoint =
  | 'GET /api/queue/info'
  | 'GET /api/agents'
  | 'POST /api/agents'
  | 'PATCH /api/agents/:id'
  | 'DELETE /api/agents/:id'
  | 'GET /api/agents/:id/tasks'
  | 'GET /version';

export interface WoodpeckerRequestEvent {
  endpoint: WoodpeckerEndpoint;
  /** HTTP status; 0 = network error or timeout. */
  status: number;
  durationMs: number;
}

export interface WoodpeckerClientOptions {
  /** The server's base URL (WOODPECKER_SERVER), e.g. `https://ci.example.com` or `https://example.com/ci`. */
  baseUrl: string;
  /** Personal access token of an admin user. Never logged. */
  token: string;
  fetch: FetchFn;
  /** Used for backoff sleeps and durations. */
  clock: Clock;
  /** Jitter source for retries (pass `Math.random` at the outer edge). Default: no jitter randomness (0.5). */
  random?: RandomFn;
  /** Per-attempt timeout, covering the response body. Default 30 s. */
  timeoutMs?: number;
  /**
   * The clock the per-attempt timeout runs on. Default: real timers. The composition root passes the injected
   * clock, so in virtual time (simulator, chaos tests) a request that never answers times out in virtual time.
   */
  timeoutClock?: Clock;
  /** Largest response body read (bytes); a larger answer is an error naming the endpoint. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Extra attempts for GETs on network errors, timeouts, 429 and 5xx. Default 3. */
  getRetries?: number;
  /** First backoff delay; doubles per retry. Default 500 ms. */
  retryBaseMs?: number;
  /** Upper bound of one backoff delay. Default 10 s. */
  retryMaxMs?: number;
  /** Safety cap for the agent list walk (50 agents per page). Default 200 pages. */
  maxPages?: number;
  /** Called once per HTTP attempt (metrics). Must not throw. */
  onRequest?: (e: WoodpeckerRequestEvent) => void;
}

export type DeleteAgentResult = 'deleted' | 'has-running-tasks' | 'not-found';

/** Any failed call. `status` 0 = the server could not be reached (network error, timeout). */
export class WoodpeckerApiError extends Error {
  override name = 'WoodpeckerApiError';
  readonly status: number;
  readonly endpoint: WoodpeckerEndpoint;
  /** Response body as text, truncated (never contains the token). */
  readonly body: string;
  constructor(message: string, status: number, endpoint: WoodpeckerEndpoint, body = '', options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.endpoint = endpoint;
    this.body = body;
  }
}

const PER_PAGE = 50;
const BODY_LIMIT = 500;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface CallSpec {
  method: Method;
  endpoint: WoodpeckerEndpoint;
  /** Path below the base URL, starting with `/`. */
  path: string;
  body?: unknown;
  /** Agent id for "agent N not found" messages. */
  agentId?: number;
  /** Send the Authorization header (false for /version). */
  auth?: boolean;
  /** Retry override (GETs retry by default). */
  retries?: number;
}

export class WoodpeckerClient {
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: FetchFn;
  private readonly clock: Clock;
  private readonly random: RandomFn;
  private readonly timeoutMs: number;
  private readonly timeoutClock: Clock;
  private readonly maxResponseBytes: number | undefined;
  private readonly getRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxPages: number;
  private readonly onRequest: ((e: WoodpeckerRequestEvent) => void) | undefined;
  /** The last `Date` header the server sent (unix ms, 1 s resolution) and the monotonic time it arrived. */
  private serverDate: { at: number; mono: number } | undefined;

  constructor(opts: WoodpeckerClientOptions) {
    this.base = normalizeBaseUrl(opts.baseUrl);
    this.token = opts.token;
    this.fetchFn = opts.fetch;
    this.clock = opts.clock;
    this.random = opts.random ?? (() => 0.5);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.timeoutClock = opts.timeoutClock ?? systemClock;
    this.maxResponseBytes = opts.maxResponseBytes;
    this.getRetries = Math.max(0, opts.getRetries ?? 3);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
    this.maxPages = opts.maxPages ?? 200;
    this.onRequest = opts.onRequest;
  }

  /**
   * An estimate of the Woodpecker server's clock now (unix ms), from the `Date` header of its last answer carried
   * forward on our monotonic clock; undefined before any answer with a `Date` header. Agent timestamps
   * (`created`, `last_contact`, `last_work`) are stamped by that clock, so ages computed against it are immune to
   * a skewed or stepped daemon clock. The header has 1 s resolution (truncated): the middle of that second is used.
   */
  serverNow(): number | undefined {
    const d = this.serverDate;
    if (!d) return undefined;
    return d.at + 500 + (monotonicNow(this.clock) - d.mono);
  }

  /** The normalised base URL (trailing `/` stripped), without credentials, for messages. */
  get baseUrl(): string {
    return redactUrl(this.base);
  }

  async queueInfo(signal?: AbortSignal): Promise<QueueInfo> {
    const endpoint: WoodpeckerEndpoint = 'GET /api/queue/info';
    const raw = await this.callJson({ method: 'GET', endpoint, path: '/api/queue/info' }, signal);
    if (!isRecord(raw) || !isRecord(raw.stats)) throw this.shapeError(endpoint, 'an object with "stats"', raw);
    const s = raw.stats;
    const stats: QueueStats = {
      worker_count: num(s.worker_count),
      pending_count: num(s.pending_count),
      waiting_on_deps_count: num(s.waiting_on_deps_count),
      running_count: num(s.running_count),
    };
    return {
      pending: taskList(raw.pending),
      waiting_on_deps: taskList(raw.waiting_on_deps),
      running: taskList(raw.running),
      stats,
      paused: raw.paused === true,
    };
  }

  /** Every agent on the server, walking all pages (the server caps a page at 50). */
  async listAgents(signal?: AbortSignal): Promise<WoodpeckerAgent[]> {
    const endpoint: WoodpeckerEndpoint = 'GET /api/agents';
    const seen = new Set<number>();
    const out: WoodpeckerAgent[] = [];
    for (let page = 1; page <= this.maxPages; page++) {
      const raw = await this.callJson(
        { method: 'GET', endpoint, path: `/api/agents?page=${page}&perPage=${PER_PAGE}` },
        signal,
      );
      if (raw === null) return out;
      if (!Array.isArray(raw)) throw this.shapeError(endpoint, 'a list of agents', raw);
      for (const item of raw) {
        const agent = toAgent(item);
        if (!agent) throw this.shapeError(endpoint, 'a list of agents', item);
        // Offset pagination can repeat an agent when another one is deleted between pages.
        if (seen.has(agent.id)) continue;
        seen.add(agent.id);
        out.push(agent);
      }
      if (raw.length < PER_PAGE) return out;
    }
    throw new WoodpeckerApiError(
      `${endpoint}: more than ${this.maxPages} pages (${this.maxPages * PER_PAGE} agents); stopped walking the list`,
      200,
      endpoint,
    );
  }

  /**
   * Registers an agent; the answer carries its per-agent token. Never retried (a retry could create a twin).
   * `noSchedule` registers it drained (the lease record: it must never get work).
   */
  async createAgent(name: string, signal?: AbortSignal, opts: { noSchedule?: boolean } = {}): Promise<WoodpeckerAgent> {
    const endpoint: WoodpeckerEndpoint = 'POST /api/agents';
    const raw = await this.callJson(
      { method: 'POST', endpoint, path: '/api/agents', body: { name, no_schedule: opts.noSchedule === true } },
      signal,
    );
    const agent = toAgent(raw);
    if (!agent) throw this.shapeError(endpoint, 'an agent', raw);
    return agent;
  }

  /** Sets name and no_schedule. Both are always sent: the server overwrites both (an omitted name is blanked). */
  async updateAgent(
    a: { id: number; name: string; no_schedule: boolean },
    signal?: AbortSignal,
  ): Promise<WoodpeckerAgent> {
    const endpoint: WoodpeckerEndpoint = 'PATCH /api/agents/:id';
    const raw = await this.callJson(
      {
        method: 'PATCH',
        endpoint,
        path: `/api/agents/${agentPath(a.id)}`,
        body: { name: a.name, no_schedule: a.no_schedule },
        agentId: a.id,
      },
      signal,
    );
    const agent = toAgent(raw);
    if (!agent) throw this.shapeError(endpoint, 'an agent', raw);
    return agent;
  }

  /** 409 (the agent still runs tasks) and 404 are outcomes, not exceptions. Never retried. */
  async deleteAgent(id: number, signal?: AbortSignal): Promise<DeleteAgentResult> {
    const endpoint: WoodpeckerEndpoint = 'DELETE /api/agents/:id';
    const res = await this.call(
      { method: 'DELETE', endpoint, path: `/api/agents/${agentPath(id)}`, agentId: id },
      signal,
    );
    if (res.status === 409) return 'has-running-tasks';
    if (res.status === 404) return 'not-found';
    if (res.status >= 200 && res.status < 300) {
      // The real server answers 204; a 2xx with a non-JSON body is the web UI answering for an unknown route.
      if (res.status !== 204 && res.text.trim() !== '' && !isJson(res.contentType)) {
        throw this.htmlError(endpoint, res);
      }
      return 'deleted';
    }
    throw this.statusError(endpoint, res, id);
  }

  /** Running tasks of an agent (JSON `null` = none). */
  async agentTasks(id: number, signal?: AbortSignal): Promise<WoodpeckerTask[]> {
    const endpoint: WoodpeckerEndpoint = 'GET /api/agents/:id/tasks';
    const raw = await this.callJson(
      { method: 'GET', endpoint, path: `/api/agents/${agentPath(id)}/tasks`, agentId: id },
      signal,
    );
    if (raw !== null && !Array.isArray(raw)) throw this.shapeError(endpoint, 'a list of tasks', raw);
    return taskList(raw);
  }

  /** Server version from `GET /version` (unauthenticated); undefined when it cannot be read. Never throws. */
  async serverVersion(signal?: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.call(
        { method: 'GET', endpoint: 'GET /version', path: '/version', auth: false, retries: 0 },
        signal,
      );
      if (res.status < 200 || res.status >= 300) return undefined;
      if (isJson(res.contentType)) {
        const raw: unknown = JSON.parse(res.text);
        if (isRecord(raw) && typeof raw.version === 'string' && raw.version !== '') return raw.version;
      }
      return res.headers.get('x-woodpecker-version') ?? undefined;
    } catch (err) {
      if (signal?.aborted) throw err;
      return undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** Performs the call and decodes a JSON 2xx answer; any other answer becomes a WoodpeckerApiError. */
  private async callJson(spec: CallSpec, signal?: AbortSignal): Promise<unknown> {
    const res = await this.call(spec, signal);
    if (res.status < 200 || res.status >= 300) throw this.statusError(spec.endpoint, res, spec.agentId);
    if (!isJson(res.contentType)) throw this.htmlError(spec.endpoint, res);
    try {
      return JSON.parse(res.text) as unknown;
    } catch (err) {
      throw new WoodpeckerApiError(
        `${spec.endpoint}: the server answered invalid JSON`,
        res.status,
        spec.endpoint,
        this.clip(res.text),
        { cause: err },
      );
    }
  }

  /** One logical call, with retries for GETs. Resolves with any HTTP answer; throws on network errors/timeouts. */
  private async call(spec: CallSpec, signal?: AbortSignal): Promise<RawResponse> {
    const retries = spec.retries ?? (spec.method === 'GET' ? this.getRetries : 0);
    for (let n = 0; ; n++) {
      let res: RawResponse | undefined;
      let failure: WoodpeckerApiError | undefined;
      try {
        res = await this.attempt(spec, signal);
      } catch (err) {
        if (!(err instanceof WoodpeckerApiError)) throw err; // caller's abort
        failure = err;
      }
      // An oversized answer would be just as big again: not retried.
      const tooLarge = failure?.cause instanceof AttemptFailure && failure.cause.kind === 'too-large';
      const retryable =
        (failure !== undefined && !tooLarge) || (res !== undefined && (res.status === 429 || res.status >= 500));
      if (!retryable || n >= retries) {
        if (failure) throw failure;
        if (res) return res;
      }
      await this.clock.sleep(this.backoff(n, res), signal);
    }
  }

  private backoff(attempt: number, res: RawResponse | undefined): number {
    let delay = backoffDelay(attempt, this.retryBaseMs, this.retryMaxMs, this.random);
    const retryAfter = res?.headers.get('retry-after');
    if (retryAfter && /^\d+$/.test(retryAfter.trim())) {
      delay = Math.max(delay, Math.min(this.retryMaxMs, Number(retryAfter.trim()) * 1000));
    }
    return Math.round(delay);
  }

  /** One HTTP attempt with its own timeout. The injected fetch may ignore the signal, so we race it too. */
  private async attempt(spec: CallSpec, signal?: AbortSignal): Promise<RawResponse> {
    const started = monotonicNow(this.clock);
    let status = 0;
    try {
      const res = await attempt({
        fetch: this.fetchFn,
        url: this.base + spec.path,
        method: spec.method,
        ...(spec.auth !== false ? { bearer: this.token } : {}),
        json: spec.body,
        clock: this.timeoutClock,
        timeoutMs: this.timeoutMs,
        signal,
        maxResponseBytes: this.maxResponseBytes,
      });
      status = res.status;
      this.noteDate(res.headers.get('date'));
      return res;
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err;
      if (err.kind === 'too-large') {
        status = err.status;
        throw new WoodpeckerApiError(`${spec.endpoint}: ${err.message}`, err.status, spec.endpoint, '', { cause: err });
      }
      if (err.kind === 'timeout') {
        throw new WoodpeckerApiError(
          `${spec.endpoint}: no answer from the Woodpecker server at ${redactUrl(this.base)} within ${this.timeoutMs} ms`,
          0,
          spec.endpoint,
        );
      }
      throw new WoodpeckerApiError(
        `${spec.endpoint}: cannot reach the Woodpecker server at ${redactUrl(this.base)}: ${this.scrub(err.message)}`,
        0,
        spec.endpoint,
        '',
        { cause: err.cause },
      );
    } finally {
      this.report(spec.endpoint, status, monotonicNow(this.clock) - started);
    }
  }

  private noteDate(header: string | null): void {
    if (!header) return;
    const at = Date.parse(header);
    if (Number.isFinite(at)) this.serverDate = { at, mono: monotonicNow(this.clock) };
  }

  private report(endpoint: WoodpeckerEndpoint, status: number, durationMs: number): void {
    if (!this.onRequest) return;
    try {
      this.onRequest({ endpoint, status, durationMs: Math.max(0, durationMs) });
    } catch {
      // metrics must never break a call
    }
  }

  private htmlError(endpoint: WoodpeckerEndpoint, res: RawResponse): WoodpeckerApiError {
    const type = res.contentType.split(';')[0]?.trim() || 'no content type';
    let hint = `the server URL is probably wrong (it must be the Woodpecker server's base URL, e.g. https://ci.example.com)`;
    if (/\/api$/i.test(this.base)) hint += `; drop the trailing "/api" from ${redactUrl(this.base)}`;
    return new WoodpeckerApiError(
      `${endpoint} answered with ${type} instead of JSON: ${hint}`,
      res.status,
      endpoint,
      this.clip(res.text),
    );
  }

  private statusError(endpoint: WoodpeckerEndpoint, res: RawResponse, agentId?: number): WoodpeckerApiError {
    const body = this.clip(res.text);
    const said = body.trim() === '' ? '' : `: ${body.trim()}`;
    let message: string;
    if (res.status === 401) {
      message = `${endpoint}: the Woodpecker server rejected the token (401${said}); the token is invalid or was reset, create a new personal access token`;
    } else if (res.status === 403) {
      message = `${endpoint}: access denied (403${said}); the token's user must be an admin of the Woodpecker server (WOODPECKER_ADMIN)`;
    } else if (res.status === 404 && agentId !== undefined) {
      message = `${endpoint}: agent ${agentId} not found (404)`;
    } else {
      message = `${endpoint} failed with HTTP ${res.status}${said}`;
    }
    return new WoodpeckerApiError(message, res.status, endpoint, body);
  }

  private shapeError(endpoint: WoodpeckerEndpoint, expected: string, got: unknown): WoodpeckerApiError {
    let text: string;
    try {
      text = JSON.stringify(got) ?? String(got);
    } catch {
      text = String(got);
    }
    return new WoodpeckerApiError(`${endpoint}: unexpected answer, expected ${expected}`, 200, endpoint, this.clip(text));
  }

  private clip(text: string): string {
    const clean = this.scrub(text);
    return clean.length > BODY_LIMIT ? `${clean.slice(0, BODY_LIMIT)}…` : clean;
  }

  /** Belt and braces: a token echoed by a proxy must never reach a message. */
  private scrub(text: string): string {
    return this.token.length >= 4 ? text.split(this.token).join('[redacted]') : text;
  }
}

// ---------------------------------------------------------------------------------------------------------------

function normalizeBaseUrl(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new Error(`invalid Woodpecker server URL "${raw}": expected e.g. https://ci.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`invalid Woodpecker server URL "${redactUrl(trimmed)}": it must start with http:// or https://`);
  }
  if (url.search || url.hash) {
    throw new Error(`invalid Woodpecker server URL "${redactUrl(trimmed)}": it must not carry a query or fragment`);
  }
  return trimmed;
}

function agentPath(id: number): string {
  if (!Number.isSafeInteger(id)) throw new Error(`invalid agent id ${String(id)}`);
  return String(id);
}

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) out[k] = typeof val === 'string' ? val : String(val);
  return out;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : String(x))) : [];
}

/** Normalises one agent; undefined when it is not an agent at all. `custom_labels: null` becomes `{}`. */
export function toAgent(v: unknown): WoodpeckerAgent | undefined {
  if (!isRecord(v) || typeof v.id !== 'number') return undefined;
  return {
    id: v.id,
    created: num(v.created),
    updated: num(v.updated),
    name: str(v.name),
    owner_id: num(v.owner_id),
    token: str(v.token),
    last_contact: num(v.last_contact),
    last_work: num(v.last_work),
    platform: str(v.platform),
    backend: str(v.backend),
    capacity: num(v.capacity),
    version: str(v.version),
    no_schedule: v.no_schedule === true,
    custom_labels: stringMap(v.custom_labels),
    org_id: num(v.org_id),
  };
}

/** Normalises one task: `null` labels/dependencies/run_on/dep_status become empty; the id is always a string. */
export function toTask(v: unknown): WoodpeckerTask {
  const r = isRecord(v) ? v : {};
  const task: WoodpeckerTask = {
    id: typeof r.id === 'number' ? String(r.id) : str(r.id),
    labels: stringMap(r.labels),
    dependencies: stringList(r.dependencies),
    run_on: stringList(r.run_on),
    dep_status: stringMap(r.dep_status),
    agent_id: num(r.agent_id),
  };
  if (typeof r.name === 'string') task.name = r.name;
  if (typeof r.pipeline_id === 'number') task.pipeline_id = r.pipeline_id;
  if (typeof r.repo_id === 'number') task.repo_id = r.repo_id;
  if (typeof r.created === 'number') task.created = r.created;
  return task;
}

function taskList(v: unknown): WoodpeckerTask[] {
  return Array.isArray(v) ? v.map(toTask) : [];
}
