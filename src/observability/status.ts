import type { TickReport } from '../engine/reconciler.js';
import { poolMembership, poolNamePattern, runningTasksByAgent } from '../engine/pool.js';
import type { ActionKind, EngineConfig, EngineMemory, PlanMode, PlanSummary, ReasonCode } from '../engine/types.js';
import type { Outcome } from '../engine/executor.js';
import type { AccountBalance, ProviderServer, ServerState } from '../providers/types.js';
import { monotonicNow, type Clock } from '../util/clock.js';
import type { LeaseStatus } from '../engine/lease.js';
import { CostMeter, scrubText, type PriceSource } from './derive.js';

/**
 * The in-memory status model behind `/api/status`, the status page and `twcloud-scaler status`. Fed by tick
 * reports; everything in a snapshot is built field by field from whitelisted values, so no token, password or
 * user-data can ever reach a response.
 */

export type AgentState = 'booting' | 'idle' | 'busy' | 'drained' | 'cordoned' | 'stale';

export interface AgentStatus {
  id: number;
  name: string;
  /**
   * booting = never contacted the server; drained = no new work (no_schedule); busy = running workflows;
   * cordoned = an operator protected it from scale-in; stale = no contact for agent-inactivity-timeout; idle.
   */
  state: AgentState;
  cordoned: boolean;
  drainRequested: boolean;
  /** unix ms; null = unknown */
  createdAt: number | null;
  ageMs: number | null;
  /** unix ms; null = never */
  lastContactAt: number | null;
  lastWorkAt: number | null;
  runningTasks: number;
  capacity: number;
  version: string;
  platform: string;
  /** The agent's server at the provider, when known. */
  server: { state: ServerState; status: string; publicIpv4: string | null } | null;
  /** Several pools (`--pools-file`): the id of the pool it belongs to. Absent with one pool. */
  pool?: string;
}

export interface ServerStatus {
  id: string;
  name: string;
  state: ServerState;
  status: string;
  createdAt: number;
  ageMs: number;
  publicIpv4: string | null;
  /** A Woodpecker agent with this name exists. */
  hasAgent: boolean;
  /** Several pools: the id of the pool that owns it. Absent with one pool. */
  pool?: string;
}

export interface QueueStatus {
  pending: number;
  waitingOnDeps: number;
  running: number;
  /** Idle worker slots on all agents of the server. */
  freeSlots: number;
  /** The Woodpecker queue itself is paused (by a Woodpecker admin). */
  paused: boolean;
  /** Age of the oldest pending workflow (from its `created`), when the server reports it. */
  oldestPendingAgeMs: number | null;
}

export interface Decision {
  /** unix ms (the tick's observation time) */
  at: number;
  mode: PlanMode;
  action: ActionKind;
  /** Agent or server name (for a create: the new agent's name). */
  agent: string;
  reason: { code: ReasonCode; message: string };
  outcome: Outcome;
  detail: string | null;
  durationMs: number;
  /** Several pools: the id of the pool that decided it. Absent with one pool. */
  pool?: string;
}

export interface TickStatus {
  mode: PlanMode;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  ok: boolean;
  errors: string[];
  notes: string[];
  /** The Woodpecker server answered (agents and queue were read). */
  woodpeckerOk: boolean;
  /** The cloud provider's server list was read (full ticks only; scale-up ticks reuse the last list). */
  providerOk: boolean;
}

export interface SeriesPoint {
  /** unix ms */
  t: number;
  agents: number;
  booting: number;
  idle: number;
  busy: number;
  drained: number;
  /** No contact for agent-inactivity-timeout. */
  stale: number;
  pending: number;
  running: number;
  servers: number;
  /** Cumulative estimated cost at this point. */
  cost: number;
}

export interface PoolStatus {
  poolId: string | null;
  /** This installation's identity (in every marker and agent-name tag). */
  installationId: string | null;
  policy: string | null;
  minAgents: number | null;
  maxAgents: number | null;
  workflowsPerAgent: number | null;
  reconciliationIntervalMs: number | null;
  agentIdleTimeoutMs: number | null;
  agentInactivityTimeoutMs: number | null;
  billingModel: string | null;
  /** From the last plan. */
  desired: number | null;
  available: number | null;
  required: number | null;
  delta: number | null;
}

