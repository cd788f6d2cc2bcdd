import { runAssembled } from '../assemble.js';
import type { Logger } from 'pino';
import type { OptionValue, OptionValues } from '../config/types.js';
import type { CoreConfig } from '../config/core-config.js';
import { formatDuration } from '../config/duration.js';
import { isOurAgentName } from '../engine/pool.js';
import type { Reconciler, TickReport } from '../engine/reconciler.js';
import type { Provider } from '../providers/types.js';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { buildSandboxEngine, sandboxValues } from './engine.js';
import type { ApiRequestHook, SandboxEngine } from './engine.js';
import { costAt, percentile } from './metrics.js';
import type { DelaySpec, World, WorldAudit, WorldEvent } from './world.js';
import { createWorld, realTimeScheduler } from './world.js';
import { errorMessage } from '../util/guards.js';
import type { FakeWoodpeckerState } from './fake-woodpecker.js';

/**
 * `twcloud-scaler demo`: the real daemon loop (runLoop, real time, short intervals) against the simulated world
 * served on 127.0.0.1, with a synthetic job stream and a terminal view of what the autoscaler does and why.
 * Needs no cloud account and bills nothing. Stopping (Ctrl-C or `duration`) finishes the current tick, then
 * deletes every server, floating IP and agent the demo created, and shows that nothing is left.
 */

/** Settings the demo uses unless the user sets them (flags or env): things happen within seconds. */
export const DEMO_DEFAULTS: Readonly<Record<string, OptionValue>> = {
  reconciliationInterval: 10_000,
  queuePollInterval: 2_000,
  minAgents: 0,
  maxAgents: 5,
  workflowsPerAgent: 2,
  agentIdleTimeout: 45_000,
  agentInactivityTimeout: 2 * 60_000,
  timewebcloudBilling: 'per-second',
  logLevel: 'warn',
};

/** Extras started with the engine (the lead's daemon hooks: metrics, status listener). Same shape as DaemonHooks. */
export interface DemoHooks {
  onRequest?: ApiRequestHook;
  start?: (ctx: { reconciler: Reconciler; provider: Provider; core: CoreConfig; logger: Logger }) => Promise<() => Promise<void>>;
}

export interface JobStreamOptions {
  /** Mean background arrivals per minute. Default 1.5. */
  perMinute?: number;
  /** A burst of 3–8 workflows about this often (ms). Default 150 s; 0 = no bursts. */
  burstEvery?: number;
  /** Workflow duration. Default 20–90 s. */
  duration?: DelaySpec;
}

export interface DemoOptions {
  /** User option values (flags/env), over `DEMO_DEFAULTS`. Server and provider settings are forced to the sandbox. */
  values: OptionValues;
  clock: Clock;
  /** Real fetch (the engine talks HTTP to 127.0.0.1). */
  fetch: FetchFn;
  random: RandomFn;
  logger: Logger;
  /** Where the view goes. */
  out: { write(s: string): unknown; isTTY?: boolean; columns?: number; rows?: number };
  /** Stops the demo. */
  signal: AbortSignal;
  /** Stop by itself after this long (ms); undefined = until `signal`. */
  duration?: number;
  bootDelay?: DelaySpec;
  agentStartDelay?: DelaySpec;
  jobs?: JobStreamOptions;
  /** Extras (status listener, metrics). */
  hooks?: DemoHooks;
  /** The status page's URL once the extras listen (shown in the view). */
  statusUrl?: () => string | undefined;
  /** View refresh period (ms). Default 1 s on a terminal, 15 s otherwise. */
  refreshMs?: number;
  /**
   * Warnings to keep on screen (e.g. the status page could not listen): read at every redraw, shown under the
   * header, so the terminal view does not wipe them.
   */
  notices?: readonly string[];
}

export interface DemoSummary {
  elapsedMs: number;
  /** `running` and `pending` were still so when the demo stopped (the clean-up cancels them). */
  workflows: { queued: number; completed: number; running: number; pending: number };
  serversCreated: number;
  /** What was left after the clean-up (all zero when it worked). */
  leftover: WorldAudit;
}

