import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TickReport } from '../engine/reconciler.js';
import { poolMembership, poolNamePattern } from '../engine/pool.js';
import type { Observation } from '../engine/types.js';
import type { AccountBalance } from '../providers/types.js';
import { CostMeter, safeLabel, type ApiName, type ApiRequestEvent, type PriceSource } from './derive.js';

/**
 * Prometheus metrics, fed by tick reports (`reconciler.onTick(m.observeTick)`) and by the HTTP clients'
 * `onRequest` hooks (`e => m.observeRequest('woodpecker', e)`). Everything lives in a private Registry, never the
 * global one, so several instances (tests, the simulator) never collide.
 *
 * Durations that are derived from successive observations (provision, queue wait) have the resolution of the
 * ticks: up to one reconciliation interval (or one queue poll when work is pending).
 */

export const METRIC_PREFIX = 'twcloud_scaler_';

export interface MetricsOptions {
  /** Price of one agent server (e.g. `() => provider.price?.()`); without it no cost is estimated. */
  price?: PriceSource;
  /** The pool's id: adds a `pool` label to every series and enables the pool-only capacity gauge. */
  poolId?: string;
  /** With `poolId`: only this installation's agents count in the pool capacity gauge (not look-alikes). */
  installationId?: string;
  /**
   * Several pools share the API clients (`--pools-file`): the API request series are the daemon's, not this pool's,
   * and carry an empty `pool` label (which Prometheus stores as no label). Default false: they carry `poolId`.
   */
  sharedClients?: boolean;
  /** Also export Node.js process metrics (CPU, memory, event loop, GC). Default false. */
  processMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** Feeds one tick report. Never throws. */
  observeTick(report: TickReport): void;
  /** Feeds the account balance the provider last read. Never throws. */
  observeBalance(balance: AccountBalance): void;
  /** Feeds one HTTP attempt of an API client. Never throws. */
  observeRequest(api: ApiName, e: ApiRequestEvent): void;
  /** The Prometheus text exposition and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

const DAY_MS = 86_400_000;

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.poolId !== undefined) registry.setDefaultLabels({ pool: opts.poolId });
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];
  const n = (s: string): string => METRIC_PREFIX + s;

  // ---- fleet and queue state (gauges, set from each tick's plan summary) ----------------------------------------
  const agents = new Gauge({
    name: n('agents'),
    help: 'Agents of the pool by state: active = schedulable (includes booting), drained = no_schedule, booting = never contacted the server yet.',
    labelNames: ['state'],
    registers,
  });
  const desired = new Gauge({
    name: n('desired_agents'),
    help: 'Schedulable agents the pool should have after the last reconcile.',
    registers,
  });
  const availableAgents = new Gauge({
    name: n('available_agents'),
    help: 'Agents worth of capacity the last reconcile counted (free + running slots / workflows per agent, + booting agents in the default policy).',
    registers,
  });
  const requiredAgents = new Gauge({
    name: n('required_agents'),
    help: 'Agents the queue needed at the last reconcile ((pending + running) / workflows per agent).',
    registers,
  });
  const servers = new Gauge({
    name: n('servers'),
    help: 'Cloud servers owned by this pool, by state.',
    labelNames: ['state'],
    registers,
  });
  const queue = new Gauge({
    name: n('queue_tasks'),
    help: 'Workflows in the Woodpecker queue by state (server-wide).',
    labelNames: ['state'],
    registers,
  });
  const slots = new Gauge({
    name: n('capacity_slots'),
    help: 'Workflow slots: free and busy are server-wide (Woodpecker queue stats); pool = total slots of the pool\'s schedulable agents.',
    labelNames: ['kind'],
    registers,
  });
  // Shared clients and the account (several pools): an explicit empty `pool` label overrides the registry's
  // default one, so the API requests and the balance are not credited to the first pool.
  const shared = opts.sharedClients === true && opts.poolId !== undefined;
  const poolLabel: string[] = shared ? ['pool'] : [];
  const neutral: { pool?: string } = shared ? { pool: '' } : {};
  const balanceGauge = new Gauge({
    name: n('account_balance'),
    help: 'Balance of the cloud account, read every few minutes (not every tick).',
    labelNames: ['currency', ...poolLabel],
    registers,
  });
  const balanceLow = new Gauge({
    name: n('account_balance_low'),
    help: '1 when the account balance is below the provider\'s warning threshold (e.g. --timewebcloud-balance-warn).',
    labelNames: poolLabel,
    registers,
  });
  const warmSlots = new Gauge({
    name: n('warm_idle_slots'),
    help: 'Free workflow slots the pool keeps ready beyond the queue (min-idle-slots, schedules, forecast); default policy.',
    registers,
  });
  const warmMinAgents = new Gauge({
    name: n('warm_min_agents'),
    help: 'min-agents in force (a schedule or an exhausted budget may change it).',
    registers,
  });
  const budgetSpent = new Gauge({
    name: n('budget_spent'),
    help: "Estimated spend of the pool's servers in the current calendar period (price list × billed time).",
    labelNames: ['period', 'currency'],
    registers,
  });
  const budgetCap = new Gauge({
    name: n('budget_cap'),
    help:
      'The configured spend cap per period: scope="all" is --budget-daily/--budget-monthly (with several pools it counts the sum of every pool\'s budget_spent), scope="pool" a pool\'s own cap from the pools file.',
    labelNames: ['period', 'currency', 'scope'],
    registers,
  });
  const budgetExhausted = new Gauge({
    name: n('budget_exhausted'),
    help: '1 when a cap does not cover the next hour of the running servers: no creates, nothing kept warm.',
    registers,
  });
  const paused = new Gauge({ name: n('paused'), help: '1 when an operator paused scaling.', registers });
  const cordoned = new Gauge({ name: n('cordoned_agents'), help: 'Agents an operator cordoned (never scaled in).', registers });
  const provisionFailures = new Gauge({
    name: n('provision_failures'),
    help: 'Consecutive failed provisions (they drive the create back-off).',
    registers,
  });
  const createBlockedUntil = new Gauge({
    name: n('create_blocked_until_timestamp_seconds'),
    help: 'Unix time until which no server is created (back-off after failures); 0 = not blocked.',
    registers,
  });

  // ---- latency ---------------------------------------------------------------------------------------------------
  const provision = new Histogram({
    name: n('provision_duration_seconds'),
    help: 'From the create action to the agent\'s first contact with the Woodpecker server (boot + cloud-init + agent start).',
    buckets: [30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800],
    registers,
  });
  const registration = new Histogram({
    name: n('registration_duration_seconds'),
    help: 'Duration of a successful create action: register the agent on Woodpecker and order its server.',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers,
  });
  const queueWait = new Histogram({
    name: n('queue_wait_seconds'),
    help: 'Estimated time a workflow waited in the queue before it started running (resolution: one tick).',
    buckets: [5, 10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600],
    registers,
  });
  const tickDuration = new Histogram({
    name: n('tick_duration_seconds'),
    help: 'Duration of a reconcile, by mode (full, or scale-up from the queue poll).',
    labelNames: ['mode'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
    registers,
  });

  // ---- API requests ----------------------------------------------------------------------------------------------
  const apiRequests = new Counter({
    name: n('api_requests_total'),
    help: 'HTTP requests to the Woodpecker server and the cloud API, by endpoint and status (0 = network error or timeout).',
    labelNames: ['api', 'endpoint', 'status', ...poolLabel],
    registers,
  });
  const apiDuration = new Histogram({
    name: n('api_request_duration_seconds'),
    help: 'Duration of HTTP requests to the Woodpecker server and the cloud API.',
    labelNames: ['api', 'endpoint', ...poolLabel],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const rateLimited = new Counter({
    name: n('api_rate_limited_total'),
    help: 'Requests answered with HTTP 429 (rate limited).',
    labelNames: ['api', 'endpoint', ...poolLabel],
    registers,
  });

  // ---- events ----------------------------------------------------------------------------------------------------
  const actions = new Counter({
    name: n('actions_total'),
    help: 'Scaling actions by kind, reason code and outcome (done, skipped, failed, dry-run).',
    labelNames: ['kind', 'reason', 'outcome'],
    registers,
  });
  const ticks = new Counter({
    name: n('ticks_total'),
    help: 'Reconciles by mode and result (ok, or error when any stage failed).',
    labelNames: ['mode', 'result'],
    registers,
  });
  const lastTick = new Gauge({
    name: n('last_tick_timestamp_seconds'),
    help: 'Unix time the last reconcile finished, by mode.',
    labelNames: ['mode'],
    registers,
  });
  const lastOkTick = new Gauge({
    name: n('last_successful_tick_timestamp_seconds'),
    help: 'Unix time the last reconcile without any error finished, by mode.',
    labelNames: ['mode'],
    registers,
  });

  // ---- cost ------------------------------------------------------------------------------------------------------
  const costTotal = new Counter({
    name: n('cost_estimated_total'),
    help: 'Estimated spend on agent servers since start: price per hour x server-hours observed.',
    labelNames: ['currency'],
    registers,
  });
  const pricePerHour = new Gauge({
    name: n('server_price_per_hour'),
    help: 'Price of one agent server per hour, as the provider reports it (its public IPv4 included).',
    labelNames: ['currency'],
    registers,
  });
  const cost = new CostMeter(opts.price);

  // ---- derived durations: state carried between ticks -------------------------------------------------------------
  const poolRe = opts.poolId !== undefined ? poolNamePattern(opts.poolId) : undefined;
  /** agent name → unix ms its create action started; until first contact. */
  const provisioning = new Map<string, number>();
  /** task id → unix ms it was first seen pending. */
  const firstPending = new Map<string, number>();
  /** tasks seen waiting on dependencies (their `created` says nothing about the wait for an agent). */
  const sawWaiting = new Set<string>();
  /** running task ids already counted in queue_wait. */
  const counted = new Set<string>();
  let firstObservation = true;

