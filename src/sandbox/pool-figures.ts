import { formatLabels, matchingLabels, matchTask } from '../engine/labels.js';
import type { Labels } from '../engine/labels.js';
import { calcDelta } from '../engine/planner.js';
import type { TickReport } from '../engine/reconciler.js';
import type { EngineConfig } from '../engine/types.js';
import type { FakeWoodpeckerState } from './fake-woodpecker.js';
import { costAt, percentile, vmHours } from './metrics.js';
import type { ServerLife } from './metrics.js';
import type { LabelClassFigures, PoolFigures } from './result.js';

/**
 * Per-pool and per-label-class figures of a simulation run (pure): which pool created which server and what it
 * cost at that pool's own price, the servers a pool created for work its agents cannot run, and queue waits by the
 * workflows' labels.
 */

/** Labels the server adds to every workflow (the fake does too): not part of a label class. */
const SERVER_LABELS = new Set(['repo', 'org-id']);

/** A workflow's label class: its matching labels without `repo` and `org-id` (`size=small`; '' for none). */
export function labelClass(labels: Labels | null): string {
  return formatLabels(Object.fromEntries(Object.entries(matchingLabels(labels)).filter(([k]) => !SERVER_LABELS.has(k))));
}

/** One pool of a run, as the figures need it. */
export interface PoolRun {
  id: string;
  /** The pool's agent-labels as configured. */
  agentLabels: Labels;
  /** The effective labels of the agents it creates (`poolAgentLabels`): what the server matches tasks against. */
  matchLabels: Labels;
  engine: Pick<EngineConfig, 'policy' | 'workflowsPerAgent' | 'minAgents' | 'maxAgents' | 'billingModel' | 'filterLabels'>;
  /** Whether a server name is this pool's (its name pattern and installation tag). */
  owns: (name: string) => boolean;
  perHour: number;
  priceDescription: string;
}

/**
 * Servers a tick created for pending work the pool's agents cannot run: 0 unless the pool counted such work; then
 * the creates beyond what the same plan (same agents, slots, warm capacity and limits) would have asked for without
 * that work, after the agents the tick reactivated. `counted` = the ids of the pending tasks the pool was given
 * (several pools); undefined = one pool, which counts the whole queue (or `--filter-labels`' share of it).
 */
export function vmsForWorkItCannotRun(report: TickReport, pool: Pick<PoolRun, 'matchLabels' | 'engine'>, counted?: ReadonlySet<string>): number {
  const summary = report.plan?.summary;
  const queue = report.observation?.queue;
  if (!summary || !queue) return 0;
  const creates = report.results.filter((r) => r.outcome === 'done' && r.action.kind === 'create').length;
  if (creates === 0) return 0;
  const filter = pool.engine.filterLabels;
  const countedTasks = queue.pending.filter((t) =>
    counted ? counted.has(t.id) : filter === undefined || (t.labels !== null && Object.hasOwn(t.labels, filter.key) && t.labels[filter.key] === filter.value),
  );
  const cannot = countedTasks.filter((t) => !matchTask(t.labels, pool.matchLabels).ok).length;
  if (cannot === 0) return 0;
  const without = calcDelta(
    {
      free: summary.freeSlots,
      running: summary.runningTasks,
      pending: Math.max(0, summary.pendingTasks - cannot),
      active: summary.active,
      booting: summary.booting,
      idleSlots: summary.warm?.idleSlots ?? 0,
    },
    { ...pool.engine, minAgents: summary.warm?.minAgents ?? pool.engine.minAgents },
  ).delta;
  const reactivated = report.results.filter((r) => r.outcome === 'done' && r.action.kind === 'reactivate').length;
  return Math.max(0, creates - Math.max(0, without - reactivated));
}

/** The servers of each pool (in pool order) and those no pool owns. */
export interface ServersByPool {
  owned: ServerLife[][];
  unowned: ServerLife[];
}

