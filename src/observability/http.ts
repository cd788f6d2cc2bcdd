import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import { roughDuration } from '../config/duration.js';
import { ConfigError } from '../config/types.js';
import type { EngineMemory } from '../engine/types.js';
import type { Clock } from '../util/clock.js';
import type { LeaseStatus } from '../engine/lease.js';
import { listen, type FetchApp, type Listening } from '../util/serve.js';
import type { Metrics } from './metrics.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './page.js';
import type { StatusTracker, TickStatus } from './status.js';
import { errorMessage } from '../util/guards.js';

/**
 * The status and admin HTTP listener (`--http-addr`).
 *
 * Read-only routes: `/healthz`, `/readyz`, `/metrics`, `/api/status`, `/api/decisions`, `/` (the status page).
 * Admin routes (mutating): `POST /api/pause`, `POST /api/resume`, `POST|DELETE /api/agents/:name/cordon`,
 * `POST /api/agents/:name/drain`.
 *
 * Admin access (see `adminAccessFor`):
 * - with `--http-token`: every admin request needs `Authorization: Bearer <token>` (401 otherwise);
 * - without a token on a loopback address: admin requests are accepted from local processes, but only with a
 *   loopback `Host` and no cross-site `Origin` (a browser tab cannot drive them: no CSRF, no DNS rebinding);
 * - without a token on any other address: the listener starts read-only and admin requests get 403.
 *
 * Host check (DNS rebinding): on a loopback bind (`127.0.0.1`, `[::1]`, `localhost`) every route, read-only ones
 * included, answers only requests whose `Host` is a loopback name (`localhost`, `*.localhost`, `127.x.x.x`, `[::1]`,
 * with or without the port); any other gets 421. A page on another site that rebinds its DNS name to 127.0.0.1 then
 * cannot read `/api/status` or `/metrics`. On any other bind (`0.0.0.0` in a container, a LAN address) the `Host` is
 * not checked: clients legitimately use the machine's name or address there; keep such a port off the internet.
 * No response ever carries a token, a password or user-data.
 */

/** The engine's admin surface; `Reconciler` implements it. */
export interface AdminControls {
  readonly state: EngineMemory;
  setPaused(paused: boolean): void;
  setCordoned(name: string, cordoned: boolean): void;
  requestDrain(name: string): void;
}

/** `token`: bearer token required; `loopback`: local, unauthenticated; `disabled`: read-only listener. */
export type AdminAccess = 'token' | 'loopback' | 'disabled';

export interface HttpAppOptions {
  /** Without controls the admin routes answer 503. */
  controls?: AdminControls;
  status: StatusTracker;
  metrics: Pick<Metrics, 'render'>;
  /** The admin bearer token (`--http-token`). */
  token?: string;
  /** Default: `token` when a token is given, else `disabled`. Use `adminAccessFor(addr, token)`. */
  adminAccess?: AdminAccess;
  /** Answer only requests with a loopback `Host` (421 otherwise). Set for a loopback bind: `hostCheckFor(addr)`. */
  loopbackHostOnly?: boolean;
  /** The tracker's clock (readiness reads the monotonic age of the last reconcile from the tracker). */
  clock: Clock;
  /** `/readyz` fails when the last full reconcile finished longer ago than this (ms); use 3 × the interval. */
  readiness: { maxTickAge: number };
  logger?: Logger;
}

export interface Readiness {
  ready: boolean;
  reason: string;
  lastFullTickAt: number | null;
  ageMs: number | null;
}

/**
 * Ready = a full reconcile finished within `maxTickAge` and in it both the Woodpecker server and the cloud API
 * answered, and this instance acts (holds the lease). Failed actions (a create refused by the cloud, say) do not
 * make the process unready: restarting it would not help; they show in `/api/status`, the logs and the metrics.
 * `ageMs` is measured on the monotonic clock (how long ago the last full reconcile finished), so stepping the wall
 * clock never makes it look stale or fresh.
 */
export function readiness(
  last: TickStatus | null,
  ageMs: number | null,
  maxTickAge: number,
  lease: Pick<LeaseStatus, 'role' | 'reason'> | null = null,
): Readiness {
  if (!last || ageMs === null) return { ready: false, reason: 'no full reconcile has finished yet', lastFullTickAt: null, ageMs: null };
  const base = { lastFullTickAt: last.finishedAt, ageMs };
  if (ageMs > maxTickAge) {
    return { ready: false, reason: `the last full reconcile finished ${roughDuration(ageMs)} ago (limit ${roughDuration(maxTickAge)})`, ...base };
  }
  if (!last.woodpeckerOk) {
    const why = last.errors[0] ?? 'no answer';
    return { ready: false, reason: `the Woodpecker server did not answer in the last reconcile: ${why}`, ...base };
  }
  if (!last.providerOk) {
    return { ready: false, reason: 'the cloud provider API did not answer in the last reconcile (listing servers failed)', ...base };
  }
  if (lease?.role === 'standby') return { ready: false, reason: `standing by, not acting: ${lease.reason}`, ...base };
  return { ready: true, reason: 'ok', ...base };
}

