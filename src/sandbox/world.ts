import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import type { TwServer } from '../providers/timeweb/types.js';
import { createFakeTimeweb } from './fake-timeweb.js';
import type { FakeTimeweb, FakeTimewebOptions } from './fake-timeweb.js';
import { createFakeWoodpecker } from './fake-woodpecker.js';
import type { FakeWoodpecker, FakeWoodpeckerOptions } from './fake-woodpecker.js';
import { serveFake } from './serve.js';
import type { ServedFake } from './serve.js';
import type { TimerHandle } from './virtual-clock.js';
import { bootAgentFromUserData } from './vm-boot.js';
import type { Workload } from './workloads.js';
import { errorMessage } from '../util/guards.js';

/**
 * The simulated world: a fake Woodpecker server and a fake Timeweb Cloud account, joined by simulated VMs.
 *
 * A server created through the Timeweb API installs for a boot delay drawn from a distribution, then (after the
 * agent's own start delay: docker pull, compose up) the VM reads its stored cloud-init text, finds the agent's
 * environment and connects an agent with that token, capacity and labels to the fake Woodpecker — a broken
 * user-data, a wrong `WOODPECKER_SERVER` or a deleted agent token yields no agent. Deleting the server stops the
 * agent (it vanishes, like a destroyed VM). Some VMs can be made to never finish installing, and agents can die
 * mid-workflow.
 *
 * The world runs on any clock: in virtual time (simulator, tests; requests go in-process through `world.fetch`)
 * or in real time (the demo; `serve()` puts both fakes on 127.0.0.1).
 */

/** Schedules callbacks on the world's clock. `VirtualClock` is one; `realTimeScheduler` is the system clock. */
export interface Scheduler extends Clock {
  after(ms: number, fn: () => void): TimerHandle;
}

