import { runAssembled } from '../assemble.js';
import { resolvePools } from '../config/pools-file.js';
import { formatLabels, matchTask, poolAgentLabels } from '../engine/labels.js';
import { assemblePools, runPools, type AssembledPools } from '../pools.js';
import type { Logger } from 'pino';
import { formatDuration } from '../config/duration.js';
import type { OptionValue, OptionValues } from '../config/types.js';
import type { Policy } from '../engine/types.js';
import { isOurAgentName } from '../engine/pool.js';
import type { TickReport } from '../engine/reconciler.js';
import { silentLogger } from '../observability/logger.js';
import { seededRandom } from '../util/clock.js';
import { buildSandboxEngine, sandboxValues, SHOWN_SETTINGS } from './engine.js';
import type { SandboxEngine } from './engine.js';
import { mean, peakConcurrent, percentile, vmHours } from './metrics.js';
import type { ServerLife } from './metrics.js';
import { describeLabelBlind, labelBlindValues } from './label-blind.js';
import { byPool, costOfPools, labelClassFigures, poolFigures, vmsForWorkItCannotRun } from './pool-figures.js';
import type { PoolRun } from './pool-figures.js';
import type { SimulationResult, SimulationSeries } from './result.js';
import { VirtualClock } from './virtual-clock.js';
import type { DelaySpec, World } from './world.js';
import { createWorld } from './world.js';
import type { Workload } from './workloads.js';

/**
 * Replays a workload against the unmodified engine (Reconciler + runLoop, the real Woodpecker client and the real
 * Timeweb provider) in the simulated world, on a virtual clock: a day of CI traffic takes seconds.
 */

export interface SimulateOptions {
  workload: Workload;
  /** Core and provider option values (keys of the option tables, parsed: durations in ms). Missing = default. */
  values?: OptionValues;
  /** Name of the run in reports. Default: the policy. */
  label?: string;
  /** Seeds the world and the engine's randomness. Default 1. */
  seed?: number;
  bootDelay?: DelaySpec;
  agentStartDelay?: DelaySpec;
  /** Agent start on servers booted from a baked image (`--timewebcloud-image-id`). Default 5–10 s. */
  imageAgentStartDelay?: DelaySpec;
  neverBootRate?: number;
  agentDeathRate?: number;
  /** Series sample period (virtual ms). Default 60 s. */
  sampleInterval?: number;
  /** Simulated time after the workload (and all its workflows) finished, to see the pool shrink. Default 1 h. */
  tail?: number;
  /** How long past the workload span to wait for unfinished workflows. Default 12 h. */
  maxOvertime?: number;
  /** Virtual start time (unix ms). Default Monday 2025-01-06 00:00 UTC. */
  start?: number;
  /**
   * Run one label-blind pool with this policy instead of the pools of `values.poolsFile` (see label-blind.ts): what
   * one autoscaler counting the whole queue would have done. Without a pools file: the configured pool, this policy.
   */
  labelBlind?: Policy;
  /** Price per server-hour of every pool, overriding each pool's preset price. */
  pricePerHour?: number;
  logger?: Logger;
  /** Wall clock for the `wallMs` figure (the CLI passes `performance.now`); omitted = not measured. */
  wallClock?: () => number;
  /** Called with every tick report (virtual time). */
  onTick?: (report: TickReport) => void;
  /** Called once the world exists, before the engine starts (tests inject faults here). */
  setup?: (world: World, clock: VirtualClock) => void;
}

/** Awaits `p` while driving the virtual clock (start-up code may sleep on it, e.g. rate limiting). */
export async function drive<T>(clock: VirtualClock, p: Promise<T>, limitMs = 3_600_000): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  out.catch(() => undefined);
  await clock.runWhile(() => done, clock.now() + limitMs);
  if (!done) throw new Error(`still waiting after ${formatDuration(limitMs)} of virtual time`);
  return out;
}

function inc(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function settingValue(v: OptionValue | undefined, key: string): string | number | boolean {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'number' && /Interval|Timeout|Margin|Grace/.test(key)) return formatDuration(v);
  return v;
}