// ---- addresses ------------------------------------------------------------------------------------------------------

export interface HttpAddr {
  host: string;
  port: number;
}

/**
 * Parses `--http-addr`: `host:port`, `[v6]:port`, `:port` (all interfaces). `off` or empty → undefined (no listener).
 * @throws ConfigError on anything else.
 */
export function parseHttpAddr(addr: string): HttpAddr | undefined {
  const a = addr.trim();
  if (a === '' || a.toLowerCase() === 'off') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(a);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(
      `invalid value for --http-addr (WOODPECKER_HTTP_ADDR): ${JSON.stringify(addr)} is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080) or off`,
    );
  }
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : (m[2] as string));
  return { host, port };
}

/** localhost, 127.0.0.0/8, ::1 (and its IPv4-mapped form). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * A listen address that surely binds loopback only: a literal loopback IP, or `localhost`. A `*.localhost` name is
 * resolved through DNS when listening (unlike in browsers), so it may bind a public interface.
 */
export function isLoopbackListenHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return isLoopbackHost(h) && !h.endsWith('.localhost');
}

/**
 * Refuses to enable the mutating endpoints on a non-loopback address without a token.
 * @throws ConfigError with what to do.
 */
export function assertSafeBinding(addr: string, token: string | undefined): void {
  const parsed = parseHttpAddr(addr);
  if (!parsed || (token !== undefined && token !== '') || isLoopbackListenHost(parsed.host)) return;
  throw new ConfigError(
    `refusing to enable the admin endpoints (pause, resume, cordon, drain) on ${addr}: it is not a loopback address and no ` +
      `--http-token (WOODPECKER_HTTP_TOKEN, WOODPECKER_HTTP_TOKEN_FILE) is set. Set a token, or listen on 127.0.0.1.`,
  );
}

/**
 * How admin requests are authorised for a listener. On a non-loopback address without a token the listener still
 * serves the read-only routes (health checks and metrics keep working in containers) and `warning` says why the
 * admin routes are off; log it.
 */
export function adminAccessFor(addr: string, token: string | undefined): { access: AdminAccess; warning?: string } {
  if (token !== undefined && token !== '') return { access: 'token' };
  try {
    assertSafeBinding(addr, token);
    return { access: 'loopback' };
  } catch (e) {
    return { access: 'disabled', warning: `${(e as Error).message} The listener starts read-only.` };
  }
}

/** Whether a listener on `addr` checks the `Host` of every request: only on a loopback bind. */
export function hostCheckFor(addr: string): boolean {
  const parsed = parseHttpAddr(addr);
  return parsed !== undefined && isLoopbackListenHost(parsed.host);
}

// ---- the app --------------------------------------------------------------------------------------------------------

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function bearerOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

