import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/guards.js';
import type { Demand } from './demand.js';
import type { WoodpeckerApi } from './executor.js';
import { formatLabels, type Labels } from './labels.js';
import type { LeaseStatus } from './lease.js';
import type { LeaseGate } from './lease-keeper.js';
import { currentSpend, type OtherPoolsSpend } from './budget.js';
import { assignDemand, poolFor, type DemandPool, type DemandResult, type PoolDemand, type UnservableGroup } from './pool-demand.js';
import { poolMembership } from './pool.js';
import type { Reconciler, SharedSnapshot, TickReport } from './reconciler.js';
import type { EngineConfig, Observation, PlanMode } from './types.js';
import type { QueueInfo } from '../woodpecker/types.js';

/**
 * Several pools in one daemon (`--pools-file`): one Woodpecker snapshot (agents, queue) and one lease check per
 * tick for all pools, each pool's provider lists its own servers, `assignDemand` gives each pool its share of the
 * queue, then each pool's reconciler plans and acts on its share only, in pool order; before each, the pool gets
 * its own arrivals (forecast) and the other pools' spend and next-hour reservations (the daemon-wide budget caps), so
 * its planner stays a pure function of its observation. Work no pool can run is reported (one warning per label set
 * while it waits) and never scales anything.
 */

export interface PoolMember {
  reconciler: Reconciler;
  /** Effective labels of the agents this pool creates (`poolAgentLabels`). */
  labels: Labels;
  /** Price of one more agent per hour (ties between equally good pools: the cheapest serves); Infinity = unknown. */
  pricePerHour: number;
}

export interface PoolSetDeps {
  pools: readonly PoolMember[];
  /** The shared client: the snapshot is read once per tick for every pool. */
  woodpecker: Pick<WoodpeckerApi, 'listAgents' | 'queueInfo' | 'serverNow'>;
  /** The one lease of the installation (checked once per tick). None = always act. */
  lease?: LeaseGate;
  clock: Clock;
  logger: Logger;
  /** An agent with a contact at most this old (ms) takes work with its free slots. Default 60 s. */
  onlineWithin?: number;
}

/** One tick of every pool. */
export interface PoolSetReport {
  mode: PlanMode;
  ok: boolean;
  errors: string[];
  /** One report per pool, in pool order. */
  reports: TickReport[];
  /** How the queue was shared out (undefined when it could not be observed). */
  demand?: DemandResult;
  /** Pending work no pool (and no other agent) can run, by label set. */
  unservable: UnservableGroup[];
  lease?: LeaseStatus;
}

export type PoolSetListener = (report: PoolSetReport) => void;

/** The part of a pool's share the planner works on: like the queue's numbers, tasks a free slot takes included. */
export function planDemand(d: PoolDemand): Demand {
  return { pending: d.pending + d.absorbed, running: d.running, free: d.freeSlots + d.absorbed };
}

export class PoolSet {
  private running = false;
  /** Label sets already warned about as unservable (forgotten when they leave the queue). */
  private readonly warned = new Set<string>();
  private readonly listeners: PoolSetListener[] = [];
  /** Per pool: its servers as last known (for the other pools' budget reservations). */
  private readonly servers: (number | undefined)[] = [];
  last: PoolSetReport | undefined;

  constructor(private readonly deps: PoolSetDeps) {
    if (deps.pools.length === 0) throw new Error('a pool set needs at least one pool');
  }

  get pools(): readonly PoolMember[] {
    return this.deps.pools;
  }

  /** The first pool's configuration (the loop reads the policy from it; every pool shares the global settings). */
  get config(): EngineConfig {
    const first = this.deps.pools[0];
    if (!first) throw new Error('a pool set needs at least one pool');
    return first.reconciler.config;
  }

  /**
   * Whether a queue poll's pending work may be some pool's: not when every pending task was, at the last tick,
   * unservable or left to an agent outside the pools (no pool matches them; the full reconcile still runs).
   */
  mayScaleFor(queue: Pick<QueueInfo, 'pending'>): boolean {
    const last = this.last;
    if (!last?.demand) return true;
    const ignored = new Set([...last.unservable.flatMap((g) => g.taskIds), ...last.demand.leftToOthers]);
    return queue.pending.some((t) => !ignored.has(t.id));
  }

  onTick(listener: PoolSetListener): void {
    this.listeners.push(listener);
  }

  async tick(mode: PlanMode = 'full', signal?: AbortSignal): Promise<PoolSetReport> {
    if (this.running) throw new Error('a reconcile is already running');
    this.running = true;
    try {
      const report = await this.run(mode, signal);
      this.last = report;
      for (const l of this.listeners) {
        try {
          l(report);
        } catch (e) {
          this.deps.logger.warn({ err: errorMessage(e) }, 'tick listener failed');
        }
      }
      return report;
    } finally {
      this.running = false;
    }
  }