  function observeProvisioning(obs: Observation): void {
    const byName = new Map(obs.agents.map((a) => [a.name, a] as const));
    for (const [name, startedAt] of provisioning) {
      const a = byName.get(name);
      if (!a) {
        // Gone before it ever connected (removed as stale, or its create was rolled back).
        if (obs.now > startedAt) provisioning.delete(name);
        continue;
      }
      if (a.last_contact !== 0) {
        provision.observe(Math.max(0, obs.now - startedAt) / 1000);
        provisioning.delete(name);
      } else if (obs.now - startedAt > DAY_MS) {
        provisioning.delete(name);
      }
    }
  }

  function observeQueueWait(obs: Observation): void {
    const q = obs.queue;
    const now = obs.now;
    for (const t of q.waiting_on_deps ?? []) sawWaiting.add(t.id);
    for (const t of q.pending ?? []) if (!firstPending.has(t.id)) firstPending.set(t.id, now);
    const running = new Set<string>();
    for (const t of q.running ?? []) {
      running.add(t.id);
      if (counted.has(t.id)) continue;
      counted.add(t.id);
      if (firstObservation) continue; // already running when we started: its wait is unknown
      const seen = firstPending.get(t.id);
      const created = t.created !== undefined && t.created > 0 && !sawWaiting.has(t.id) ? t.created * 1000 : undefined;
      const start = created ?? seen;
      if (start !== undefined) queueWait.observe(Math.max(0, now - start) / 1000);
    }
    const queued = new Set<string>([...(q.pending ?? []), ...(q.waiting_on_deps ?? [])].map((t) => t.id));
    for (const id of firstPending.keys()) if (!queued.has(id)) firstPending.delete(id);
    for (const id of sawWaiting) if (!queued.has(id) && !running.has(id)) sawWaiting.delete(id);
    for (const id of counted) if (!running.has(id)) counted.delete(id);
    firstObservation = false;
  }