export interface AdminStatus {
  paused: boolean;
  cordoned: string[];
  drainRequested: string[];
  provisionFailures: number;
  /** unix ms; 0 = creates are not blocked */
  createBlockedUntil: number;
}

export interface CostStatus {
  currency: string | null;
  /** Per agent server, everything billed with it included (e.g. its public IPv4). */
  perHour: number | null;
  description: string | null;
  /** The parts of `perHour` when there are several (server, public IPv4). */
  parts: { label: string; perHour: number }[];
  /** The account balance as last read (every few minutes), or null when the provider does not tell. */
  balance: (AccountBalance & { at: number }) | null;
  /** Estimated spend since `since`. */
  total: number;
  since: number | null;
}

/** A server or agent named like this pool that is not provably this installation's: never touched. */
export interface ForeignStatus {
  kind: 'server' | 'agent';
  name: string;
  id: string;
  why: string;
  /** Several pools: the pool it looks like. Absent with one pool. */
  pool?: string;
}

export interface StatusSnapshot {
  /** unix ms the snapshot was taken */
  now: number;
  startedAt: number;
  pool: PoolStatus;
  admin: AdminStatus;
  summary: PlanSummary | null;
  agents: AgentStatus[];
  servers: ServerStatus[];
  /** Undefined server list: the provider could not be read yet. */
  serversKnown: boolean;
  /** Look-alikes seen at the last full reconcile (listed only; never drained, deleted or counted). */
  foreign: ForeignStatus[];
  queue: QueueStatus | null;
  lastTick: TickStatus | null;
  lastFullTick: TickStatus | null;
  /**
   * The single-acting-instance lease at the last tick: `acting`, `standby` (another instance of this installation
   * acts; this one changes nothing) or `observing` (dry run). Its records are not pool agents and are listed here only.
   */
  lease: LeaseStatus | null;
  cost: CostStatus;
  /** Most recent first. */
  decisions: Decision[];
  series: SeriesPoint[];
  /**
   * Several pools (`--pools-file`): every pool, the first included. Absent with one pool. With several pools the
   * lists above (`agents`, `servers`, `foreign`, `decisions`, `admin.cordoned`, `admin.drainRequested`) hold every
   * pool's entries, each with its `pool`; `lastTick` and `lastFullTick` are the whole tick (ok only when every pool's
   * was, errors prefixed with the pool); `cost.total` adds up every pool (`perHour` only when all pools cost the
   * same); `queue` is the whole queue; `pool`, `summary`, `series` and the other `admin` fields stay the first pool's.
   */
  pools?: PoolEntry[];
  /** Several pools: pending work no pool or agent can run, by label set (never scales anything). */
  unservable?: UnservableStatus[];
}

/** One pool of several, as `/api/status` lists it. */
export interface PoolEntry {
  pool: PoolStatus;
  /** The labels its agents get (`agent-labels`, `k=v,…`). */
  labels: string;
  admin: AdminStatus;
  summary: PlanSummary | null;
  agents: AgentStatus[];
  /** Its servers (they also appear in the top-level `servers`, with `pool`). */
  servers: ServerStatus[];
  serversKnown: boolean;
  lastTick: TickStatus | null;
  /** Its share of the queue at the last tick (pool-demand.ts); null before the first. */
  demand: { pending: number; waitingOnDeps: number; running: number; freeSlots: number } | null;
  /** Its own price and spend (the account balance is in the top-level `cost`). */
  cost: CostStatus;
  /** Its agents and its share of the queue over time (the page draws one chart per pool). */
  series: SeriesPoint[];
}

export interface UnservableStatus {
  /** `k=v,…`, the task labels that take part in matching. */
  labels: string;
  tasks: number;
}

