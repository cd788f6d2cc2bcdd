import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { parseHttpAddr } from '../observability/http.js';
import type { Decision, StatusSnapshot } from '../observability/status.js';
import type { FetchFn } from '../util/clock.js';

/**
 * Admin subcommands that talk to a running twcloud-scaler over its HTTP API (`--http-addr`):
 * `status`, `decisions`, `pause`, `resume`, `cordon <agent>`, `uncordon <agent>`, `drain <agent>`.
 */

export const DEFAULT_HTTP_ADDR = '127.0.0.1:8080';

export interface AdminCliDeps {
  /** Default: the global fetch (this is the outer edge). */
  fetch?: FetchFn;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads WOODPECKER_HTTP_TOKEN_FILE. Default: fs.readFileSync(path, 'utf8'). */
  readFile?: (path: string) => string;
  /** Standard output. Default: process.stdout. */
  write?: (text: string) => void;
  /** Per-request time limit (ms). Default 10 s. */
  timeoutMs?: number;
}

interface ConnOpts {
  httpAddr?: string;
  httpToken?: string;
}

/** The base URL for `--http-addr`: `host:port` (a wildcard host means this machine) or a full http(s) URL. */
export function adminBaseUrl(addr: string): string {
  const a = addr.trim();
  if (/^https?:\/\//i.test(a)) return a.replace(/\/+$/, '');
  const parsed = parseHttpAddr(a);
  if (!parsed) throw new Error('the HTTP listener is off (http-addr is "off"): the admin commands need it');
  let host = parsed.host;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  if (host.includes(':')) host = `[${host}]`;
  return `http://${host}:${parsed.port}`;
}

// ---- formatting -------------------------------------------------------------------------------------------------------

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** `2026-11-27 09:05:00` in local time. */
export function fmtTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `45s`, `3m 05s`, `2h 10m`, `3d 4h`; `-` for unknown. */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function ago(now: number, t: number | null): string {
  return t === null ? 'never' : `${fmtDuration(now - t)} ago`;
}

/** Left-aligned columns separated by two spaces; no trailing blanks. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function money(v: number, currency: string | null): string {
  return `${v.toFixed(2)}${currency ? ` ${currency}` : ''}`;
}

/** Warm capacity and budget of a plan summary, as `status` prints them (empty when neither is set). */
function warmBudget(summary: StatusSnapshot['summary']): string[] {
  const out: string[] = [];
  const warm = summary?.warm;
  if (warm) {
    out.push(`Warm capacity: ${warm.idleSlots} free slot(s), min-agents ${warm.minAgents}${warm.why.length > 0 ? ` (${warm.why.join('; ')})` : ''}`);
  }
  const budget = summary?.budget;
  if (budget) {
    // Several pools: the daemon-wide caps count every pool's spend; the pool's own caps its own.
    const o = budget.others;
    const spent = (own: number, other: number | undefined): string =>
      other === undefined ? own.toFixed(2) : `${(own + other).toFixed(2)} (this pool ${own.toFixed(2)})`;
    const wide = o ? ' for all pools' : '';
    const caps = [
      ...(budget.daily !== undefined ? [`${spent(budget.spentDay, o?.spentDay)} of ${budget.daily} ${budget.currency}${wide} today`] : []),
      ...(budget.monthly !== undefined
        ? [`${spent(budget.spentMonth, o?.spentMonth)} of ${budget.monthly} ${budget.currency}${wide} this month`]
        : []),
      ...(budget.pool?.daily !== undefined ? [`${budget.spentDay.toFixed(2)} of this pool's ${budget.pool.daily} today`] : []),
      ...(budget.pool?.monthly !== undefined ? [`${budget.spentMonth.toFixed(2)} of this pool's ${budget.pool.monthly} this month`] : []),
    ];
    out.push(`Budget: ${caps.join(', ')}${budget.exhausted ? ' — exhausted: no creates, nothing kept warm' : ''}`);
  }
  return out;
}

/** Several pools: one line per pool (its share of the queue, servers, spend), its warm capacity and budget, then the work no pool can run. */
function formatPools(s: StatusSnapshot): string[] {
  const out: string[] = [];
  if (s.pools && s.pools.length > 0) {
    out.push('Pools:');
    out.push(
      table(
        ['POOL', 'LABELS', 'AGENTS', 'TARGET', 'PENDING', 'RUNNING', 'FREE', 'SERVERS', 'COST', 'LAST RECONCILE'],
        s.pools.map((p) => [
          p.pool.poolId ?? '?',
          p.labels || '-',
          `${p.summary ? p.summary.poolAgents : 0} (${p.pool.minAgents ?? '?'}-${p.pool.maxAgents ?? '?'})`,
          p.pool.desired === null ? '-' : String(p.pool.desired),
          p.demand ? String(p.demand.pending) : '-',
          p.demand ? String(p.demand.running) : '-',
          p.demand ? String(p.demand.freeSlots) : '-',
          p.serversKnown === false || !p.servers ? '-' : String(p.servers.length),
          p.cost ? money(p.cost.total, p.cost.currency) : '-',
          p.lastTick ? `${ago(s.now, p.lastTick.finishedAt)}${p.lastTick.ok ? '' : ` (${p.lastTick.errors.length} error(s))`}` : 'none yet',
        ]),
      ),
    );
    for (const p of s.pools) {
      const id = p.pool.poolId ?? '?';
      const lines = warmBudget(p.summary);
      // Each pool's price only when they differ (the same price is on the `Cost so far` line).
      if (s.cost.perHour === null && p.cost?.perHour !== null && p.cost?.perHour !== undefined) {
        lines.push(`${money(p.cost.perHour, p.cost.currency)}/h per server`);
      }
      if (p.admin.provisionFailures > 0) {
        const until = p.admin.createBlockedUntil > s.now ? `; no new server before ${fmtTime(p.admin.createBlockedUntil)}` : '';
        lines.push(`Provisioning: ${p.admin.provisionFailures} failure(s) in a row${until}`);
      }
      if (p.pool.installationId) lines.push(`installation ${p.pool.installationId}`);
      if (lines.length > 0) out.push(`  ${id}: ${lines.join('; ')}`);
    }
  }
  for (const u of s.unservable ?? []) {
    out.push(`Unservable: ${u.tasks} pending workflow(s) with labels ${u.labels || '(none)'}: no pool or agent matches (nothing is created)`);
  }
  return out;
}

/** A POOL column after the first one when the entries carry their pool (several pools). */
function withPool<T extends { pool?: string }>(header: readonly string[], items: readonly T[], row: (x: T) => string[]): string {
  const several = items.some((x) => x.pool !== undefined);
  if (!several) return table(header, items.map(row));
  return table(
    [header[0] ?? '', 'POOL', ...header.slice(1)],
    items.map((x) => {
      const r = row(x);
      return [r[0] ?? '', x.pool ?? '-', ...r.slice(1)];
    }),
  );
}

/** The human-readable `status` output. */
export function formatStatus(s: StatusSnapshot): string {
  const out: string[] = [];
  const p = s.pool;
  const cfg: string[] = [];
  if (p.policy) cfg.push(`policy ${p.policy}`);
  if (p.minAgents !== null && p.maxAgents !== null) cfg.push(`${p.minAgents}-${p.maxAgents} agents`);
  if (p.workflowsPerAgent !== null) cfg.push(`${p.workflowsPerAgent} workflows/agent`);
  if (p.billingModel) cfg.push(`${p.billingModel} billing`);
  const standby = s.lease?.role === 'standby';
  const state = standby ? 'STANDBY' : s.admin.paused ? 'PAUSED' : !s.lastTick ? 'starting' : s.lastTick.ok ? 'running' : 'errors';
  const several = s.pools !== undefined && s.pools.length > 0;
  if (several) {
    // Per-pool settings are in the pools table below.
    const ids = (s.pools ?? []).map((x) => x.pool.poolId ?? '?').join(', ');
    out.push(`Pools ${ids}: ${state}${p.policy ? ` (policy ${p.policy})` : ''}`);
  } else {
    out.push(`Pool ${p.poolId ?? '?'}: ${state}${cfg.length > 0 ? ` (${cfg.join(', ')})` : ''}`);
    if (p.installationId) out.push(`Installation: ${p.installationId} (in every server marker and agent-name tag)`);
  }
  const lt = s.lastTick;
  out.push(
    lt
      ? `Last reconcile: ${ago(s.now, lt.finishedAt)} (${lt.mode}, ${lt.ok ? 'ok' : `${lt.errors.length} error(s)`})`
      : 'Last reconcile: none yet',
  );
  if (s.lease) {
    const l = s.lease;
    const records = l.records.map((r) => `#${r.id} ${r.name}`).join(', ') || 'none';
    const what = l.role === 'acting' ? 'this instance holds it, acts' : l.role === 'standby' ? `standing by, not acting: ${l.reason}` : l.reason;
    out.push(`Lease: ${what} (this instance ${l.self}; records: ${records})`);
  }
  if (p.desired !== null && !several) {
    out.push(`Target agents: ${p.desired} schedulable after the last reconcile (the queue needs ${p.required ?? '?'}, capacity counted ${p.available ?? '?'})`);
  }
  if (!several) out.push(...warmBudget(s.summary));
  if (s.queue) {
    const q = s.queue;
    const oldest = q.oldestPendingAgeMs !== null ? `, oldest pending ${fmtDuration(q.oldestPendingAgeMs)}` : '';
    out.push(
      `Queue: ${q.pending} pending, ${q.waitingOnDeps} waiting on deps, ${q.running} running, ${q.freeSlots} free slot(s)${oldest}${q.paused ? ' (queue paused on the server)' : ''}`,
    );
  }
  if (s.cost.perHour !== null) {
    const parts = (s.cost.parts ?? []).map((x) => `${x.label} ${money(x.perHour, s.cost.currency)}`).join(' + ');
    out.push(
      `Cost so far: ${money(s.cost.total, s.cost.currency)} (${several ? 'all pools, ' : ''}${money(s.cost.perHour, s.cost.currency)}/h per server${parts ? `: ${parts}` : ''})`,
    );
  } else if (several && s.cost.currency !== null) {
    out.push(`Cost so far: ${money(s.cost.total, s.cost.currency)} (all pools; per pool below)`);
  }
  const b = s.cost.balance;
  if (b) {
    const left = b.hoursLeft !== undefined ? `, about ${b.hoursLeft} h left` : '';
    out.push(`Account balance: ${money(b.amount, b.currency)}${left}${b.low ? ` — below ${money(b.warnBelow, b.currency)}, top it up` : ''}`);
  }
  out.push(...formatPools(s));
  if (s.admin.cordoned.length > 0) out.push(`Cordoned: ${s.admin.cordoned.join(', ')}`);
  if (s.admin.drainRequested.length > 0) out.push(`Drain requested: ${s.admin.drainRequested.join(', ')}`);
  if (s.admin.provisionFailures > 0 && !several) {
    const until = s.admin.createBlockedUntil > s.now ? `; no new server before ${fmtTime(s.admin.createBlockedUntil)}` : '';
    out.push(`Provisioning: ${s.admin.provisionFailures} failure(s) in a row${until}`);
  }
  out.push('');
  if (s.agents.length === 0) out.push(several ? 'No agents in any pool.' : 'No agents in the pool.');
  else {
    out.push(
      withPool(['AGENT', 'STATE', 'AGE', 'LAST CONTACT', 'TASKS', 'SERVER'], s.agents, (a) => [
        a.name,
        a.state + (a.cordoned && a.state !== 'cordoned' ? ' (cordoned)' : '') + (a.drainRequested ? ' (drain requested)' : ''),
        fmtDuration(a.ageMs),
        ago(s.now, a.lastContactAt),
        `${a.runningTasks}/${a.capacity}`,
        a.server ? `${a.server.status}${a.server.publicIpv4 ? ` ${a.server.publicIpv4}` : ''}` : 'no server',
      ]),
    );
  }
  const orphans = s.servers.filter((x) => !x.hasAgent);
  if (orphans.length > 0) {
    out.push('');
    out.push('Servers without an agent:');
    out.push(withPool(['SERVER', 'STATE', 'STATUS', 'AGE'], orphans, (x) => [x.name, x.state, x.status, fmtDuration(x.ageMs)]));
  }
  const foreign = s.foreign ?? [];
  if (foreign.length > 0) {
    out.push('');
    out.push(`Foreign look-alikes (named like ${several ? 'a' : 'this'} pool, not this installation's; never drained, deleted or counted):`);
    out.push(withPool(['KIND', 'NAME', 'ID', 'WHY'], foreign, (f) => [f.kind, f.name, f.id, f.why]));
  }
  if (lt && (lt.errors.length > 0 || lt.notes.length > 0)) {
    out.push('');
    for (const e of lt.errors) out.push(`error: ${e}`);
    for (const n of lt.notes) out.push(`note: ${n}`);
  }
  return out.join('\n') + '\n';
}

/** The human-readable `decisions` output (most recent first). */
export function formatDecisions(ds: readonly Decision[]): string {
  if (ds.length === 0) return 'No decisions yet.\n';
  return (
    withPool(['TIME', 'ACTION', 'AGENT', 'REASON', 'OUTCOME', 'WHY'], ds, (d) => [
      fmtTime(d.at),
      d.action,
      d.agent,
      d.reason.code,
      d.outcome,
      d.reason.message + (d.detail ? ` (${d.detail})` : ''),
    ]) + '\n'
  );
}

// ---- HTTP ---------------------------------------------------------------------------------------------------------------

class AdminRequestError extends Error {
  override name = 'AdminRequestError';
}

function resolveConn(opts: ConnOpts, deps: AdminCliDeps): { base: string; token: string | undefined } {
  const env = deps.env ?? process.env;
  const addr = opts.httpAddr ?? env.WOODPECKER_HTTP_ADDR ?? DEFAULT_HTTP_ADDR;
  let token = opts.httpToken ?? env.WOODPECKER_HTTP_TOKEN;
  const file = env.WOODPECKER_HTTP_TOKEN_FILE;
  if (token === undefined && file !== undefined && file !== '') {
    try {
      token = (deps.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(file).replace(/\r?\n$/, '');
    } catch (e) {
      throw new AdminRequestError(`cannot read WOODPECKER_HTTP_TOKEN_FILE (${file}): ${(e as Error).message}`);
    }
  }
  return { base: adminBaseUrl(addr), token: token === '' ? undefined : token };
}

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts: ConnOpts,
  deps: AdminCliDeps,
): Promise<unknown> {
  const { base, token } = resolveConn(opts, deps);
  const doFetch: FetchFn = deps.fetch ?? ((input, init) => fetch(input, init));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await doFetch(`${base}${path}`, { method, headers, signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000) });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : e instanceof Error ? `: ${e.message}` : '';
    throw new AdminRequestError(
      `cannot reach twcloud-scaler at ${base}${cause} (is it running, with its HTTP listener on --http-addr / WOODPECKER_HTTP_ADDR?)`,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new AdminRequestError(`${method} ${path}: HTTP ${res.status}, not a twcloud-scaler answer (wrong --http-addr?)`);
  }
  if (!res.ok) {
    const said = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : `HTTP ${res.status}`;
    if (res.status === 401) {
      throw new AdminRequestError(
        `${said}${token ? ' (the token was refused)' : ''}: pass --http-token or set WOODPECKER_HTTP_TOKEN / WOODPECKER_HTTP_TOKEN_FILE`,
      );
    }
    throw new AdminRequestError(`${said} (HTTP ${res.status})`);
  }
  return body;
}