/** Sorts servers into their pools (once: the ownership test computes an HMAC). */
export function byPool(pools: readonly PoolRun[], lives: readonly ServerLife[]): ServersByPool {
  const owned = pools.map(() => [] as ServerLife[]);
  const unowned: ServerLife[] = [];
  for (const l of lives) {
    const i = pools.findIndex((p) => p.owns(l.name));
    (i >= 0 ? owned[i] : unowned)?.push(l);
  }
  return { owned, unowned };
}

/** VMs, hours and cost of every pool: each server is priced at the price and billing model of the pool that owns it. */
export function poolFigures(pools: readonly PoolRun[], servers: ServersByPool, end: number, cannotRun: readonly number[]): PoolFigures[] {
  const { owned, unowned } = servers;
  const figures = (p: PoolRun, ls: readonly ServerLife[], i: number): PoolFigures => ({
    id: p.id,
    agentLabels: formatLabels(p.agentLabels),
    vmsCreated: ls.length,
    vmHours: Math.round(vmHours(ls, end) * 100) / 100,
    cost: Math.round(costAt(ls, end, p.perHour, p.engine.billingModel) * 100) / 100,
    perHour: p.perHour,
    billing: p.engine.billingModel,
    priceDescription: p.priceDescription,
    vmsForWorkItCannotRun: cannotRun[i] ?? 0,
  });
  const out = pools.map((p, i) => figures(p, owned[i] ?? [], i));
  // Servers no pool proves its own cannot come from the engine; counted at the first pool's price, never hidden.
  const first = pools[0];
  if (unowned.length > 0 && first) out.push({ ...figures(first, unowned, -1), id: '?', agentLabels: '', vmsForWorkItCannotRun: 0 });
  return out;
}

/** Cost of every pool's servers up to `at`, each at its own pool's price. */
export function costOfPools(pools: readonly PoolRun[], servers: ServersByPool, at: number): number {
  let total = 0;
  pools.forEach((p, i) => (total += costAt(servers.owned[i] ?? [], at, p.perHour, p.engine.billingModel)));
  const first = pools[0];
  if (first) total += costAt(servers.unowned, at, first.perHour, first.engine.billingModel);
  return total;
}

/** Workflows by label class: queued, completed, unfinished, wait p95 of those that started, and unservable ones. */
export function labelClassFigures(
  st: Pick<FakeWoodpeckerState, 'completed' | 'pending' | 'running' | 'waitingOnDeps'>,
  pools: readonly Pick<PoolRun, 'matchLabels'>[],
): LabelClassFigures[] {
  const classes = new Map<string, LabelClassFigures & { waits: number[] }>();
  const add = (labels: Labels, f: (c: LabelClassFigures & { waits: number[] }) => void): void => {
    const key = labelClass(labels);
    let c = classes.get(key);
    if (!c) {
      c = { labels: key, queued: 0, completed: 0, unfinished: 0, waitP95: null, unservable: 0, waits: [] };
      classes.set(key, c);
    }
    c.queued++;
    if (!pools.some((p) => matchTask(labels, p.matchLabels).ok)) c.unservable++;
    f(c);
  };
  for (const w of st.completed) {
    add(w.labels, (c) => {
      if (w.status === 'success' || w.status === 'failure') c.completed++;
      if (w.startedAt !== undefined && w.status !== 'cancelled') c.waits.push(w.startedAt - w.queuedAt);
    });
  }
  for (const w of st.running) {
    add(w.labels, (c) => {
      c.unfinished++;
      if (w.startedAt !== undefined) c.waits.push(w.startedAt - w.queuedAt);
    });
  }
  for (const w of [...st.pending, ...st.waitingOnDeps]) add(w.labels, (c) => c.unfinished++);
  return [...classes.values()]
    .sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0))
    .map(({ waits, ...c }) => ({ ...c, waitP95: waits.length > 0 ? percentile(waits, 95) : null }));
}