/** The system clock with real timers (for the demo). */
export function realTimeScheduler(base: Clock): Scheduler {
  return {
    now: () => base.now(),
    sleep: (ms, signal) => base.sleep(ms, signal),
    after(ms, fn) {
      const t = setTimeout(fn, Math.max(0, ms));
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/** A delay in ms: fixed, uniform in [min, max], or drawn by a function. */
export type DelaySpec = number | { min: number; max: number } | ((random: RandomFn) => number);

export function sampleDelay(spec: DelaySpec, random: RandomFn): number {
  if (typeof spec === 'number') return Math.max(0, spec);
  if (typeof spec === 'function') return Math.max(0, spec(random));
  const lo = Math.min(spec.min, spec.max);
  const hi = Math.max(spec.min, spec.max);
  return Math.round(lo + (hi - lo) * random());
}

/** `60s`, `60s..180s`, `2m-4m` (durations in s/m/h or ms), for CLI flags. */
export function parseDelaySpec(text: string): DelaySpec {
  const one = (s: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(s);
    if (!m) throw new Error(`invalid delay ${JSON.stringify(s)} (expected e.g. 90s or 60s..180s)`);
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
  };
  const parts = text.split(/\.\.|(?<=[a-z\d])-(?=\d)/);
  if (parts.length === 1) return one(parts[0] ?? '');
  if (parts.length === 2) return { min: one(parts[0] ?? ''), max: one(parts[1] ?? '') };
  throw new Error(`invalid delay range ${JSON.stringify(text)}`);
}

export interface WorldOptions {
  scheduler: Scheduler;
  random: RandomFn;
  /** The gRPC address agents must dial (`--grpc-addr`); a VM whose user-data names another one gets no agent. */
  grpcAddr: string;
  /** Admin token of the fake Woodpecker. */
  woodpeckerToken?: string;
  /** API token of the fake Timeweb account. */
  timewebToken?: string;
  /** Create → install finished (status `on`). Default uniform 60–120 s. */
  bootDelay?: DelaySpec;
  /** Install finished → agent connected (docker pull, compose up). Default uniform 20–40 s. */
  agentStartDelay?: DelaySpec;
  /**
   * Agent start on a server booted from a baked image (Docker and the agent image already there: cloud-init only
   * writes the compose file and starts it). Default 5–10 s.
   */
  imageAgentStartDelay?: DelaySpec;
  /** Share of VMs that never finish installing. Default 0. */
  neverBootRate?: number;
  /** Share of agents that die some time after connecting (mid-work or idle). Default 0. */
  agentDeathRate?: number;
  /** When a dying agent dies, after it connected. Default uniform 2–60 min. */
  agentDeathAfter?: DelaySpec;
  /** Seed foreign servers and IPs into the Timeweb account (they must never be touched). Default true. */
  seedForeign?: boolean;
  /** Pool id of the foreign look-alike server. Default `1`. */
  poolId?: string;
  /** Passed through to the fakes. */
  woodpecker?: Partial<Omit<FakeWoodpeckerOptions, 'clock' | 'random' | 'adminToken'>>;
  timeweb?: Partial<Omit<FakeTimewebOptions, 'clock' | 'random' | 'token' | 'bootDelayMs' | 'bootOutcome'>>;
  /** Wraps every in-process request (the virtual clock's `track`, so time never jumps over a request). */
  track?: <T>(p: Promise<T>) => Promise<T>;
}

export type VmFate =
  /** installing */
  | 'booting'
  /** booted, agent starting */
  | 'starting'
  /** agent connected */
  | 'agent'
  /** will never finish installing */
  | 'never-boots'
  /** booted, but the user-data yields no agent */
  | 'no-agent'
  /** its agent died */
  | 'agent-died'
  /** server deleted */
  | 'deleted';

export interface VmRecord {
  serverId: number;
  name: string;
  createdAt: number;
  bootAt?: number;
  agentAt?: number;
  deletedAt?: number;
  fate: VmFate;
  /** Why there is no agent (never the user-data itself). */
  reason?: string;
  agentId?: number;
  capacity?: number;
}

export type WorldEventKind =
  | 'workflow-queued'
  | 'server-created'
  | 'server-booted'
  | 'agent-connected'
  | 'agent-failed'
  | 'agent-died'
  | 'server-deleted';

export interface WorldEvent {
  at: number;
  kind: WorldEventKind;
  /** Server/agent name or workflow id. */
  subject: string;
  message: string;
}

/** Agents by state: every live server of ours is in exactly one. */
export interface AgentStates {
  /** server exists, no agent connected yet (installing, starting, never boots, broken user-data) */
  booting: number;
  idle: number;
  busy: number;
  /** no_schedule and no running work */
  drained: number;
  /** the agent died; the server is still there */
  lost: number;
}

export interface WorldSample {
  at: number;
  pending: number;
  running: number;
  waitingOnDeps: number;
  agents: AgentStates;
  /** our live servers */
  servers: number;
}

export interface WorldAudit {
  /** our live servers */
  servers: number;
  /** our live servers with no agent registered under their name */
  serversWithoutAgent: string[];
  /** pool agents registered on Woodpecker whose server is gone */
  agentsWithoutServer: string[];
  /** floating IPs not attached to anything that did not exist at the start */
  unattachedFloatingIps: string[];
  /** foreign servers or IPs (seeded at the start) that were deleted or changed */
  foreignTouched: string[];
  /** workflows queued, completed, still queued or running */
  workflows: { queued: number; completed: number; unfinished: number };
}

export interface WorldUrls {
  woodpecker: string;
  timeweb: string;
}

export const SANDBOX_WOODPECKER_URL = 'http://woodpecker.sandbox.internal';
export const SANDBOX_TIMEWEB_URL = 'http://timeweb.sandbox.internal';

export interface World {
  readonly woodpecker: FakeWoodpecker;
  readonly timeweb: FakeTimeweb;
  readonly scheduler: Scheduler;
  /** In-process fetch routing `urls.woodpecker` and `urls.timeweb` to the fakes; any other host fails. */
  readonly fetch: FetchFn;
  /** Base URLs for the engine's clients (in-process until `serve()`, then 127.0.0.1). */
  urls: WorldUrls;
  readonly woodpeckerToken: string;
  readonly timewebToken: string;
  /** Queues a workflow now. */
  queueWorkflow(input: { durationMs: number; labels?: Record<string, string>; name?: string }): string;
  /** Queues every workload item at `start + arrival`. */
  feed(workload: Workload, start?: number): TimerHandle;
  vms(): VmRecord[];
  /**
   * Drops the history a long benchmark run does not need (completed workflows, the records of deleted VMs), so what
   * grows in the process is the autoscaler's. Returns what was dropped. Audits and samples after it see less.
   */
  forgetHistory(): { workflows: number; vms: number };
  onEvent(fn: (e: WorldEvent) => void): void;
  sample(): WorldSample;
  /** `pool` says which agent names are the pool's (the engine's membership test, or a name pattern). */
  audit(pool: { test(name: string): boolean }): WorldAudit;
  /** Serves both fakes on 127.0.0.1 (real time) and switches `urls` to them. */
  serve(): Promise<WorldUrls>;
  /** Cancels the world's timers and stops serving. */
  close(): Promise<void>;
}

export function createWorld(opts: WorldOptions): World {
  const { scheduler, random } = opts;
  const woodpeckerToken = opts.woodpeckerToken ?? 'sandbox-woodpecker-admin-token';
  const timewebToken = opts.timewebToken ?? 'sandbox-timeweb-token';
  const bootDelay = opts.bootDelay ?? { min: 60_000, max: 120_000 };
  const agentStartDelay = opts.agentStartDelay ?? { min: 20_000, max: 40_000 };
  const imageAgentStartDelay = opts.imageAgentStartDelay ?? { min: 5_000, max: 10_000 };
  const agentDeathAfter = opts.agentDeathAfter ?? { min: 2 * 60_000, max: 60 * 60_000 };
  const track = opts.track ?? (<T>(p: Promise<T>): Promise<T> => p);

  const woodpecker = createFakeWoodpecker({
    ...opts.woodpecker,
    clock: scheduler,
    random,
    adminToken: woodpeckerToken,
  });

  const vms = new Map<number, VmRecord>();
  const timers = new Map<number, TimerHandle[]>();
  const listeners: ((e: WorldEvent) => void)[] = [];
  const worldTimers = new Set<TimerHandle>();
  let closed = false;
  let queued = 0;

  const emit = (kind: WorldEventKind, subject: string, message: string): void => {
    const e: WorldEvent = { at: scheduler.now(), kind, subject, message };
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // a listener must not break the world
      }
    }
  };

  const later = (serverId: number | undefined, ms: number, fn: () => void): void => {
    if (closed) return;
    const h = scheduler.after(ms, () => {
      if (serverId === undefined) worldTimers.delete(h);
      if (!closed) fn();
    });
    if (serverId === undefined) worldTimers.add(h);
    else timers.set(serverId, [...(timers.get(serverId) ?? []), h]);
  };

  const bootDelays = new Map<number, number>();
  const neverBoot = new Set<number>();

  const timeweb = createFakeTimeweb({
    ...opts.timeweb,
    clock: scheduler,
    random,
    token: timewebToken,
    seedForeign: opts.seedForeign ?? true,
    lookalikePoolId: opts.poolId ?? opts.timeweb?.lookalikePoolId ?? '1',
    bootDelayMs: (server: TwServer) => {
      const d = sampleDelay(bootDelay, random);
      bootDelays.set(server.id, d);
      return d;
    },
    bootOutcome: (server: TwServer) => {
      const rate = opts.neverBootRate ?? 0;
      if (rate > 0 && random() < rate) {
        neverBoot.add(server.id);
        return 'installing';
      }
      return 'on';
    },
  });

  const foreignServers = new Map(timeweb.servers().map((s) => [s.id, JSON.stringify(s)]));
  const foreignIps = new Map(timeweb.floatingIps().map((ip) => [ip.id, JSON.stringify(ip)]));

  timeweb.hooks.onServerCreated = (server) => {
    const d = bootDelays.get(server.id) ?? 0;
    bootDelays.delete(server.id);
    const rec: VmRecord = { serverId: server.id, name: server.name, createdAt: scheduler.now(), fate: 'booting' };
    vms.set(server.id, rec);
    if (neverBoot.delete(server.id)) {
      rec.fate = 'never-boots';
      rec.reason = 'the install never finishes';
      emit('server-created', server.name, `server ${server.name} created; it will never finish installing`);
      return;
    }
    emit('server-created', server.name, `server ${server.name} created; installing for ${Math.round(d / 1000)}s`);
    // The fake applies the boot lazily; wake it at the boot instant so the VM starts on time.
    later(server.id, d, () => timeweb.tick());
  };

  timeweb.hooks.onServerBooted = (server) => {
    const rec = vms.get(server.id);
    if (!rec || rec.fate !== 'booting') return;
    rec.bootAt = scheduler.now();
    if (server.status !== 'on') {
      rec.fate = 'never-boots';
      rec.reason = `server ended ${server.status}`;
      return;
    }
    rec.fate = 'starting';
    emit('server-booted', server.name, `server ${server.name} is on; starting the agent`);
    const userData = server.cloud_init ?? '';
    // From a baked image the installs are skipped (the one template checks what is there): only the start remains.
    const start = server.image?.is_custom === true ? imageAgentStartDelay : agentStartDelay;
    later(server.id, sampleDelay(start, random), () => startAgent(rec, userData));
  };

  timeweb.hooks.onServerDeleted = (server) => {
    const rec = vms.get(server.id);
    for (const h of timers.get(server.id) ?? []) h.cancel();
    timers.delete(server.id);
    if (!rec) return;
    const hadAgent = rec.fate === 'agent' && rec.agentId !== undefined;
    rec.fate = 'deleted';
    rec.deletedAt = scheduler.now();
    if (hadAgent && rec.agentId !== undefined && woodpecker.agent(rec.agentId)) {
      // The VM is gone: its agent vanishes without saying goodbye.
      woodpecker.killAgent(rec.agentId);
    }
    emit('server-deleted', server.name, `server ${server.name} deleted`);
  };

  function startAgent(rec: VmRecord, userData: string): void {
    if (rec.fate !== 'starting') return;
    const boot = bootAgentFromUserData(userData, opts.grpcAddr);
    if (!boot.ok) {
      rec.fate = 'no-agent';
      rec.reason = boot.reason;
      emit('agent-failed', rec.name, `no agent on ${rec.name}: ${boot.reason}`);
      return;
    }
    try {
      const agent = woodpecker.connectAgent(boot.agent.token, {
        capacity: boot.agent.capacity,
        labels: boot.agent.labels,
        hostname: boot.agent.hostname ?? rec.name,
      });
      rec.fate = 'agent';
      rec.agentAt = scheduler.now();
      rec.agentId = agent.id;
      rec.capacity = boot.agent.capacity;
      emit('agent-connected', agent.name, `agent ${agent.name} connected (${boot.agent.capacity} slot(s))`);
      const rate = opts.agentDeathRate ?? 0;
      if (rate > 0 && random() < rate) {
        later(rec.serverId, sampleDelay(agentDeathAfter, random), () => {
          if (rec.fate !== 'agent' || rec.agentId === undefined || !woodpecker.agent(rec.agentId)) return;
          woodpecker.killAgent(rec.agentId);
          rec.fate = 'agent-died';
          emit('agent-died', rec.name, `agent ${rec.name} died`);
        });
      }
    } catch (e) {
      rec.fate = 'no-agent';
      rec.reason = `the agent cannot authenticate: ${errorMessage(e)}`;
      emit('agent-failed', rec.name, `no agent on ${rec.name}: ${rec.reason}`);
    }
  }

  // ---- fetch routing --------------------------------------------------------------------------------------------

  const urls: WorldUrls = { woodpecker: SANDBOX_WOODPECKER_URL, timeweb: SANDBOX_TIMEWEB_URL };
  const hostOf = (u: string): string => new URL(u).host;
  const routes = new Map<string, FetchFn>([
    [hostOf(SANDBOX_WOODPECKER_URL), woodpecker.fetch],
    [hostOf(SANDBOX_TIMEWEB_URL), timeweb.fetch],
  ]);
  const fetch: FetchFn = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const route = routes.get(new URL(url).host);
    if (!route) return Promise.reject(new TypeError(`fetch failed: ${new URL(url).host} is not part of the sandbox`));
    return track(route(input, init));
  };

  // ---- control -------------------------------------------------------------------------------------------------

  function queueWorkflow(input: { durationMs: number; labels?: Record<string, string>; name?: string }): string {
    const labels = { ...(input.labels ?? {}) };
    const repo = labels.repo;
    delete labels.repo;
    const id = woodpecker.addWorkflow({
      durationMs: input.durationMs,
      labels,
      ...(repo !== undefined ? { repo } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
    });
    queued++;
    emit('workflow-queued', id, `workflow ${id} queued (${Math.round(input.durationMs / 1000)}s of work)`);
    return id;
  }

  function feed(workload: Workload, start = scheduler.now()): TimerHandle {
    const handles: TimerHandle[] = [];
    for (const item of workload.items) {
      const h = scheduler.after(start + item.arrival - scheduler.now(), () => {
        if (closed) return;
        queueWorkflow({ durationMs: item.duration, ...(item.labels ? { labels: item.labels } : {}) });
      });
      handles.push(h);
    }
    const all: TimerHandle = { cancel: () => handles.forEach((h) => h.cancel()) };
    worldTimers.add(all);
    return all;
  }

  function agentStates(): AgentStates {
    const st = woodpecker.state();
    const byId = new Map(st.agents.map((a) => [a.id, a]));
    const out: AgentStates = { booting: 0, idle: 0, busy: 0, drained: 0, lost: 0 };
    for (const rec of vms.values()) {
      if (rec.fate === 'deleted') continue;
      const a = rec.agentId !== undefined ? byId.get(rec.agentId) : undefined;
      if (rec.fate === 'agent-died' || (a && a.connection === 'dead')) out.lost++;
      else if (!a || rec.fate !== 'agent') out.booting++;
      else if (a.runningTaskIds.length > 0) out.busy++;
      else if (a.no_schedule) out.drained++;
      else out.idle++;
    }
    return out;
  }

  function sample(): WorldSample {
    const st = woodpecker.state();
    let servers = 0;
    for (const rec of vms.values()) if (rec.fate !== 'deleted') servers++;
    return {
      at: scheduler.now(),
      pending: st.pending.length,
      running: st.running.length,
      waitingOnDeps: st.waitingOnDeps.length,
      agents: agentStates(),
      servers,
    };
  }

  function audit(pattern: { test(name: string): boolean }): WorldAudit {
    const st = woodpecker.state();
    const alive = timeweb.servers();
    const ours = alive.filter((s) => vms.has(s.id));
    const agentNames = new Set(st.agents.filter((a) => pattern.test(a.name)).map((a) => a.name));
    const serverNames = new Set(ours.map((s) => s.name));
    const foreignTouched: string[] = [];
    const now = new Map(alive.map((s) => [s.id, JSON.stringify(s)]));
    for (const [id, before] of foreignServers) {
      const after = now.get(id);
      if (after === undefined) foreignTouched.push(`server ${id} deleted`);
      else if (after !== before) foreignTouched.push(`server ${id} changed`);
    }
    const ipsNow = timeweb.floatingIps();
    const ipNow = new Map(ipsNow.map((ip) => [ip.id, JSON.stringify(ip)]));
    for (const [id, before] of foreignIps) {
      const after = ipNow.get(id);
      if (after === undefined) foreignTouched.push(`floating IP ${id} deleted`);
      else if (after !== before) foreignTouched.push(`floating IP ${id} changed`);
    }
    return {
      servers: ours.length,
      serversWithoutAgent: ours.filter((s) => !agentNames.has(s.name)).map((s) => s.name),
      agentsWithoutServer: [...agentNames].filter((n) => !serverNames.has(n)),
      unattachedFloatingIps: ipsNow
        .filter((ip) => !foreignIps.has(ip.id) && ip.resource_id === null)
        .map((ip) => ip.ip ?? ip.id),
      foreignTouched,
      workflows: {
        queued,
        completed: st.completed.length,
        unfinished: st.pending.length + st.running.length + st.waitingOnDeps.length,
      },
    };
  }

  let served: ServedFake[] = [];

  const world: World = {
    woodpecker,
    timeweb,
    scheduler,
    fetch,
    urls,
    woodpeckerToken,
    timewebToken,
    queueWorkflow,
    feed,
    vms: () => [...vms.values()].map((v) => ({ ...v })),
    forgetHistory: () => {
      let dropped = 0;
      for (const [id, rec] of vms) {
        if (rec.fate === 'deleted') {
          vms.delete(id);
          dropped++;
        }
      }
      return { workflows: woodpecker.forgetCompleted(), vms: dropped };
    },
    onEvent: (fn) => {
      listeners.push(fn);
    },
    sample,
    audit,
    async serve() {
      const [wp, tw] = await Promise.all([serveFake(woodpecker.app), serveFake(timeweb.app)]);
      served = [wp, tw];
      world.urls = { woodpecker: wp.url, timeweb: tw.url };
      return world.urls;
    },
    async close() {
      closed = true;
      for (const hs of timers.values()) for (const h of hs) h.cancel();
      timers.clear();
      for (const h of worldTimers) h.cancel();
      worldTimers.clear();
      await Promise.all(served.map((s) => s.close()));
      served = [];
    },
  };
  return world;
}