export interface StatusTrackerOptions {
  clock: Clock;
  /** The engine's configuration: enables pool filtering and the stale state. */
  config?: EngineConfig;
  price?: PriceSource;
  /** Decisions kept in memory. Default 200. */
  maxDecisions?: number;
  /** Time series window. Default 6 hours. */
  seriesWindowMs?: number;
  /** Minimum spacing of the time series' points. Default: the reconciliation interval, within 5–15 s. */
  seriesResolutionMs?: number;
  /** Decisions included in `snapshot()`. Default 50. */
  snapshotDecisions?: number;
}

export interface StatusTracker {
  observeTick(report: TickReport): void;
  /** The account balance the provider last read. */
  observeBalance(balance: AccountBalance): void;
  /** `memory` overrides the admin state of the last tick (the live engine memory). */
  snapshot(memory?: EngineMemory): StatusSnapshot;
  /** Most recent first; `limit` is clamped to what is kept. */
  decisions(limit?: number): Decision[];
  /** The last full reconcile, for readiness. */
  lastFullTick(): TickStatus | null;
  /** How long ago the last full reconcile finished, on the monotonic clock (null: none yet). */
  lastFullTickAgeMs(): number | null;
  /** The lease at the last tick (null: no lease check yet). */
  lease(): LeaseStatus | null;
  /** Agent names seen in the pool at the last observation. */
  knownAgents(): ReadonlySet<string>;
}

function secondsToMs(s: number): number | null {
  return s > 0 ? s * 1000 : null;
}

function tickStatus(report: TickReport): TickStatus {
  const obs = report.observation;
  return {
    mode: report.mode,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: Math.max(0, report.finishedAt - report.startedAt),
    ok: report.ok,
    errors: report.errors.map(scrubText),
    notes: (report.plan?.notes ?? []).map(scrubText),
    woodpeckerOk: obs !== undefined,
    providerOk: obs !== undefined && obs.servers !== undefined,
  };
}