function hostOfHeader(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(host.trim());
  return m ? m[1] : undefined;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

export function createHttpApp(opts: HttpAppOptions): Hono {
  const { status, metrics, controls, logger } = opts;
  const token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
  const access: AdminAccess = opts.adminAccess ?? (token ? 'token' : 'disabled');
  if (access === 'token' && !token) throw new Error('createHttpApp: adminAccess "token" needs a token');
  const tokenDigest = token ? digest(token) : undefined;
  const app = new Hono();

  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
  });

  if (opts.loopbackHostOnly === true) {
    app.use('*', async (c, next) => {
      // @hono/node-server builds the URL from the Host header; a request without one (app.fetch) has its URL's host.
      const host = hostOfHeader(c.req.header('host') ?? new URL(c.req.url).host);
      if (host === undefined || !isLoopbackHost(host)) {
        // debug only: a rebinding page may poll all day long
        logger?.debug({ method: c.req.method, path: c.req.path }, 'request refused: Host is not a loopback name');
        return c.json(
          { error: 'this listener is bound to loopback and answers only Host: localhost, 127.0.0.1 or [::1]' },
          421,
          NO_STORE,
        );
      }
      await next();
    });
  }

  app.get('/healthz', (c) => c.text('ok\n', 200, NO_STORE));

  app.get('/readyz', (c) => {
    const r = readiness(status.lastFullTick(), status.lastFullTickAgeMs(), opts.readiness.maxTickAge, status.lease());
    return c.json(r, r.ready ? 200 : 503, NO_STORE);
  });

  app.get('/metrics', async (c) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType, ...NO_STORE });
  });

  app.get('/api/status', (c) => c.json(status.snapshot(controls?.state), 200, NO_STORE));

  app.get('/api/decisions', (c) => {
    const raw = c.req.query('limit');
    let limit = 50;
    if (raw !== undefined) {
      limit = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(limit >= 1 && limit <= 1000)) return c.json({ error: 'limit must be an integer from 1 to 1000' }, 400);
    }
    return c.json({ decisions: status.decisions(limit) }, 200, NO_STORE);
  });

  app.get('/', (c) =>
    c.html(STATUS_PAGE_HTML, 200, { 'Content-Security-Policy': STATUS_PAGE_CSP, ...NO_STORE }),
  );

  // ---- admin ----------------------------------------------------------------------------------------------------

  /** A response when the request may not use the admin routes, else undefined. */
  function deny(c: Context): Response | undefined {
    if (!controls) return c.json({ error: 'admin controls are not available in this process' }, 503);
    if (access === 'disabled') {
      return c.json(
        {
          error:
            'admin endpoints are disabled: the listener is not on a loopback address and no --http-token (WOODPECKER_HTTP_TOKEN) is set',
        },
        403,
      );
    }
    if (access === 'token') {
      const given = bearerOf(c.req.header('authorization'));
      if (given === undefined || !tokenDigest || !timingSafeEqual(digest(given), tokenDigest)) {
        logger?.warn({ method: c.req.method, path: c.req.path }, 'admin request refused: missing or wrong bearer token');
        c.header('WWW-Authenticate', 'Bearer realm="twcloud-scaler"');
        return c.json({ error: 'a valid Authorization: Bearer <http-token> header is required' }, 401);
      }
      return undefined;
    }
    // loopback without a token: only local, non-browser-driven requests.
    // @hono/node-server builds the URL from the Host header; a request without one (app.fetch) has its URL's host.
    const hostHeader = c.req.header('host') ?? new URL(c.req.url).host;
    const host = hostOfHeader(hostHeader);
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    let originHost: string | undefined;
    if (origin !== undefined) {
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = '';
      }
    }
    const crossSite =
      (site !== undefined && site !== 'same-origin' && site !== 'none') ||
      (origin !== undefined && originHost !== hostHeader);
    if (!host || !isLoopbackHost(host) || crossSite) {
      logger?.warn({ method: c.req.method, path: c.req.path }, 'admin request refused: not a local request');
      return c.json({ error: 'admin requests without a token are only accepted from this host, not from a browser page' }, 403);
    }
    return undefined;
  }

  function adminState(): { paused: boolean; cordoned: string[]; drainRequested: string[] } {
    const s = controls?.state;
    return { paused: s?.paused ?? false, cordoned: [...(s?.cordoned ?? [])], drainRequested: [...(s?.drainRequested ?? [])] };
  }

  function ok(c: Context, message: string): Response {
    return c.json({ ok: true, message, admin: adminState() }, 200, NO_STORE);
  }

  /** The agent name from the path, or an error response. */
  function agentParam(c: Context, mustBeKnown: boolean): string | Response {
    const name = c.req.param('name') ?? '';
    if (!AGENT_NAME.test(name)) return c.json({ error: 'invalid agent name' }, 400);
    if (mustBeKnown && !status.knownAgents().has(name)) {
      return c.json({ error: `agent ${name} is not in this pool (as of the last reconcile)` }, 404);
    }
    return name;
  }

  app.post('/api/pause', (c) => {
    const denied = deny(c);
    if (denied) return denied;
    controls?.setPaused(true);
    return ok(c, 'scaling paused: no agents are added or drained until resumed (clean-up still runs)');
  });

  app.post('/api/resume', (c) => {
    const denied = deny(c);
    if (denied) return denied;
    controls?.setPaused(false);
    return ok(c, 'scaling resumed');
  });

  app.post('/api/agents/:name/cordon', (c) => {
    const denied = deny(c);
    if (denied) return denied;
    const name = agentParam(c, true);
    if (typeof name !== 'string') return name;
    controls?.setCordoned(name, true);
    return ok(c, `agent ${name} cordoned: scaling will never drain or remove it`);
  });

  app.delete('/api/agents/:name/cordon', (c) => {
    const denied = deny(c);
    if (denied) return denied;
    const isCordoned = controls?.state.cordoned.includes(c.req.param('name') ?? '') ?? false;
    const name = agentParam(c, !isCordoned);
    if (typeof name !== 'string') return name;
    controls?.setCordoned(name, false);
    return ok(c, `agent ${name} uncordoned`);
  });

  app.post('/api/agents/:name/drain', (c) => {
    const denied = deny(c);
    if (denied) return denied;
    const name = agentParam(c, true);
    if (typeof name !== 'string') return name;
    controls?.requestDrain(name);
    return ok(c, `agent ${name} will be drained at the next reconcile and removed once it has no running workflows`);
  });

  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    logger?.error({ err: err.message, path: c.req.path }, 'http handler failed');
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

// ---- the server -----------------------------------------------------------------------------------------------------

export type RunningHttpServer = Listening;

/** Serves the app on `addr` (`host:port`; port 0 picks a free one). Rejects when the address cannot be bound. */
export async function startHttpServer(app: FetchApp, addr: string): Promise<RunningHttpServer> {
  const parsed = parseHttpAddr(addr);
  if (!parsed) throw new ConfigError('the HTTP listener is disabled (http-addr is off)');
  try {
    return await listen(app, parsed.host, parsed.port);
  } catch (err) {
    throw new Error(`cannot listen on ${addr}: ${errorMessage(err)}`);
  }
}
