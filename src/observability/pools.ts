import { Gauge, Registry } from 'prom-client';
import { formatLabels } from '../engine/labels.js';
import { poolNamePattern } from '../engine/pool.js';
import type { PoolDemand } from '../engine/pool-demand.js';
import type { PoolSetReport } from '../engine/pools.js';
import type { EngineMemory } from '../engine/types.js';
import type { AssembledPools } from '../pools.js';
import type { Clock } from '../util/clock.js';
import { safeLabel } from './derive.js';
import type { AdminControls } from './http.js';
import { createMetrics, METRIC_PREFIX, type Metrics } from './metrics.js';
import {
  createStatusTracker,
  type CostStatus,
  type Decision,
  type PoolEntry,
  type StatusSnapshot,
  type StatusTracker,
  type TickStatus,
  type UnservableStatus,
} from './status.js';

/**
 * Observability of several pools (`--pools-file`): a status tracker and a metrics registry per pool (every series
 * carries its pool's `pool` label), one daemon-wide registry for the work no pool can run
 * (`twcloud_scaler_unservable_tasks{labels}`), `/api/status` with every pool's agents, servers and decisions (each
 * tagged with its `pool`) and a `pools` list, `/readyz` on every pool's last reconcile, and admin controls routed to
 * the pool an agent belongs to. The first pool's tracker and metrics are the single-pool ones.
 */

export interface PoolsObservability {
  status: StatusTracker;
  metrics: Pick<Metrics, 'render'>;
  controls: AdminControls;
}

/**
 * Merges Prometheus text expositions: the samples of a family that several registries export go under one
 * `# HELP`/`# TYPE` header (the format forbids a family appearing twice).
 */
export function mergeExpositions(texts: readonly string[]): string {
  const order: string[] = [];
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const text of texts) {
    let current: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2] ?? '';
        let fam = families.get(name);
        if (!fam) {
          fam = { header: [], samples: [] };
          families.set(name, fam);
          order.push(name);
        }
        if (!fam.header.some((h) => h.startsWith(`# ${meta[1] ?? ''} `))) fam.header.push(line);
        current = fam;
      } else if (current) current.samples.push(line);
    }
  }
  return order.map((n) => {
    const f = families.get(n);
    return f ? [...f.header, ...f.samples].join('\n') : '';
  }).join('\n\n') + '\n';
}

const demandOf = (d: PoolDemand | undefined): PoolEntry['demand'] =>
  d ? { pending: d.pending, waitingOnDeps: d.waitingOnDeps, running: d.running, freeSlots: d.freeSlots } : null;

/**
 * The whole tick from every pool's part: ok only when every pool's was, each error and note prefixed with its pool.
 * Null until every pool has one (a pool that never reconciled keeps the daemon unready).
 */
export function combineTicks(ticks: readonly (TickStatus | null)[], ids: readonly string[]): TickStatus | null {
  const first = ticks[0];
  if (!first || ticks.some((t) => t === null)) return null;
  const all = ticks as readonly TickStatus[];
  const tagged = (pick: (t: TickStatus) => string[]): string[] =>
    all.flatMap((t, i) => pick(t).map((m) => (m.startsWith('pool ') ? m : `pool ${ids[i] ?? '?'}: ${m}`)));
  const startedAt = Math.min(...all.map((t) => t.startedAt));
  const finishedAt = Math.max(...all.map((t) => t.finishedAt));
  return {
    mode: first.mode,
    startedAt,
    finishedAt,
    durationMs: Math.max(0, finishedAt - startedAt),
    ok: all.every((t) => t.ok),
    errors: [...new Set(tagged((t) => t.errors))],
    notes: tagged((t) => t.notes),
    woodpeckerOk: all.every((t) => t.woodpeckerOk),
    providerOk: all.every((t) => t.providerOk),
  };
}

/** The spend of every pool together; `perHour` (and its parts) only when every pool's server costs the same. */
export function combineCosts(costs: readonly CostStatus[], balance: CostStatus['balance']): CostStatus {
  const first = costs[0];
  const same = first !== undefined && costs.every((c) => c.perHour === first.perHour && c.currency === first.currency);
  const since = costs.flatMap((c) => (c.since === null ? [] : [c.since]));
  return {
    currency: first?.currency ?? null,
    perHour: same ? first.perHour : null,
    description: same ? first.description : null,
    parts: same ? first.parts.map((x) => ({ ...x })) : [],
    balance,
    total: costs.reduce((sum, c) => sum + c.total, 0),
    since: since.length > 0 ? Math.min(...since) : null,
  };
}

