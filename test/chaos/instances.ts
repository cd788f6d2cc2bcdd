import { runAssembled } from '../../src/assemble.js';
import type { LeaseStatus } from '../../src/engine/lease.js';
import { LEASE_PREFIX, leasePattern } from '../../src/engine/lease.js';
import { isOurAgentName } from '../../src/engine/pool.js';
import type { TickReport } from '../../src/engine/reconciler.js';
import { silentLogger } from '../../src/observability/logger.js';
import { isOwnedServer } from '../../src/providers/timeweb/ownership.js';
import { buildSandboxEngine, sandboxValues, type SandboxEngine } from '../../src/sandbox/engine.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld } from '../../src/sandbox/world.js';
import type { WorkloadItem } from '../../src/sandbox/workloads.js';
import { seededRandom, type Clock, type FetchFn } from '../../src/util/clock.js';
import { OWNER, POOL_ID } from './harness.js';

/**
 * Several instances of ONE installation on one pool (an upgrade that starts the new container before the old one
 * stops, a second systemd unit by mistake): the unmodified engine, assembled like the daemon, twice, against the
 * same simulated Woodpecker and Timeweb, in virtual time. Adversarial interleavings: every request of either
 * instance is delayed by a random amount (so their ticks and requests interleave in random order), one instance
 * is frozen mid-tick for longer than the lease TTL (SIGSTOP, a paused VM: its timers and requests stop, its
 * monotonic clock does not), instances are killed (no goodbye) and stopped gracefully (SIGTERM) and restarted.
 * Optionally the daemons' wall clocks are skewed and stepped by an hour both ways.
 *
 * Invariants, checked on every request and world event: no server is deleted while its agent runs a workflow; no
 * agent with running tasks is deleted; owned servers ≤ max-agents at every instant; no healthy agent is removed as
 * stale or never-connected. After a quiet period: exactly one live instance acts and one lease record exists.
 */

const S = 1000;
const M = 60 * S;

export interface InstancesScenario {
  seed: number;
  /** Instances started at once. */
  instances: number;
  maxAgents: number;
  /** Freeze one instance mid-tick for longer than the TTL. */
  freeze: boolean;
  /** Kill / gracefully stop and restart instances. */
  restarts: boolean;
  /** Skew the daemons' wall clocks (+30 min) and step them ±1 h during the run. */
  clockJumps: boolean;
  /** Upper bound of the random delay added to every request (interleaving). */
  jitterMs: number;
}

export interface InstancesOutcome {
  violations: string[];
  stats: {
    requests: number;
    serversCreated: number;
    peakOwned: number;
    takeovers: number;
    fencedWrites: number;
    freezes: number;
    kills: number;
    gracefulStops: number;
    clockSteps: number;
    /** Longest gap between two full ticks of the acting instance (ms), outside freezes. */
    longestTickGapMs: number;
    completed: number;
    queued: number;
    /** Instances acting at the end, and lease records on Woodpecker. */
    actingAtEnd: number;
    leaseRecordsAtEnd: number;
  };
}

/** A daemon's clock: wall time skewable, monotonic = virtual time; a frozen process's timers fire after the thaw. */
class InstanceClock implements Clock {
  offset = 0;
  frozenUntil = 0;
  constructor(private readonly vc: VirtualClock) {}
  now(): number {
    return this.vc.now() + this.offset;
  }
  monotonic(): number {
    return this.vc.now();
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.vc.sleep(ms, signal);
    await this.thaw();
  }
  /** Resolves once the process is thawed (`early` ms before its timers, for answers that were waiting). */
  async thaw(early = 0): Promise<void> {
    while (this.vc.now() < this.frozenUntil - early) await this.vc.sleep(this.frozenUntil - early - this.vc.now());
  }
}

interface Instance {
  label: string;
  clock: InstanceClock;
  killed: boolean;
  stop: AbortController;
  loop: Promise<void> | undefined;
  engine: SandboxEngine | undefined;
  lastFullAt: number | undefined;
  lease: LeaseStatus | undefined;
}