  private async run(mode: PlanMode, signal?: AbortSignal): Promise<PoolSetReport> {
    const { woodpecker, logger } = this.deps;
    let shared: SharedSnapshot | undefined;
    let observeError: string | undefined;
    try {
      const [agents, queue] = await Promise.all([woodpecker.listAgents(signal), woodpecker.queueInfo(signal)]);
      shared = { agents, queue, woodpeckerNow: woodpecker.serverNow?.() };
    } catch (e) {
      observeError = `observing the Woodpecker server failed: ${errorMessage(e)}`;
      logger.error({ err: errorMessage(e) }, 'reconciliation failed: could not observe the Woodpecker server');
    }
    const lease = shared && this.deps.lease ? await this.deps.lease.check(shared.agents, mode, signal) : undefined;
    const observations: (Observation | undefined)[] = shared
      ? await Promise.all(this.deps.pools.map((p) => p.reconciler.observe(mode, signal, shared)))
      : this.deps.pools.map(() => undefined);
    let demand: DemandResult | undefined;
    if (shared) {
      const owner = this.owners(observations);
      demand = this.share(shared, owner);
      demand.pools.forEach((d, i) => {
        const obs = observations[i];
        if (!obs) return;
        obs.demand = planDemand(d);
        obs.ownTasks = this.ownTasks(shared.queue, d, demand?.absorbed ?? [], owner);
      });
      this.warnUnservable(demand.unservable);
    }
    // Servers of each pool as last known: this tick's observation, then what the pool's own tick left.
    observations.forEach((o, i) => {
      if (o?.servers) this.servers[i] = o.servers.length;
    });
    const reports: TickReport[] = [];
    for (const [i, p] of this.deps.pools.entries()) {
      const observation = observations[i];
      if (observation && this.deps.pools.length > 1 && p.reconciler.config.budget) {
        // Pools after this one that wait for servers share the daemon-wide room of this tick with it.
        const competing = (demand?.pools ?? []).filter((d, j) => j > i && d.pending > 0).length;
        observation.budgetOthers = { ...this.othersSpend(i, observation.now), competing };
      }
      const report = await p.reconciler.tick(mode, signal, { observation, lease, ...(observeError ? { observeError } : {}) });
      const after = report.state?.servers ?? report.observation?.servers;
      if (after) this.servers[i] = after.length;
      reports.push(report);
    }
    const errors = reports.flatMap((r, i) => r.errors.map((e) => `pool ${this.deps.pools[i]?.reconciler.config.poolId ?? '?'}: ${e}`));
    return {
      mode,
      ok: errors.length === 0,
      errors,
      reports,
      ...(demand ? { demand } : {}),
      unservable: demand?.unservable ?? [],
      ...(lease ? { lease } : {}),
    };
  }

  /** Every pool's agents (agent id → pool id) by proof (poolMembership), never by the name pattern alone. */
  private owners(observations: readonly (Observation | undefined)[]): Map<number, string> {
    const owner = new Map<number, string>();
    this.deps.pools.forEach((p, i) => {
      const obs = observations[i];
      if (!obs) return;
      const cfg = p.reconciler.config;
      for (const a of poolMembership(obs, cfg, p.reconciler.state.adopted).agents) owner.set(a.id, cfg.poolId);
    });
    return owner;
  }

  /**
   * The queue's tasks that are the pool's of `d`, for its forecast: its pending share, the pending tasks its free
   * slots take, the waiting tasks that would fall to it and the tasks its agents run. Another pool's work is not its
   * arrivals.
   */
  private ownTasks(
    queue: QueueInfo,
    d: PoolDemand,
    absorbed: DemandResult['absorbed'],
    owner: ReadonlyMap<number, string>,
  ): NonNullable<Observation['ownTasks']> {
    const id = d.poolId;
    const mine = new Set([...d.pendingTaskIds, ...absorbed.filter((x) => owner.get(x.agentId) === id).map((x) => x.taskId)]);
    const pools = this.demandPools();
    return {
      pending: queue.pending.filter((t) => mine.has(t.id)),
      waiting_on_deps: queue.waiting_on_deps.filter((t) => poolFor(t, pools)?.id === id),
      running: queue.running.filter((t) => owner.get(t.agent_id) === id),
    };
  }

  /**
   * What the pools other than `i` have spent in the current day and month (their ledgers) and committed (the next
   * hour of each of their servers, at their own price): it counts against the daemon-wide budget caps of pool `i`.
   */
  private othersSpend(i: number, now: number): Omit<OtherPoolsSpend, 'competing'> {
    const out = { spentDay: 0, spentMonth: 0, reserved: 0, servers: 0 };
    this.deps.pools.forEach((p, j) => {
      const b = p.reconciler.config.budget;
      if (j === i || !b) return;
      const spent = currentSpend(p.reconciler.state.capacity.ledger, now, b.timeZone);
      const servers = this.servers[j] ?? 0;
      out.spentDay += spent.day;
      out.spentMonth += spent.month;
      out.reserved += servers * b.perHour;
      out.servers += servers;
    });
    return out;
  }

  private demandPools(): DemandPool[] {
    return this.deps.pools.map((p) => ({ id: p.reconciler.config.poolId, labels: p.labels, pricePerHour: p.pricePerHour }));
  }

  /** Who serves what (see `assignDemand`). */
  private share(shared: SharedSnapshot, owner: ReadonlyMap<number, string>): DemandResult {
    return assignDemand({
      now: shared.woodpeckerNow ?? this.deps.clock.now(),
      onlineWithin: this.deps.onlineWithin ?? 60_000,
      queue: shared.queue,
      agents: shared.agents,
      pools: this.demandPools(),
      poolOf: (a) => owner.get(a.id),
    });
  }

  /** One warning per label set while its work waits; said again if it comes back after leaving the queue. */
  private warnUnservable(groups: readonly UnservableGroup[]): void {
    const seen = new Set<string>();
    for (const g of groups) {
      const key = formatLabels(g.labels);
      seen.add(key);
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.deps.logger.warn(
        { labels: g.labels, tasks: g.taskIds.length, unservable: true },
        `${g.taskIds.length} pending task(s) with labels ${key === '' ? '(none)' : key} match no pool and no agent: nothing is created for them (add a pool whose agent-labels match)`,
      );
    }
    for (const k of this.warned) if (!seen.has(k)) this.warned.delete(k);
  }
}