export function createStatusTracker(opts: StatusTrackerOptions): StatusTracker {
  const { clock, config } = opts;
  const maxDecisions = opts.maxDecisions ?? 200;
  const windowMs = opts.seriesWindowMs ?? 6 * 3_600_000;
  const resolutionMs =
    opts.seriesResolutionMs ?? Math.min(15_000, Math.max(5_000, config?.reconciliationInterval ?? 15_000));
  const snapshotDecisions = opts.snapshotDecisions ?? 50;
  const poolRe = config ? poolNamePattern(config.poolId) : undefined;
  let foreign: ForeignStatus[] = [];
  const startedAt = clock.now();
  const cost = new CostMeter(opts.price);
  let balance: (AccountBalance & { at: number }) | null = null;

  let last: TickReport | undefined;
  let lastWithObservation: TickReport | undefined;
  let lastServers: readonly ProviderServer[] | undefined;
  let lastFull: TickStatus | null = null;
  let lastFullMono: number | undefined;
  let lease: LeaseStatus | null = null;
  let lastTick: TickStatus | null = null;
  let known = new Set<string>();
  /** Ring of decisions, oldest first. */
  const decisionLog: Decision[] = [];
  const series: SeriesPoint[] = [];

  /** The pool as the tick left it: its observation with the tick's actions applied. */
  function afterTick(report: TickReport): TickReport['observation'] {
    return report.state ?? report.observation;
  }

  function agentStates(report: TickReport, now: number): AgentStatus[] {
    const obs = afterTick(report);
    if (!obs) return [];
    const mem = report.memory;
    const cordoned = new Set(mem.cordoned);
    const drainReq = new Set(mem.drainRequested);
    const running = runningTasksByAgent(obs.queue.running ?? []);
    const servers = new Map((lastServers ?? []).map((s) => [s.name, s] as const));
    // Agent timestamps are on the Woodpecker server's clock: judge them on it (its offset from ours at the tick).
    const wpNow = now + (obs.woodpeckerNow !== undefined ? obs.woodpeckerNow - obs.now : 0);
    // Only this installation's agents (the planner's membership rule); look-alikes are listed under `foreign`.
    return (config ? poolMembership(obs, config, mem.adopted).agents : [...obs.agents])
      .sort((a, b) => a.id - b.id)
      .map((a): AgentStatus => {
        const tasks = running.get(a.id) ?? 0;
        const createdAt = secondsToMs(a.created);
        const lastContactAt = secondsToMs(a.last_contact);
        const sinceContact = wpNow - (lastContactAt ?? createdAt ?? wpNow);
        let state: AgentState;
        if (a.no_schedule) state = 'drained';
        else if (tasks > 0) state = 'busy';
        else if (config && sinceContact > config.agentInactivityTimeout) state = 'stale';
        else if (lastContactAt === null) state = 'booting';
        else if (cordoned.has(a.name)) state = 'cordoned';
        else state = 'idle';
        const srv = servers.get(a.name);
        return {
          id: a.id,
          name: a.name,
          state,
          cordoned: cordoned.has(a.name),
          drainRequested: drainReq.has(a.name),
          createdAt,
          ageMs: createdAt === null ? null : Math.max(0, wpNow - createdAt),
          lastContactAt,
          lastWorkAt: secondsToMs(a.last_work),
          runningTasks: tasks,
          capacity: a.capacity,
          version: a.version,
          platform: a.platform,
          server: srv ? { state: srv.state, status: srv.status, publicIpv4: srv.publicIpv4 ?? null } : null,
        };
      });
  }

  /**
   * Points are at least `resolutionMs` apart. The newest point is provisional: the next tick replaces it until it
   * lies `resolutionMs` after the point before it, and is kept from then on.
   */
  function pushPoint(p: SeriesPoint): void {
    const last = series[series.length - 1];
    const anchor = series[series.length - 2];
    if (last && anchor && p.t >= last.t && last.t - anchor.t < resolutionMs) series[series.length - 1] = p;
    else series.push(p);
    const cutoff = p.t - windowMs;
    let drop = 0;
    while (drop < series.length && (series[drop] as SeriesPoint).t < cutoff) drop++;
    if (drop > 0) series.splice(0, drop);
  }

  function observeTick(report: TickReport): void {
    last = report;
    lastTick = tickStatus(report);
    if (report.mode === 'full') {
      lastFull = lastTick;
      lastFullMono = monotonicNow(clock);
    }
    if (report.lease) lease = report.lease;
    const obs = afterTick(report);
    if (!obs) return;
    lastWithObservation = report;
    if (obs.servers !== undefined) lastServers = obs.servers;
    if (report.mode === 'full' && report.plan) {
      foreign = report.plan.foreign.map((f) => ({ kind: f.kind, name: f.name, id: f.id, why: scrubText(f.why) }));
    }
    cost.observe(obs.now, obs.servers?.length);
    const agents = agentStates(report, obs.now);
    known = new Set(agents.map((a) => a.name));
    for (const r of report.results) {
      decisionLog.push({
        at: obs.now,
        mode: report.mode,
        action: r.action.kind,
        agent: r.name,
        reason: { code: r.action.reason.code, message: scrubText(r.action.reason.message) },
        outcome: r.outcome,
        detail: r.detail === undefined ? null : scrubText(r.detail),
        durationMs: r.durationMs,
      });
    }
    if (decisionLog.length > maxDecisions) decisionLog.splice(0, decisionLog.length - maxDecisions);
    const count = (s: AgentState): number => agents.filter((a) => a.state === s).length;
    pushPoint({
      t: obs.now,
      agents: agents.length,
      booting: count('booting'),
      idle: count('idle') + count('cordoned'),
      busy: count('busy'),
      drained: count('drained'),
      stale: count('stale'),
      // Several pools: this pool's share of the queue (pools.ts); one pool: the whole queue.
      pending: obs.demand ? obs.demand.pending : obs.queue.stats.pending_count,
      running: obs.demand ? obs.demand.running : obs.queue.stats.running_count,
      servers: (lastServers ?? []).length,
      cost: cost.total,
    });
  }

  function decisions(limit = snapshotDecisions): Decision[] {
    const n = Math.max(0, Math.min(Math.floor(limit), decisionLog.length));
    return decisionLog.slice(decisionLog.length - n).reverse();
  }

  function snapshot(memory?: EngineMemory): StatusSnapshot {
    const now = clock.now();
    const rep = lastWithObservation;
    const mem = memory ?? last?.memory;
    const obs = rep && afterTick(rep);
    const price = cost.info();
    const summary = last?.plan?.summary ?? rep?.plan?.summary ?? null;
    const agents = rep ? agentStates(memory ? { ...rep, memory } : rep, now) : [];
    const agentNames = new Set(obs?.agents.map((a) => a.name) ?? []);
    const servers: ServerStatus[] = (lastServers ?? [])
      .filter((s) => !poolRe || poolRe.test(s.name))
      .map((s) => ({
        id: s.id,
        name: s.name,
        state: s.state,
        status: s.status,
        createdAt: s.createdAt,
        ageMs: Math.max(0, now - s.createdAt),
        publicIpv4: s.publicIpv4 ?? null,
        hasAgent: agentNames.has(s.name),
      }))
      .sort((a, b) => a.createdAt - b.createdAt);
    let queue: QueueStatus | null = null;
    if (obs) {
      const created = (obs.queue.pending ?? []).map((t) => t.created ?? 0).filter((c) => c > 0);
      queue = {
        pending: obs.queue.stats.pending_count,
        waitingOnDeps: obs.queue.stats.waiting_on_deps_count,
        running: obs.queue.stats.running_count,
        freeSlots: obs.queue.stats.worker_count,
        paused: obs.queue.paused,
        oldestPendingAgeMs: created.length > 0 ? Math.max(0, now - Math.min(...created) * 1000) : null,
      };
    }
    return {
      now,
      startedAt,
      pool: {
        poolId: config?.poolId ?? null,
        installationId: config?.installationId ?? null,
        policy: config?.policy ?? null,
        minAgents: config?.minAgents ?? null,
        maxAgents: config?.maxAgents ?? null,
        workflowsPerAgent: config?.workflowsPerAgent ?? null,
        reconciliationIntervalMs: config?.reconciliationInterval ?? null,
        agentIdleTimeoutMs: config?.agentIdleTimeout ?? null,
        agentInactivityTimeoutMs: config?.agentInactivityTimeout ?? null,
        billingModel: config?.billingModel ?? null,
        desired: summary?.desired ?? null,
        available: summary?.available ?? null,
        required: summary?.required ?? null,
        delta: summary?.delta ?? null,
      },
      admin: {
        paused: mem?.paused ?? false,
        cordoned: [...(mem?.cordoned ?? [])],
        drainRequested: [...(mem?.drainRequested ?? [])],
        provisionFailures: mem?.provisionFailures ?? 0,
        createBlockedUntil: mem?.createBlockedUntil ?? 0,
      },
      summary: summary ? { ...summary, servers: { ...summary.servers } } : null,
      agents,
      servers,
      serversKnown: lastServers !== undefined,
      foreign: foreign.map((f) => ({ ...f })),
      queue,
      lastTick,
      lastFullTick: lastFull,
      lease: lease ? { ...lease, records: lease.records.map((r) => ({ ...r })) } : null,
      cost: {
        currency: price?.currency ?? null,
        perHour: price?.perHour ?? null,
        description: price?.description ?? null,
        parts: (price?.parts ?? []).map((x) => ({ ...x })),
        balance: balance ? { ...balance } : null,
        total: cost.total,
        since: cost.since ?? null,
      },
      decisions: decisions(snapshotDecisions),
      series: series.map((p) => ({ ...p })),
    };
  }

  return {
    observeTick(report) {
      try {
        observeTick(report);
      } catch {
        // the status view must never break the engine
      }
    },
    observeBalance(b) {
      balance = { ...b, at: clock.now() };
    },
    snapshot,
    decisions,
    lastFullTick: () => lastFull,
    lastFullTickAgeMs: () => (lastFullMono === undefined ? null : Math.max(0, monotonicNow(clock) - lastFullMono)),
    lease: () => lease,
    knownAgents: () => known,
  };
}