function hhmmss(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function dur(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Queue waits so far: queued → started for workflows that started, and the wait until `now` for those still
 * waiting (a figure of finished workflows only would say "p50 0s" while six wait).
 */
export function queueWaits(st: Pick<FakeWoodpeckerState, 'pending' | 'waitingOnDeps' | 'running' | 'completed'>, now: number): {
  waits: number[];
  waiting: number;
} {
  const started = [...st.completed, ...st.running]
    .filter((w) => w.startedAt !== undefined)
    .map((w) => (w.startedAt ?? w.queuedAt) - w.queuedAt);
  const waiting = [...st.pending, ...st.waitingOnDeps];
  return { waits: [...started, ...waiting.map((w) => Math.max(0, now - w.queuedAt))], waiting: waiting.length };
}

/** `queue wait p50 5s, max 40s (incl. 6 still waiting)` */
export function queueWaitLine(st: Parameters<typeof queueWaits>[0], now: number): string {
  const { waits, waiting } = queueWaits(st, now);
  return (
    `queue wait p50 ${dur(percentile(waits, 50))}, max ${dur(waits.length ? Math.max(...waits) : 0)}` +
    (waiting > 0 ? ` (incl. ${waiting} still waiting)` : '')
  );
}

/** The closing line's workflow figures: finished ones and the ones still running or queued at the stop. */
export function workflowTally(w: DemoSummary['workflows']): string {
  const open = [w.running > 0 ? `${w.running} still running` : '', w.pending > 0 ? `${w.pending} still queued` : ''].filter(Boolean);
  return `${w.completed} workflow(s) finished${open.length ? `, ${open.join(' and ')} at the stop (cancelled)` : ''}`;
}

/** World events caused by the engine's own actions: shown after the tick's decision lines, not before. */
const CAUSED_BY_ACTIONS: ReadonlySet<WorldEvent['kind']> = new Set(['server-created', 'server-deleted']);

function describeResult(report: TickReport): string[] {
  const lines: string[] = [];
  for (const r of report.results) {
    const verb = r.outcome === 'done' ? '' : `${r.outcome}: `;
    const detail = r.detail ? ` (${r.detail})` : '';
    lines.push(`${verb}${r.action.kind} ${r.name} — ${r.action.reason.code}: ${r.action.reason.message}${detail}`);
  }
  for (const e of report.errors) lines.push(`error: ${e}`);
  return lines;
}

const EVENT_MARK: Partial<Record<WorldEvent['kind'], string>> = {
  'server-created': '+',
  'server-booted': '^',
  'agent-connected': '●',
  'agent-failed': '!',
  'agent-died': '✝',
  'server-deleted': '-',
};

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const { clock, random, logger, out } = opts;
  const tty = out.isTTY === true;
  const scheduler = realTimeScheduler(clock);
  const user: Record<string, OptionValue | undefined> = { ...DEMO_DEFAULTS };
  for (const [k, v] of Object.entries(opts.values)) if (v !== undefined) user[k] = v;

  const world = createWorld({
    scheduler,
    random,
    grpcAddr: typeof user.grpcAddr === 'string' ? user.grpcAddr : 'woodpecker-server:9000',
    bootDelay: opts.bootDelay ?? { min: 5_000, max: 15_000 },
    agentStartDelay: opts.agentStartDelay ?? { min: 2_000, max: 5_000 },
    poolId: typeof user.poolId === 'string' ? user.poolId : '1',
    // Real time: keep the fake's bookkeeping snappy.
    woodpecker: { healthIntervalMs: 5_000 },
  });
  await world.serve();
  const started = clock.now();
  const log: string[] = [];
  const push = (line: string): void => {
    log.push(line);
    if (log.length > 200) log.splice(0, log.length - 200);
    if (!tty) out.write(`${line}\n`);
  };

  let sim: SandboxEngine | undefined;
  let stopExtras: (() => Promise<void>) | undefined;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(opts.signal.reason);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const timers: ReturnType<typeof setTimeout>[] = [];
  let refresh: ReturnType<typeof setInterval> | undefined;
  let flushHeld = (): void => undefined;
  try {
    const values = sandboxValues(world, user);
    sim = await buildSandboxEngine({
      values,
      clock,
      fetch: opts.fetch,
      random,
      logger,
      ...(opts.hooks?.onRequest ? { onRequest: opts.hooks.onRequest } : {}),
    });
    const built = sim;
    const { reconciler, engine, core } = built;
    stopExtras = await opts.hooks?.start?.({ reconciler, provider: sim.provider, core, logger });

    // A create's "+ server created" happens inside the tick, before the tick reports the decision: such events wait
    // for the end of the tick, so every line comes after the decision that caused it.
    const held: string[] = [];
    let holding = true;
    reconciler.onTick((r) => {
      for (const line of describeResult(r)) push(`${hhmmss(r.finishedAt)} ${line}`);
      for (const line of held.splice(0)) push(line);
    });
    world.onEvent((e) => {
      const mark = EVENT_MARK[e.kind];
      if (!mark) return;
      const line = `${hhmmss(e.at)} ${mark} ${e.message}`;
      if (holding && CAUSED_BY_ACTIONS.has(e.kind)) held.push(line);
      else push(line);
    });
    flushHeld = () => {
      holding = false; // the loop stopped: no tick report will come any more
      for (const line of held.splice(0)) push(line);
    };

    // ---- the job stream ----
    const jobs = opts.jobs ?? {};
    const perMinute = jobs.perMinute ?? 1.5;
    const burstEvery = jobs.burstEvery ?? 150_000;
    const duration = jobs.duration ?? { min: 20_000, max: 90_000 };
    const sampleDuration = (): number => {
      if (typeof duration === 'number') return duration;
      if (typeof duration === 'function') return duration(random);
      return Math.round(duration.min + (duration.max - duration.min) * random());
    };
    const repos = ['acme/web', 'acme/api', 'acme/mobile'];
    const queueOne = (): void => {
      world.queueWorkflow({ durationMs: sampleDuration(), labels: { repo: repos[Math.floor(random() * repos.length)] ?? 'acme/web' } });
    };
    const nextArrival = (): void => {
      if (stop.signal.aborted || perMinute <= 0) return;
      const wait = (-Math.log(1 - random()) * 60_000) / perMinute;
      timers.push(
        setTimeout(() => {
          if (stop.signal.aborted) return;
          queueOne();
          nextArrival();
        }, wait),
      );
    };
    const nextBurst = (first: boolean): void => {
      if (stop.signal.aborted || burstEvery <= 0) return;
      const wait = first ? 20_000 : burstEvery * (0.6 + 0.8 * random());
      timers.push(
        setTimeout(() => {
          if (stop.signal.aborted) return;
          const n = 3 + Math.floor(random() * 6);
          push(`${hhmmss(clock.now())} » a burst of ${n} workflows arrives`);
          for (let i = 0; i < n; i++) queueOne();
          nextBurst(false);
        }, wait),
      );
    };
    queueOne();
    nextArrival();
    nextBurst(true);
    if (opts.duration !== undefined) timers.push(setTimeout(() => stop.abort(new Error('demo duration reached')), opts.duration));

    // ---- the view ----
    const header = (): string[] => [
      'twcloud-scaler demo — the real autoscaler against a simulated Woodpecker server and Timeweb Cloud on 127.0.0.1',
      '(nothing is created in any cloud, nothing is billed)',
      `policy ${engine.policy} · agents ${engine.minAgents}..${engine.maxAgents} · ${engine.workflowsPerAgent} workflow(s) per agent · ` +
        `reconcile every ${formatDuration(engine.reconciliationInterval)}` +
        (built.queuePollInterval > 0 ? ` · queue poll ${formatDuration(built.queuePollInterval)}` : '') +
        ` · idle timeout ${formatDuration(engine.agentIdleTimeout)} · ${engine.billingModel} billing`,
      `fake Woodpecker ${world.urls.woodpecker} · fake Timeweb API ${world.urls.timeweb}` +
        (opts.statusUrl?.() ? ` · status page ${opts.statusUrl()}` : ''),
    ];
    const price = sim.provider.price?.();
    const summaryLines = (): string[] => {
      const s = world.sample();
      const st = world.woodpecker.state();
      const lives = world.vms().map((v) => ({
        name: v.name,
        createdAt: v.createdAt,
        ...(v.deletedAt !== undefined ? { deletedAt: v.deletedAt } : {}),
      }));
      const cost = price ? costAt(lives, clock.now(), price.perHour, engine.billingModel) : undefined;
      const last = reconciler.last?.plan?.summary;
      return [
        `running for ${dur(clock.now() - started)} · workflows: ${s.pending} pending, ${s.running} running, ` +
          `${st.completed.length} done · ${queueWaitLine(st, clock.now())}`,
        `servers ${s.servers} · agents: ${s.agents.busy} busy, ${s.agents.idle} idle, ${s.agents.booting} booting, ` +
          `${s.agents.drained} drained${s.agents.lost ? `, ${s.agents.lost} lost` : ''} · ${world.vms().length} server(s) created so far` +
          (cost !== undefined && price ? ` · would have cost ${cost.toFixed(2)} ${price.currency}` : ''),
        last
          ? `last plan: ${last.pendingTasks} pending + ${last.runningTasks} running need ${last.required} agent(s), ` +
            `${last.available} available → ${last.delta > 0 ? `+${last.delta}` : String(last.delta)}`
          : 'last plan: (first reconcile running)',
      ];
    };
    const draw = (): void => {
      if (tty) {
        const head = [...header(), ...(opts.notices ?? []).map((n) => `! ${n}`)];
        const rows = Math.max(8, (out.rows !== undefined && out.rows > 0 ? out.rows : 30) - head.length - 9);
        const width = out.columns !== undefined && out.columns > 0 ? Math.max(40, out.columns) : 120;
        const clip = (l: string): string => (l.length > width ? `${l.slice(0, width - 1)}…` : l);
        const screen = [
          ...head,
          '',
          ...summaryLines(),
          '',
          'what happened (newest last):',
          ...log.slice(-rows),
          '',
          'Ctrl-C stops the demo and deletes everything it created.',
        ].map(clip);
        out.write(`\x1b[H\x1b[2J${screen.join('\n')}\n`);
      } else {
        out.write(`-- ${summaryLines().join(' | ')}\n`);
      }
    };
    if (!tty) out.write(`${header().join('\n')}\n`);
    draw();
    refresh = setInterval(draw, opts.refreshMs ?? (tty ? 1_000 : 15_000));

    await runAssembled(sim, { clock, logger, signal: stop.signal });
    clearInterval(refresh);
    refresh = undefined;
    flushHeld();
    draw();
  } catch (e) {
    // Start-up failed (or the loop threw): nothing of ours may keep listening.
    await stopExtras?.().catch(() => undefined);
    await world.close();
    throw e;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    stop.abort(new Error('demo stopped'));
    for (const t of timers) clearTimeout(t);
    if (refresh) clearInterval(refresh);
  }

  out.write('\nstopping: deleting every server, floating IP and agent the demo created…\n');
  const atStop = world.woodpecker.state();
  const elapsedMs = clock.now() - started;
  const leftover = await cleanUp(world, sim, out);
  await stopExtras?.().catch(() => undefined);
  const summary: DemoSummary = {
    elapsedMs,
    workflows: {
      queued: leftover.workflows.queued,
      completed: atStop.completed.filter((w) => w.status !== 'cancelled').length,
      running: atStop.running.length,
      pending: atStop.pending.length + atStop.waitingOnDeps.length,
    },
    serversCreated: world.vms().length,
    leftover,
  };
  await world.close();
  out.write(
    `done: ${workflowTally(summary.workflows)}; ${summary.serversCreated} server(s) created in ${dur(summary.elapsedMs)}; ` +
      `left over: ${leftover.servers} server(s), ${leftover.unattachedFloatingIps.length} floating IP(s), ` +
      `${leftover.agentsWithoutServer.length} agent(s)${leftover.foreignTouched.length ? `; FOREIGN RESOURCES TOUCHED: ${leftover.foreignTouched.join(', ')}` : ''}\n`,
  );
  return summary;
}

/**
 * Deletes what the demo created through the real clients: cancels the remaining workflows, removes every owned
 * server (the provider only touches servers with our markers), sweeps loose floating IPs and deletes the pool's
 * agents. Returns the audit afterwards.
 */
async function cleanUp(world: World, sim: SandboxEngine | undefined, out: DemoOptions['out']): Promise<WorldAudit> {
  const id = sim?.engine ?? { poolId: '1', installationId: '' };
  const pattern = { test: (name: string): boolean => isOurAgentName(name, id) };
  const st = world.woodpecker.state();
  for (const w of [...st.pending, ...st.waitingOnDeps, ...st.running]) world.woodpecker.cancelWorkflow(w.id);
  if (sim) {
    try {
      for (const s of await sim.provider.list()) {
        const r = await sim.provider.remove(s.name);
        out.write(`  server ${s.name}: ${r}\n`);
      }
      if (sim.provider.sweep) {
        const swept = await sim.provider.sweep();
        for (const d of swept.deleted) out.write(`  ${d}: removed\n`);
      }
      for (const a of await sim.woodpecker.listAgents()) {
        if (!pattern.test(a.name)) continue;
        const r = await sim.woodpecker.deleteAgent(a.id);
        out.write(`  agent ${a.name}: ${r}\n`);
      }
    } catch (e) {
      out.write(`  clean-up failed: ${errorMessage(e)}\n`);
    }
  }
  return world.audit(pattern);
}