// ---- commands -------------------------------------------------------------------------------------------------------------

function connOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--http-addr <HOST:PORT>', `address of the running autoscaler's HTTP listener, or its URL (env: WOODPECKER_HTTP_ADDR; default: ${DEFAULT_HTTP_ADDR})`),
    )
    .addOption(new Option('--http-token <TOKEN>', 'admin bearer token (env: WOODPECKER_HTTP_TOKEN, file: WOODPECKER_HTTP_TOKEN_FILE)'));
}

/** Options of the subcommand merged with the same flags given before it (the root program may define them too). */
function connOf(cmd: Command): ConnOpts {
  const o = cmd.optsWithGlobals<{ httpAddr?: unknown; httpToken?: unknown }>();
  return {
    httpAddr: typeof o.httpAddr === 'string' ? o.httpAddr : undefined,
    httpToken: typeof o.httpToken === 'string' ? o.httpToken : undefined,
  };
}

/**
 * Adds the admin subcommands to `program`. Failures end the command through `cmd.error` (exit code 1, message on
 * stderr), so `program.exitOverride()` turns them into exceptions in tests.
 */
export function registerAdminCommands(program: Command, deps: AdminCliDeps = {}): Command {
  const write = deps.write ?? ((t: string) => void process.stdout.write(t));

  function run(cmd: Command, fn: () => Promise<void>): Promise<void> {
    return fn().catch((e: unknown) => {
      if (e instanceof AdminRequestError || (e instanceof Error && e.name === 'ConfigError')) {
        cmd.error(`error: ${e.message}`, { exitCode: 1, code: 'twcloud.admin' });
      }
      throw e;
    });
  }

  const mutate = (method: 'POST' | 'DELETE', path: (arg: string) => string) =>
    async function (this: Command, ...args: unknown[]): Promise<void> {
      const arg = typeof args[0] === 'string' ? args[0] : '';
      await run(this, async () => {
        const body = (await call(method, path(encodeURIComponent(arg)), connOf(this), deps)) as { message?: string };
        write(`${body?.message ?? 'ok'}\n`);
      });
    };

  connOptions(program.command('status'))
    .description('Show the pool(s) of a running autoscaler: agents, servers, queue, cost, last reconcile')
    .option('--json', 'print the raw JSON snapshot')
    .action(async function (this: Command) {
      await run(this, async () => {
        const s = (await call('GET', '/api/status', connOf(this), deps)) as StatusSnapshot;
        write(this.opts<{ json?: boolean }>().json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
      });
    });

  connOptions(program.command('decisions'))
    .description('List the latest scaling decisions with their reasons (most recent first)')
    .option('--limit <N>', 'how many (1-1000)', '20')
    .option('--json', 'print JSON')
    .action(async function (this: Command) {
      await run(this, async () => {
        const o = this.opts<{ limit: string; json?: boolean }>();
        if (!/^\d+$/.test(o.limit) || Number(o.limit) < 1 || Number(o.limit) > 1000) {
          throw new AdminRequestError('--limit must be an integer from 1 to 1000');
        }
        const body = (await call('GET', `/api/decisions?limit=${o.limit}`, connOf(this), deps)) as { decisions: Decision[] };
        write(o.json ? `${JSON.stringify(body.decisions, null, 2)}\n` : formatDecisions(body.decisions));
      });
    });

  connOptions(program.command('pause'))
    .description('Pause scaling: no agents are added or drained until resume (clean-up of broken servers continues)')
    .action(mutate('POST', () => '/api/pause'));

  connOptions(program.command('resume')).description('Resume scaling after pause').action(mutate('POST', () => '/api/resume'));

  connOptions(program.command('cordon').argument('<agent>', 'agent name, e.g. pool-1-agent-abcd'))
    .description('Cordon an agent: scaling never drains or removes it (it keeps taking work)')
    .action(mutate('POST', (a) => `/api/agents/${a}/cordon`));

  connOptions(program.command('uncordon').argument('<agent>', 'agent name'))
    .description('Remove the cordon from an agent')
    .action(mutate('DELETE', (a) => `/api/agents/${a}/cordon`));

  connOptions(program.command('drain').argument('<agent>', 'agent name'))
    .description('Drain an agent now: it takes no new work and is removed once its running workflows finish')
    .action(mutate('POST', (a) => `/api/agents/${a}/drain`));

  return program;
}