  function observeTickUnsafe(report: TickReport): void {
    const mode = report.mode;
    ticks.inc({ mode, result: report.ok ? 'ok' : 'error' });
    tickDuration.observe({ mode }, Math.max(0, report.finishedAt - report.startedAt) / 1000);
    lastTick.set({ mode }, report.finishedAt / 1000);
    if (report.ok) lastOkTick.set({ mode }, report.finishedAt / 1000);

    const mem = report.memory;
    paused.set(mem.paused ? 1 : 0);
    cordoned.set(mem.cordoned.length);
    provisionFailures.set(mem.provisionFailures);
    createBlockedUntil.set(mem.createBlockedUntil > 0 ? mem.createBlockedUntil / 1000 : 0);

    const s = report.plan?.summary;
    if (s) {
      agents.set({ state: 'active' }, s.active);
      agents.set({ state: 'drained' }, s.drained);
      agents.set({ state: 'booting' }, s.booting);
      desired.set(s.desired);
      availableAgents.set(s.available);
      requiredAgents.set(s.required);
      for (const state of ['booting', 'running', 'failed', 'deleting'] as const) servers.set({ state }, s.servers[state]);
      queue.set({ state: 'pending' }, s.pendingTasks);
      queue.set({ state: 'running' }, s.runningTasks);
      slots.set({ kind: 'free' }, s.freeSlots);
      slots.set({ kind: 'busy' }, s.runningTasks);
      warmMinAgents.set(s.warm?.minAgents ?? 0);
      warmSlots.set(s.warm?.idleSlots ?? 0);
      if (s.budget) {
        const c = s.budget.currency;
        budgetSpent.set({ period: 'day', currency: c }, s.budget.spentDay);
        budgetSpent.set({ period: 'month', currency: c }, s.budget.spentMonth);
        if (s.budget.daily !== undefined) budgetCap.set({ period: 'day', currency: c, scope: 'all' }, s.budget.daily);
        if (s.budget.monthly !== undefined) budgetCap.set({ period: 'month', currency: c, scope: 'all' }, s.budget.monthly);
        if (s.budget.pool?.daily !== undefined) budgetCap.set({ period: 'day', currency: c, scope: 'pool' }, s.budget.pool.daily);
        if (s.budget.pool?.monthly !== undefined) budgetCap.set({ period: 'month', currency: c, scope: 'pool' }, s.budget.pool.monthly);
        budgetExhausted.set(s.budget.exhausted ? 1 : 0);
      }
    }

    const obs = report.observation;
    if (obs) {
      queue.set({ state: 'waiting_on_deps' }, obs.queue.stats.waiting_on_deps_count);
      if (poolRe) {
        const own =
          opts.installationId !== undefined && opts.poolId !== undefined
            ? poolMembership(obs, { poolId: opts.poolId, installationId: opts.installationId }, report.memory.adopted).agents
            : obs.agents.filter((a) => poolRe.test(a.name));
        const poolSlots = own
          .filter((a) => !a.no_schedule)
          .reduce((sum, a) => sum + Math.max(0, a.capacity || 0), 0);
        slots.set({ kind: 'pool' }, poolSlots);
      }
      observeProvisioning(obs);
      observeQueueWait(obs);
      const added = cost.observe(obs.now, obs.servers?.length);
      const price = cost.info();
      if (price) {
        pricePerHour.set({ currency: price.currency }, price.perHour);
        costTotal.inc({ currency: price.currency }, added);
      }
    }

    // Actions of this tick. A create's start is approximated from the observation time plus the durations of the
    // actions before it (the executor runs them one after another).
    let offset = 0;
    const base = obs?.now ?? report.startedAt;
    for (const r of report.results) {
      actions.inc({ kind: r.action.kind, reason: r.action.reason.code, outcome: r.outcome });
      if (r.action.kind === 'create' && r.outcome === 'done') {
        registration.observe(Math.max(0, r.durationMs) / 1000);
        provisioning.set(r.name, base + offset);
      }
      offset += Math.max(0, r.durationMs);
    }
  }

  return {
    registry,
    observeTick(report) {
      try {
        observeTickUnsafe(report);
      } catch {
        // metrics must never break the engine
      }
    },
    observeBalance(b) {
      try {
        balanceGauge.set({ currency: safeLabel(b.currency), ...neutral }, b.amount);
        balanceLow.set(neutral, b.low ? 1 : 0);
      } catch {
        // metrics must never break the engine
      }
    },
    observeRequest(api, e) {
      try {
        const endpoint = safeLabel(e.endpoint);
        apiRequests.inc({ api, endpoint, status: String(e.status), ...neutral });
        apiDuration.observe({ api, endpoint, ...neutral }, Math.max(0, e.durationMs) / 1000);
        if (e.rateLimited === true || e.status === 429) rateLimited.inc({ api, endpoint, ...neutral });
      } catch {
        // metrics must never break a request
      }
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