export async function simulate(opts: SimulateOptions): Promise<SimulationResult> {
  const wallStart = opts.wallClock?.();
  const seed = opts.seed ?? 1;
  const clock = new VirtualClock(opts.start !== undefined ? { start: opts.start } : {});
  const start = clock.now();
  const logger = opts.logger ?? silentLogger();
  const user = opts.values ?? {};
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(seed),
    grpcAddr: typeof user.grpcAddr === 'string' ? user.grpcAddr : 'woodpecker-server:9000',
    ...(opts.bootDelay !== undefined ? { bootDelay: opts.bootDelay } : {}),
    ...(opts.agentStartDelay !== undefined ? { agentStartDelay: opts.agentStartDelay } : {}),
    ...(opts.imageAgentStartDelay !== undefined ? { imageAgentStartDelay: opts.imageAgentStartDelay } : {}),
    neverBootRate: opts.neverBootRate ?? 0,
    agentDeathRate: opts.agentDeathRate ?? 0,
    poolId: typeof user.poolId === 'string' ? user.poolId : '1',
    track: (p) => clock.track(p),
  });
  let values = sandboxValues(world, user);
  opts.setup?.(world, clock);

  const engineRandom = seededRandom((seed ^ 0x5bd1e995) >>> 0);
  let sim: SandboxEngine;
  // A pools file (--pools-file) runs every pool of it, like the daemon; the first pool's settings are shown.
  let several: AssembledPools | undefined;
  let blindOf: string | undefined;
  try {
    let pools = typeof values.poolsFile === 'string' && values.poolsFile !== '' ? resolvePools(values, { core: { requireServer: false } }) : undefined;
    if (opts.labelBlind !== undefined) {
      if (pools) blindOf = describeLabelBlind(pools);
      values = pools ? labelBlindValues(pools, opts.labelBlind) : { ...values, policy: opts.labelBlind };
      pools = undefined;
    }
    const first = pools?.[0];
    if (pools && first) {
      several = await drive(clock, assemblePools({ pools, clock, fetch: world.fetch, random: engineRandom, logger }));
      sim = { core: first.core, ...several.first };
    } else sim = await drive(clock, buildSandboxEngine({ values, clock, fetch: world.fetch, random: engineRandom, logger }));
  } catch (e) {
    await world.close();
    throw e;
  }
  const { engine } = sim;
  const members = several
    ? several.pools.map((a, i) => ({ a, id: several.configs[i]?.id ?? a.engine.poolId, labels: several.configs[i]?.core.agentLabels ?? {} }))
    : [{ a: sim, id: engine.poolId, labels: sim.core.agentLabels }];
  // Every pool at its own price (its preset and public IP), or every pool at --price-per-hour.
  const poolRuns: PoolRun[] = members.map(({ a, id, labels }) => {
    const price = a.provider.price?.();
    return {
      id,
      agentLabels: labels,
      matchLabels: poolAgentLabels(labels),
      engine: a.engine,
      owns: (name: string) => isOurAgentName(name, a.engine),
      perHour: opts.pricePerHour ?? price?.perHour ?? 0,
      priceDescription: opts.pricePerHour !== undefined ? '--price-per-hour' : (price?.description ?? 'no price known'),
    };
  });
  // The simulator counts what the engine counts: agents whose names carry this installation's tag (of any pool).
  const pattern = { test: (name: string): boolean => poolRuns.some((p) => p.owns(name)) };
  /** Per pool: servers created for pending work its agents cannot run. */
  const cannotRun = poolRuns.map(() => 0);

  const actions: Record<string, number> = {};
  const actionProblems: Record<string, number> = {};
  const ticks = { full: 0, scaleUp: 0, withErrors: 0 };
  const countTick = (r: { mode: string; ok: boolean }): void => {
    if (r.mode === 'full') ticks.full++;
    else ticks.scaleUp++;
    if (!r.ok) ticks.withErrors++;
  };
  if (several) {
    several.set.onTick((r) => {
      countTick(r);
      r.reports.forEach((report, i) => {
        const pool = poolRuns[i];
        const given = new Set(r.demand?.pools[i]?.pendingTaskIds ?? []);
        if (pool) cannotRun[i] = (cannotRun[i] ?? 0) + vmsForWorkItCannotRun(report, pool, given);
      });
    });
  }
  for (const reconciler of several ? several.pools.map((p) => p.reconciler) : [sim.reconciler]) {
    reconciler.onTick((r) => {
      if (!several) {
        countTick(r);
        const pool = poolRuns[0];
        if (pool) cannotRun[0] = (cannotRun[0] ?? 0) + vmsForWorkItCannotRun(r, pool);
      }
      for (const res of r.results) {
        if (res.outcome === 'done') inc(actions, `${res.action.kind} ${res.action.reason.code}`);
        else inc(actionProblems, `${res.action.kind} ${res.outcome}`);
      }
      opts.onTick?.(r);
    });
  }

  // Samples of the world over time.
  const interval = opts.sampleInterval ?? 60_000;
  const samples: ReturnType<World['sample']>[] = [];
  const takeSample = (): void => {
    samples.push(world.sample());
  };
  takeSample();
  const sampler = clock.every(interval, takeSample);

  world.feed(opts.workload, start);
  const stop = new AbortController();
  const loopDone = several ? runPools(several, { clock, logger, signal: stop.signal }) : runAssembled(sim, { clock, logger, signal: stop.signal });

  // Work no pool can run never finishes: the run does not wait for it (it still counts as unfinished).
  const unfinished = (): number => {
    const st = world.woodpecker.state();
    return st.running.length + [...st.pending, ...st.waitingOnDeps].filter((w) => poolRuns.some((p) => matchTask(w.labels, p.matchLabels).ok)).length;
  };
  await clock.runUntil(start + opts.workload.span);
  const overtimeLimit = start + opts.workload.span + (opts.maxOvertime ?? 12 * 3_600_000);
  while (clock.now() < overtimeLimit && unfinished() > 0) {
    await clock.runUntil(Math.min(overtimeLimit, clock.now() + interval));
  }
  await clock.runFor(opts.tail ?? 3_600_000);
  takeSample();
  sampler.cancel();
  const end = clock.now();

  stop.abort(new Error('simulation finished'));
  await drive(clock, loopDone, 10 * 60_000);

  // ---- figures ----
  const st = world.woodpecker.state();
  // Wait = queued → (last) start; a workflow that never started counts with its wait so far.
  const waits = [
    ...st.completed
      .filter((w) => w.startedAt !== undefined && w.status !== 'cancelled')
      .map((w) => (w.startedAt ?? w.queuedAt) - w.queuedAt),
    ...[...st.pending, ...st.waitingOnDeps].map((w) => end - w.queuedAt),
    ...st.running.map((w) => (w.startedAt ?? end) - w.queuedAt),
  ];
  const vms = world.vms();
  const lives: ServerLife[] = vms.map((v) => ({
    name: v.name,
    createdAt: v.createdAt,
    ...(v.deletedAt !== undefined ? { deletedAt: v.deletedAt } : {}),
  }));
  const price = sim.provider.price?.();
  const currency = price?.currency ?? 'RUB';
  const billing = engine.billingModel;
  const servers = byPool(poolRuns, lives);
  const pools = poolFigures(poolRuns, servers, end, cannotRun);
  const totalCost = costOfPools(poolRuns, servers, end);
  const labelClasses = labelClassFigures(st, poolRuns);
  const boots = vms.filter((v) => v.agentAt !== undefined).map((v) => (v.agentAt ?? 0) - v.createdAt);
  const audit = world.audit(pattern);

  const series: SimulationSeries = {
    t: [],
    pending: [],
    running: [],
    booting: [],
    idle: [],
    busy: [],
    drained: [],
    lost: [],
    servers: [],
    cost: [],
  };
  for (const s of samples) {
    series.t.push(Math.round((s.at - start) / 1000));
    series.pending.push(s.pending);
    series.running.push(s.running);
    series.booting.push(s.agents.booting);
    series.idle.push(s.agents.idle);
    series.busy.push(s.agents.busy);
    series.drained.push(s.agents.drained);
    series.lost.push(s.agents.lost);
    series.servers.push(s.servers);
    series.cost.push(Math.round(costOfPools(poolRuns, servers, s.at) * 100) / 100);
  }

  const apiCalls: Record<string, number> = {};
  for (const [k, v] of Object.entries(world.woodpecker.requestCounts())) inc(apiCalls, `woodpecker ${k}`, v ?? 0);
  for (const [k, v] of Object.entries(world.timeweb.requestCounts())) inc(apiCalls, `timeweb ${k}`, v ?? 0);

  const settings: Record<string, string | number | boolean> = {};
  const engineValues: Record<string, OptionValue | undefined> = {
    policy: engine.policy,
    minAgents: engine.minAgents,
    maxAgents: engine.maxAgents,
    workflowsPerAgent: engine.workflowsPerAgent,
    reconciliationInterval: engine.reconciliationInterval,
    queuePollInterval: sim.queuePollInterval,
    agentIdleTimeout: engine.agentIdleTimeout,
    agentInactivityTimeout: engine.agentInactivityTimeout,
    agentBillingTeardownMargin: engine.agentBillingTeardownMargin,
    minIdleSlots: sim.core.minIdleSlots,
    schedule: sim.core.schedules.map((x) => x.text).join('; '),
    forecast: sim.core.forecast,
    budgetDaily: sim.core.budgetDaily,
    budgetMonthly: sim.core.budgetMonthly,
    eventStream: sim.core.eventStream,
  };
  for (const k of SHOWN_SETTINGS) settings[k] = settingValue(engineValues[k], k);
  settings.billing = billing;
  settings.price =
    poolRuns.length > 1
      ? poolRuns.map((p) => `${p.id} ${p.perHour.toFixed(2)} ${currency}/h (${p.priceDescription})`).join('; ')
      : price
        ? `${price.perHour.toFixed(2)} ${price.currency}/h (${price.description})`
        : 'unknown';
  if (opts.pricePerHour !== undefined) settings.priceOverride = `${opts.pricePerHour} ${currency}/h`;
  settings.bootDelay = describeDelay(opts.bootDelay ?? { min: 60_000, max: 120_000 });
  settings.agentStartDelay = describeDelay(opts.agentStartDelay ?? { min: 20_000, max: 40_000 });
  if (typeof user.timewebcloudImageId === 'string' && user.timewebcloudImageId !== '') {
    settings.bootPath = `baked image ${user.timewebcloudImageId}`;
    settings.imageAgentStartDelay = describeDelay(opts.imageAgentStartDelay ?? { min: 5_000, max: 10_000 });
  }
  if (several) {
    settings.pools = several.configs
      .map((p) => `${p.id} (${formatLabels(p.core.agentLabels) || 'no labels'}, ${p.core.minAgents}-${p.core.maxAgents} agents)`)
      .join('; ');
  }
  if (blindOf !== undefined) settings.labelBlind = blindOf;
  if (opts.neverBootRate) settings.neverBootRate = opts.neverBootRate;
  if (opts.agentDeathRate) settings.agentDeathRate = opts.agentDeathRate;

  await world.close();
  const wallEnd = opts.wallClock?.();
  const completedCount = st.completed.filter((w) => w.status === 'success' || w.status === 'failure').length;
  const result: SimulationResult = {
    label: opts.label ?? engine.policy,
    policy: engine.policy,
    seed,
    workload: { name: opts.workload.name, workflows: opts.workload.items.length, spanMs: opts.workload.span },
    settings,
    startedAt: start,
    simulatedMs: end - start,
    workflows: {
      queued: audit.workflows.queued,
      completed: completedCount,
      unfinished: audit.workflows.unfinished,
      restarted: st.completed.filter((w) => w.attempts > 1).length,
    },
    queueWait: {
      p50: percentile(waits, 50),
      p95: percentile(waits, 95),
      max: waits.length ? Math.max(...waits) : 0,
      mean: Math.round(mean(waits)),
    },
    vms: {
      created: vms.length,
      peak: peakConcurrent(lives, end),
      hours: Math.round(vmHours(lives, end) * 100) / 100,
      withAgent: vms.filter((v) => v.agentAt !== undefined).length,
      withoutAgent: vms.filter((v) => v.agentAt === undefined).length,
      bootP50: percentile(boots, 50),
      bootP95: percentile(boots, 95),
    },
    cost: {
      total: Math.round(totalCost * 100) / 100,
      perWorkflow: completedCount > 0 ? Math.round((totalCost / completedCount) * 1000) / 1000 : 0,
      currency,
      billing,
      perHour: poolRuns[0]?.perHour ?? 0,
      description: poolRuns.length > 1 ? 'every pool at its own price (see pools)' : (poolRuns[0]?.priceDescription ?? 'no price known'),
    },
    leftover: {
      servers: audit.servers,
      serversWithoutAgent: audit.serversWithoutAgent.length,
      agentsWithoutServer: audit.agentsWithoutServer.length,
      unattachedFloatingIps: audit.unattachedFloatingIps.length,
      foreignTouched: audit.foreignTouched,
    },
    apiCalls,
    actions,
    actionProblems,
    ticks,
    pools,
    labelClasses,
    unservable: labelClasses.reduce((n, c) => n + c.unservable, 0),
    series,
  };
  if (wallStart !== undefined && wallEnd !== undefined) result.wallMs = Math.round(wallEnd - wallStart);
  return result;
}

function describeDelay(d: DelaySpec): string {
  if (typeof d === 'number') return formatDuration(d);
  if (typeof d === 'function') return 'custom';
  return `${formatDuration(d.min)}..${formatDuration(d.max)}`;
}
