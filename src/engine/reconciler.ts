import type { Logger } from 'pino';
import type { DeployAgent, Provider, ProviderInventory, ProviderServer } from '../providers/types.js';
import { monotonicNow, type Clock, type RandomFn } from '../util/clock.js';
import { errorMessage } from '../util/guards.js';
import { applyResults } from './after.js';
import type { Ledger } from './budget.js';
import { execute, type ActionResult, type WoodpeckerApi } from './executor.js';
import { nextCapacity } from './capacity.js';
import type { LeaseStatus } from './lease.js';
import type { LeaseGate } from './lease-keeper.js';
import { nextMemory } from './memory.js';
import type { ForeignResource } from './pool.js';
import { plan } from './planner.js';
import { initialMemory } from './types.js';
import type { EngineConfig, EngineMemory, Observation, Plan, PlanMode } from './types.js';

export interface ReconcilerDeps {
  config: EngineConfig;
  woodpecker: WoodpeckerApi;
  provider: Provider;
  clock: Clock;
  random: RandomFn;
  logger: Logger;
  renderUserData: (agent: DeployAgent) => string;
  dryRun?: boolean;
  /** The single-acting-instance lease: a tick acts only while this instance holds it. None = always act. */
  lease?: LeaseGate;
  /** Run the provider's sweep (orphan floating IPs…) every this many ms; 0 disables. Default 10 minutes. */
  sweepInterval?: number;
  /** The budget's ledger as a ledger store kept it across a restart (src/engine/ledger-store.ts); none = fresh. */
  initialLedger?: Ledger;
}

/** Everything one tick saw, decided and did. Observability and the status page are built from these. */
export interface TickReport {
  mode: PlanMode;
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  /** Errors of this tick (observation, actions, sweep); the tick still ran every stage it could. */
  errors: string[];
  observation?: Observation;
  /** The observation with this tick's action results applied (what the pool looks like after the tick). */
  state?: Observation;
  plan?: Plan;
  results: ActionResult[];
  memory: EngineMemory;
  /** The lease check of this tick (no plan and no actions while standing by). */
  lease?: LeaseStatus;
}

/** What several pools share in one tick: read once by the pool set (src/engine/pools.ts), not by each reconciler. */
export interface SharedSnapshot {
  agents: Observation['agents'];
  queue: Observation['queue'];
  woodpeckerNow?: number | undefined;
}

/**
 * A tick whose observation and lease check were made outside (several pools: one snapshot, one lease). A missing
 * observation is told by `observeError`.
 */
export interface GivenTick {
  observation: Observation | undefined;
  observeError?: string;
  lease: LeaseStatus | undefined;
}

export type TickListener = (report: TickReport) => void;

/**
 * One reconcile: observe → plan (pure) → execute → remember. Holds the engine memory (admin controls, back-off)
 * between ticks. Ticks must not overlap; the loop guarantees it, and `tick` refuses re-entry as a second fence.
 */
