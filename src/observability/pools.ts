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
import { createStatusTracker, type PoolEntry, type StatusSnapshot, type StatusTracker, type UnservableStatus } from './status.js';

/**
 * Observability of several pools (`--pools-file`): a status tracker and a metrics registry per pool (every series
 * carries its pool's `pool` label), one daemon-wide registry for the work no pool can run
 * (`twcloud_scaler_unservable_tasks{labels}`), `/api/status` with a `pools` list, and admin controls routed to the
 * pool an agent belongs to. The first pool's tracker and metrics are the single-pool ones, so every field a single
 * pool shows keeps its meaning.
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
  const entries = (): PoolEntry[] =>
    per.map((p, i) => {
      const s = p.status.snapshot(p.assembled.reconciler.state);
      return {
        pool: s.pool,
        labels: formatLabels(a.configs[i]?.core.agentLabels ?? {}),
        admin: s.admin,
        summary: s.summary,
        agents: s.agents,
        lastTick: s.lastTick,
        demand: demandOf(last?.demand?.pools[i]),
      };
    });
  const status: StatusTracker = {
    observeTick: (r) => head.status.observeTick(r),
    observeBalance: (b) => {
      for (const p of per) p.status.observeBalance(b);
    },
    snapshot: (memory?: EngineMemory): StatusSnapshot => ({ ...head.status.snapshot(memory), pools: entries(), unservable: unservable() }),
    decisions: (limit) =>
      per
        .flatMap((p) => p.status.decisions(limit))
        .sort((x, y) => y.at - x.at)
        .slice(0, limit ?? 50),
    lastFullTick: () => head.status.lastFullTick(),
    lastFullTickAgeMs: () => head.status.lastFullTickAgeMs(),
    lease: () => head.status.lease(),
    knownAgents: () => new Set(per.flatMap((p) => [...p.status.knownAgents()])),
  };
  const owner = (name: string): (typeof per)[number] | undefined =>
    per.find((p) => p.status.knownAgents().has(name)) ?? per.find((p) => poolNamePattern(p.assembled.engine.poolId).test(name));
  const first = a.first.reconciler;
  const controls: AdminControls = {
    get state() {
      return first.state;
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