export function observePools(a: AssembledPools, head: { status: StatusTracker; metrics: Metrics }, clock: Clock): PoolsObservability {
  const per = a.pools.map((p, i) => {
    if (i === 0) return { ...head, assembled: p };
    const price = (): ReturnType<NonNullable<typeof p.provider.price>> => p.provider.price?.();
    const status = createStatusTracker({ clock, config: p.reconciler.config, price });
    const metrics = createMetrics({ price, poolId: p.engine.poolId, installationId: p.engine.installationId });
    p.reconciler.onTick((r) => {
      metrics.observeTick(r);
      status.observeTick(r);
    });
    return { status, metrics, assembled: p };
  });
  const wide = new Registry();
  const unservableGauge = new Gauge({
    name: `${METRIC_PREFIX}unservable_tasks`,
    help: 'Pending workflows no pool and no agent can run (their labels match nothing), by label set; they never scale anything.',
    labelNames: ['labels'],
    registers: [wide],
  });
  let last: PoolSetReport | undefined;
  a.set.onTick((r) => {
    last = r;
    unservableGauge.reset();
    for (const g of r.unservable) unservableGauge.set({ labels: safeLabel(formatLabels(g.labels), 200) }, g.taskIds.length);
  });

  const unservable = (): UnservableStatus[] =>
    (last?.unservable ?? []).map((g) => ({ labels: formatLabels(g.labels), tasks: g.taskIds.length }));
  const ids = per.map((p) => p.assembled.engine.poolId);
  const decisions = (limit = 50): Decision[] =>
    per
      .flatMap((p, i) => p.status.decisions(limit).map((d) => ({ ...d, pool: ids[i] ?? '?' })))
      .sort((x, y) => y.at - x.at)
      .slice(0, Math.max(0, Math.floor(limit)));
  // `memory` (the controls' merged state) is not needed: every pool's live admin state is its engine's.
  const snapshot = (): StatusSnapshot => {
    const snaps = per.map((p) => p.status.snapshot(p.assembled.reconciler.state));
    const h = snaps[0] ?? head.status.snapshot();
    const tag = <T extends object>(pick: (s: StatusSnapshot) => T[]): (T & { pool: string })[] =>
      snaps.flatMap((s, i) => pick(s).map((x) => ({ ...x, pool: ids[i] ?? '?' })));
    const pools: PoolEntry[] = snaps.map((s, i) => ({
      pool: s.pool,
      labels: formatLabels(a.configs[i]?.core.agentLabels ?? {}),
      admin: s.admin,
      summary: s.summary,
      agents: s.agents,
      servers: s.servers,
      serversKnown: s.serversKnown,
      lastTick: s.lastTick,
      demand: demandOf(last?.demand?.pools[i]),
      cost: { ...s.cost, balance: null },
      series: s.series,
    }));
    return {
      ...h,
      admin: {
        ...h.admin,
        paused: snaps.some((s) => s.admin.paused),
        cordoned: snaps.flatMap((s) => s.admin.cordoned),
        drainRequested: snaps.flatMap((s) => s.admin.drainRequested),
      },
      agents: tag((s) => s.agents),
      servers: tag((s) => s.servers),
      serversKnown: snaps.every((s) => s.serversKnown),
      foreign: tag((s) => s.foreign),
      lastTick: combineTicks(snaps.map((s) => s.lastTick), ids),
      lastFullTick: combineTicks(snaps.map((s) => s.lastFullTick), ids),
      cost: combineCosts(snaps.map((s) => s.cost), h.cost.balance),
      decisions: decisions(),
      pools,
      unservable: unservable(),
    };
  };
  const status: StatusTracker = {
    observeTick: (r) => head.status.observeTick(r),
    observeBalance: (b) => {
      for (const p of per) p.status.observeBalance(b);
    },
    snapshot,
    decisions,
    // Ready only when every pool's last full reconcile is recent and reached its provider.
    lastFullTick: () => combineTicks(per.map((p) => p.status.lastFullTick()), ids),
    lastFullTickAgeMs: () => {
      const ages = per.map((p) => p.status.lastFullTickAgeMs());
      return ages.some((x) => x === null) ? null : Math.max(...(ages as number[]));
    },
    lease: () => head.status.lease(),
    knownAgents: () => new Set(per.flatMap((p) => [...p.status.knownAgents()])),
  };
  const owner = (name: string): (typeof per)[number] | undefined =>
    per.find((p) => p.status.knownAgents().has(name)) ?? per.find((p) => poolNamePattern(p.assembled.engine.poolId).test(name));
  const first = a.first.reconciler;
  const controls: AdminControls = {
    /** The first pool's, with every pool's cordoned and drain-requested agents (admin answers list them all). */
    get state(): EngineMemory {
      const all = per.map((p) => p.assembled.reconciler.state);
      return {
        ...first.state,
        paused: all.some((m) => m.paused),
        cordoned: all.flatMap((m) => m.cordoned),
        drainRequested: all.flatMap((m) => m.drainRequested),
      };
    },
    setPaused: (paused) => {
      for (const p of per) p.assembled.reconciler.setPaused(paused);
    },
    setCordoned: (name, cordoned) => (owner(name)?.assembled.reconciler ?? first).setCordoned(name, cordoned),
    requestDrain: (name) => (owner(name)?.assembled.reconciler ?? first).requestDrain(name),
  };
  const metrics = {
    async render(): Promise<{ contentType: string; body: string }> {
      const texts = await Promise.all([...per.map((p) => p.metrics.registry.metrics()), wide.metrics()]);
      return { contentType: head.metrics.registry.contentType, body: mergeExpositions(texts) };
    },
  };
  return { status, metrics, controls };
}