export async function runInstances(sc: InstancesScenario, trace?: (line: string) => void): Promise<InstancesOutcome> {
  const vc = new VirtualClock();
  const start = vc.now();
  const rng = seededRandom((sc.seed * 2654435761) >>> 0);
  const log = (msg: string): void => trace?.(`[+${Math.round((vc.now() - start) / 1000)}s] ${msg}`);
  const violations: string[] = [];
  const violate = (msg: string): void => {
    const line = `[+${Math.round((vc.now() - start) / 1000)}s] ${msg}`;
    if (violations.length < 30 && !violations.includes(line)) violations.push(line);
  };
  const stats: InstancesOutcome['stats'] = {
    requests: 0,
    serversCreated: 0,
    peakOwned: 0,
    takeovers: 0,
    fencedWrites: 0,
    freezes: 0,
    kills: 0,
    gracefulStops: 0,
    clockSteps: 0,
    longestTickGapMs: 0,
    completed: 0,
    queued: 0,
    actingAtEnd: 0,
    leaseRecordsAtEnd: 0,
  };

  const world = createWorld({
    scheduler: vc,
    random: seededRandom((sc.seed * 31 + 7) >>> 0),
    grpcAddr: 'woodpecker-server:9000',
    poolId: POOL_ID,
    track: (p) => vc.track(p),
  });
  const ours = (name: string): boolean => isOurAgentName(name, OWNER) || leasePattern(OWNER.installationId).test(name);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
  const inactivity = 10 * M;
  const values = sandboxValues(world, {
    policy: 'default',
    minAgents: 0,
    maxAgents: sc.maxAgents,
    workflowsPerAgent: pick([1, 2]),
    timewebcloudBilling: pick(['hourly', 'per-second'] as const),
    agentIdleTimeout: pick([2 * M, 5 * M]),
    agentInactivityTimeout: inactivity,
    reconciliationInterval: 30 * S,
  });
  const chaosMs = 60 * M;
  const items: WorkloadItem[] = [];
  const n = 12 + Math.floor(rng() * 12);
  for (let i = 0; i < n; i++) items.push({ arrival: Math.round(rng() * 50 * M), duration: Math.round(M + rng() * 10 * M) });
  items.sort((a, b) => a.arrival - b.arrival);
  stats.queued = items.length;
  world.feed({ name: `instances-${sc.seed}`, items, span: chaosMs }, start);

  const owned = (): number => world.timeweb.servers().filter((s) => isOwnedServer(s, OWNER)).length;
  let over = false;
  world.onEvent((e) => {
    if (e.kind !== 'workflow-queued') log(e.message);
    if (e.kind !== 'server-created') return;
    stats.serversCreated++;
    const k = owned();
    stats.peakOwned = Math.max(stats.peakOwned, k);
    if (k > sc.maxAgents && !over) violate(`${k} owned servers > max-agents ${sc.maxAgents}`);
    over = k > sc.maxAgents;
  });

  /** Safety checks on a request, before the fakes see it. */
  const check = (who: string, input: Request | string | URL, init: RequestInit | undefined): void => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? 'GET').toUpperCase();
    if (method !== 'DELETE') return;
    const srv = /^\/api\/v1\/servers\/(\d+)$/.exec(url.pathname);
    if (srv) {
      const server = world.timeweb.server(Number(srv[1]));
      const agent = server && world.woodpecker.state().agents.find((a) => a.name === server.name);
      if (agent && agent.runningTaskIds.length > 0) {
        violate(`${who} deletes server ${agent.name} under ${agent.runningTaskIds.length} running workflow(s)`);
      }
    }
    const ag = /^\/api\/agents\/(\d+)$/.exec(url.pathname);
    if (ag) {
      const agent = world.woodpecker.agent(Number(ag[1]));
      if (agent && agent.runningTaskIds.length > 0) log(`${who} asks to delete busy agent ${agent.name} (the server answers 409)`);
      if (agent && !ours(agent.name)) violate(`${who} deletes foreign agent ${agent.name}`);
    }
  };

  const instances: Instance[] = [];
  const ttl = 90 * S;
  let frozen = false;
  let freezeArmed = false;
  let gen = 0;

  const makeFetch = (inst: Instance): FetchFn => async (input, init) => {
    await inst.clock.thaw();
    if (inst.killed) throw new TypeError('fetch failed: the process is gone');
    // Interleaving: each request of each instance takes a random time to reach the servers.
    await vc.sleep(Math.round(rng() * sc.jitterMs));
    if (inst.killed) throw new TypeError('fetch failed: the process is gone');
    stats.requests++;
    check(inst.label, input, init);
    const res = await world.fetch(input, init);
    // The armed freeze hits the acting instance mid-tick right after one of its writes (often the lease renew, so
    // the rest of the tick runs on a stale plan after the thaw), with this answer not yet delivered.
    const method = (init?.method ?? 'GET').toUpperCase();
    // Alternate between the lease renew (the rest of the tick runs on what it saw before the freeze) and a pool write
    // in the middle of the tick's actions (the remaining ones would run on a stale plan).
    const leaseWrite = method === 'PATCH' && world.woodpecker.agent(Number(/\/api\/agents\/(\d+)$/.exec(new URL(input instanceof Request ? input.url : String(input)).pathname)?.[1] ?? -1))?.name.startsWith(LEASE_PREFIX);
    // (a renew while workflows are pending: the plan made after the thaw has creates in it).
    const isWrite = method !== 'GET' && (sc.seed % 2 === 0 ? leaseWrite === true && world.sample().pending > 0 : leaseWrite !== true);
    if (freezeArmed && isWrite && inst.lease?.role === 'acting' && !inst.killed) {
      freezeArmed = false;
      const until = vc.now() + ttl + Math.round(30 * S + rng() * 60 * S);
      inst.clock.frozenUntil = until;
      frozen = true;
      stats.freezes++;
      log(`${inst.label} frozen mid-tick (${method} ${new URL(input instanceof Request ? input.url : String(input)).pathname}) until +${Math.round((until - start) / 1000)}s`);
    }
    // An answer that arrived during a freeze is the first thing the process sees after it (before its timeouts).
    await inst.clock.thaw(1);
    return res;
  };

  const startInstance = async (): Promise<void> => {
    const inst: Instance = {
      label: `instance #${++gen}`,
      clock: new InstanceClock(vc),
      killed: false,
      stop: new AbortController(),
      loop: undefined,
      engine: undefined,
      lastFullAt: undefined,
      lease: undefined,
    };
    // Whichever instance acts, its wall clock is half an hour off the servers' clocks (ahead or behind).
    if (sc.clockJumps) inst.clock.offset = gen % 2 === 1 ? 30 * M : -30 * M;
    instances.push(inst);
    try {
      inst.engine = await buildSandboxEngine({
        values,
        clock: inst.clock,
        fetch: makeFetch(inst),
        random: seededRandom(Math.floor(rng() * 2 ** 32)),
        logger: silentLogger(),
      });
    } catch {
      inst.killed = true;
      vc.after(10 * S, () => void startInstance());
      return;
    }
    if (inst.killed) return;
    log(`${inst.label} started (lease holder id ${inst.engine.lease.self})`);
    inst.engine.reconciler.onTick((r: TickReport) => onTick(inst, r));
    inst.loop = runAssembled(inst.engine, { clock: inst.clock, logger: silentLogger(), signal: inst.stop.signal });
  };

  const onTick = (inst: Instance, r: TickReport): void => {
    const prev = inst.lease?.role;
    inst.lease = r.lease;
    if (r.lease?.role === 'acting' && prev === 'standby') {
      stats.takeovers++;
      log(`${inst.label} takes over`);
    }
    if (r.lease?.role === 'standby' && prev !== 'standby') log(`${inst.label} stands by: ${r.lease.reason}`);
    for (const x of r.results) {
      if (/LeaseFenceError|not sent:/.test(x.detail ?? '')) stats.fencedWrites++;
      log(`${inst.label} ${r.mode}: ${x.action.kind} ${x.name} ${x.action.reason.code} → ${x.outcome}${x.detail ? ` (${x.detail})` : ''}`);
      const code = x.action.reason.code;
      if (x.outcome !== 'done' || (code !== 'stale' && code !== 'never-connected')) continue;
      // A removal as stale / never-connected of an agent that is healthy or fresh on the server's own clock.
      const a = r.observation?.agents.find((ag) => ag.name === x.name);
      if (!a) continue;
      const lastSeen = (a.last_contact || a.created) * 1000;
      if (vc.now() - lastSeen < inactivity / 2) violate(`${inst.label} removed healthy agent ${x.name} as ${code}`);
    }
    if (r.lease?.role !== 'acting') inst.lastFullAt = undefined;
    else if (r.mode === 'full') {
      const now = vc.now();
      if (inst.lastFullAt !== undefined && !frozen) stats.longestTickGapMs = Math.max(stats.longestTickGapMs, now - inst.lastFullAt);
      inst.lastFullAt = now;
    }
  };

  const live = (): Instance[] => instances.filter((i) => !i.killed && !i.stop.signal.aborted && i.engine);
  for (let i = 0; i < sc.instances; i++) void startInstance();

  // ---- adversity -------------------------------------------------------------------------------------------------
  if (sc.freeze) {
    vc.after(Math.round(5 * M + rng() * 30 * M), () => {
      freezeArmed = true;
    });
  }
  if (sc.restarts) {
    for (let k = 0; k < 3; k++) {
      vc.after(Math.round(((k + 0.5) / 3) * (chaosMs - 10 * M)), () => {
        const victims = live();
        const v = victims[Math.floor(rng() * victims.length)];
        if (!v) return;
        if (rng() < 0.5) {
          v.killed = true;
          v.stop.abort(new Error('killed'));
          stats.kills++;
          log(`${v.label} killed`);
        } else {
          v.stop.abort(new Error('SIGTERM'));
          stats.gracefulStops++;
          log(`${v.label} stopped gracefully`);
        }
        vc.after(Math.round(rng() * 20 * S), () => void startInstance());
      });
    }
  }
  if (sc.clockJumps) {
    for (let k = 0; k < 4; k++) {
      vc.after(Math.round(((k + 0.3 + rng() * 0.4) / 4) * chaosMs), () => {
        for (const i of live()) {
          const step = (k % 2 === 0 ? -1 : 1) * 60 * M;
          i.clock.offset += step;
          stats.clockSteps++;
          log(`${i.label} wall clock stepped ${step > 0 ? 'forward' : 'back'} 1 h`);
        }
      });
    }
  }

  await vc.runUntil(start + chaosMs);
  // ---- quiet period: no more adversity; the workload drains ------------------------------------------------------
  const quietMs = 30 * M;
  await vc.runUntil(vc.now() + quietMs);

  const alive = live();
  stats.actingAtEnd = alive.filter((i) => i.lease?.role === 'acting').length;
  const standing = alive.filter((i) => i.lease?.role === 'standby').length;
  stats.leaseRecordsAtEnd = world.woodpecker.state().agents.filter((a) => a.name.startsWith(LEASE_PREFIX)).length;
  if (stats.actingAtEnd !== 1 || standing !== alive.length - 1) {
    violate(`after the quiet period ${stats.actingAtEnd} of ${alive.length} live instance(s) act (exactly one must)`);
  }
  if (stats.leaseRecordsAtEnd !== 1) violate(`${stats.leaseRecordsAtEnd} lease records after the quiet period (one expected)`);
  stats.completed = world.woodpecker.state().completed.filter((w) => w.status === 'success').length;
  if (stats.completed !== stats.queued) violate(`${stats.completed} of ${stats.queued} workflows completed after the quiet period`);
  const interval = 30 * S;
  if (sc.clockJumps && stats.longestTickGapMs > 2 * interval + 5 * S) {
    violate(`the acting instance went ${Math.round(stats.longestTickGapMs / 1000)}s without a full reconcile (interval 30s)`);
  }

  for (const i of alive) i.stop.abort(new Error('done'));
  let finished = false;
  void Promise.all(alive.map((i) => i.loop)).finally(() => {
    finished = true;
  });
  await vc.runWhile(() => finished, vc.now() + 10 * M);
  await world.close();
  return { violations, stats };
}