export class Reconciler {
  private memory: EngineMemory;
  private running = false;
  private lastServers: readonly ProviderServer[] | undefined;
  /** Monotonic ms of the last sweep (undefined: none yet). */
  private lastSweep: number | undefined;
  /** Look-alikes already warned about (once per resource, not every tick). */
  private readonly warnedForeign = new Set<string>();
  private readonly listeners: TickListener[] = [];
  last: TickReport | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    const ledger = deps.initialLedger;
    this.memory = ledger ? { ...initialMemory, capacity: { ...initialMemory.capacity, ledger } } : initialMemory;
  }

  get config(): EngineConfig {
    return this.deps.config;
  }

  get state(): EngineMemory {
    return this.memory;
  }

  onTick(listener: TickListener): void {
    this.listeners.push(listener);
  }

  // ---- admin controls (take effect at the next tick) -----------------------------------------------------------

  setPaused(paused: boolean): void {
    this.memory = { ...this.memory, paused };
    this.deps.logger.info({ paused }, paused ? 'scaling paused by operator' : 'scaling resumed by operator');
  }

  setCordoned(name: string, cordoned: boolean): void {
    const rest = this.memory.cordoned.filter((n) => n !== name);
    this.memory = { ...this.memory, cordoned: cordoned ? [...rest, name] : rest };
    this.deps.logger.info({ agent: name, cordoned }, cordoned ? 'agent cordoned by operator' : 'agent uncordoned by operator');
  }

  requestDrain(name: string): void {
    if (!this.memory.drainRequested.includes(name)) {
      this.memory = { ...this.memory, drainRequested: [...this.memory.drainRequested, name] };
    }
    this.deps.logger.info({ agent: name }, 'drain requested by operator');
  }

  // ---- the tick ---------------------------------------------------------------------------------------------------

  /** Observes the pool: the Woodpecker agents and queue (or `shared`, read once for several pools) and the servers. */
  async observe(mode: PlanMode, signal?: AbortSignal, shared?: SharedSnapshot): Promise<Observation> {
    const { woodpecker, provider, clock } = this.deps;
    const listing = (): Promise<ProviderInventory> =>
      provider.inventory ? provider.inventory(signal) : provider.list(signal).then((servers) => ({ servers, legacy: [], foreign: [] }));
    const inventoryP: Promise<ProviderInventory | undefined> =
      mode === 'full'
        ? listing().then(
            (s) => s,
            (e: unknown) => {
              this.deps.logger.error({ err: errorMessage(e) }, 'listing provider servers failed');
              return undefined;
            },
          )
        : Promise.resolve(this.lastServers && { servers: [...this.lastServers], legacy: [], foreign: [] });
    const [agents, queue, inventory] = await Promise.all([
      shared ? shared.agents : woodpecker.listAgents(signal),
      shared ? shared.queue : woodpecker.queueInfo(signal),
      inventoryP,
    ]);
    const servers = inventory?.servers;
    if (mode === 'full') this.lastServers = servers;
    const obs: Observation = { now: clock.now(), agents, queue, servers };
    const woodpeckerNow = shared ? shared.woodpeckerNow : woodpecker.serverNow?.();
    if (woodpeckerNow !== undefined) obs.woodpeckerNow = woodpeckerNow;
    if (inventory && inventory.legacy.length > 0) obs.legacyServers = inventory.legacy;
    if (inventory && inventory.foreign.length > 0) obs.foreignServers = inventory.foreign;
    return obs;
  }

  /**
   * One warning per look-alike (by kind, id and name), the first time a tick sees it. A full tick forgets the ones
   * that are gone, so the set stays as small as the account's look-alikes.
   */
  private warnForeign(foreign: readonly ForeignResource[], mode: PlanMode): void {
    const keyOf = (f: ForeignResource): string => `${f.kind} ${f.id} ${f.name}`;
    if (mode === 'full') {
      const seen = new Set(foreign.map(keyOf));
      for (const k of this.warnedForeign) if (!seen.has(k)) this.warnedForeign.delete(k);
    }
    for (const f of foreign) {
      const key = keyOf(f);
      if (this.warnedForeign.has(key)) continue;
      this.warnedForeign.add(key);
      this.deps.logger.warn(
        { [f.kind === 'agent' ? 'agent' : 'server']: f.name, id: f.id, foreign: true },
        `${f.kind} ${f.name} (id ${f.id}) looks like this pool's but is not this installation's (${f.why}): never drained, deleted or counted`,
      );
    }
  }

  /** One tick; `given` (several pools) brings the observation and the lease status instead of reading them. */
  async tick(mode: PlanMode = 'full', signal?: AbortSignal, given?: GivenTick): Promise<TickReport> {
    if (this.running) throw new Error('a reconcile is already running');
    this.running = true;
    const { clock, logger, config } = this.deps;
    const startedAt = clock.now();
    const errors: string[] = [];
    let observation: Observation | undefined;
    let planned: Plan | undefined;
    let results: ActionResult[] = [];
    let state: Observation | undefined;
    let lease: LeaseStatus | undefined;
    try {
      if (given) {
        observation = given.observation;
        lease = given.lease;
        if (given.observeError !== undefined) errors.push(given.observeError);
        if (lease?.error !== undefined) errors.push(`lease: ${lease.error}`);
      } else {
        try {
          observation = await this.observe(mode, signal);
        } catch (e) {
          errors.push(`observing the Woodpecker server failed: ${errorMessage(e)}`);
          logger.error({ err: errorMessage(e) }, 'reconciliation failed: could not observe the Woodpecker server');
        }
      }
      if (!given && observation && this.deps.lease) {
        lease = await this.deps.lease.check(observation.agents, mode, signal);
        if (lease.error !== undefined) errors.push(`lease: ${lease.error}`);
      }
      const standby = lease?.role === 'standby';
      if (observation && !standby) {
        if (observation.servers === undefined && mode === 'full') errors.push('listing provider servers failed');
        planned = plan(observation, config, this.memory, mode);
        this.warnForeign(planned.foreign, mode);
        const s = planned.summary;
        logger.debug(
          {
            mode,
            queue: { free: s.freeSlots, running: s.runningTasks, pending: s.pendingTasks },
            pool: { agents: s.poolAgents, active: s.active, drained: s.drained, booting: s.booting },
            servers: s.servers,
            available: s.available,
            required: s.required,
            delta: s.delta,
          },
          'tick inputs',
        );
        for (const note of planned.notes) logger.debug({ mode }, note);
        const taken = new Set<string>([
          ...observation.agents.map((a) => a.name),
          ...(observation.servers ?? this.lastServers ?? []).map((x) => x.name),
        ]);
        results = await execute(
          planned.actions,
          {
            woodpecker: this.deps.woodpecker,
            provider: this.deps.provider,
            poolId: config.poolId,
            installationId: config.installationId,
            random: this.deps.random,
            logger,
            renderUserData: this.deps.renderUserData,
            now: () => clock.now(),
            dryRun: this.deps.dryRun,
            signal,
          },
          taken,
        );
        for (const r of results) if (r.outcome === 'failed') errors.push(`${r.action.kind} ${r.name}: ${r.detail ?? 'failed'}`);
        state = applyResults(observation, results);
        // Keeps the cached server list (used by scale-up ticks between full ones) in step with what this tick
        // created and removed, so max-agents and names stay right until the next full list.
        this.lastServers = state.servers;
        const next = nextMemory(this.memory, observation, results, config);
        this.memory = { ...next, capacity: nextCapacity(next.capacity, observation, state, config) };
      }
      // Upkeep writes (marking new floating IPs) happen here, not in list(): a dry run sends no write.
      if (mode === 'full' && observation?.servers && !this.deps.dryRun && !standby) await this.deps.provider.tend?.(signal);
      if (mode === 'full' && !standby) await this.maybeSweep(errors, signal);
    } finally {
      this.running = false;
    }
    const report: TickReport = {
      mode,
      startedAt,
      finishedAt: clock.now(),
      ok: errors.length === 0,
      errors,
      observation,
      state,
      plan: planned,
      results,
      memory: this.memory,
      ...(lease ? { lease } : {}),
    };
    this.last = report;
    for (const l of this.listeners) {
      try {
        l(report);
      } catch (e) {
        logger.warn({ err: errorMessage(e) }, 'tick listener failed');
      }
    }
    return report;
  }

  private async maybeSweep(errors: string[], signal?: AbortSignal): Promise<void> {
    const { provider, clock, logger } = this.deps;
    const every = this.deps.sweepInterval ?? 10 * 60_000;
    if (!provider.sweep || every <= 0 || this.deps.dryRun) return;
    const now = monotonicNow(clock);
    if (this.lastSweep !== undefined && now - this.lastSweep < every) return;
    this.lastSweep = now;
    try {
      const res = await provider.sweep(signal);
      for (const d of res.deleted) logger.info({ resource: d, reason: 'orphan' }, `deleted billed leftover ${d}`);
    } catch (e) {
      errors.push(`provider sweep failed: ${errorMessage(e)}`);
      logger.warn({ err: errorMessage(e) }, 'provider sweep failed');
    }
  }
}
