import { runAssembled } from '../../src/assemble.js';
import type { Logger } from 'pino';
import type { OptionValues } from '../../src/config/types.js';
import { deriveInstallationId } from '../../src/engine/identity.js';
import { leasePattern } from '../../src/engine/lease.js';
import { memoryLedgerStore } from '../../src/engine/ledger-store.js';
import { isOurAgentName } from '../../src/engine/pool.js';
import type { Policy } from '../../src/engine/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { isOwnedFloatingIp, isOwnedServer } from '../../src/providers/timeweb/ownership.js';
import { buildSandboxEngine, sandboxValues } from '../../src/sandbox/engine.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import type { TimerHandle } from '../../src/sandbox/virtual-clock.js';
import { SANDBOX_WOODPECKER_URL, createWorld } from '../../src/sandbox/world.js';
import type { World, WorldOptions } from '../../src/sandbox/world.js';
import type { Workload, WorkloadItem } from '../../src/sandbox/workloads.js';
import { seededRandom } from '../../src/util/clock.js';
import type { FetchFn } from '../../src/util/clock.js';
import { billedPerDay } from './spend.js';

/**
 * The chaos harness: the unmodified engine (assembled like the daemon) against the simulated world in virtual
 * time, with faults injected at random between the engine and the fakes, and the autoscaler process killed and
 * restarted mid-create and mid-delete. Safety invariants are checked on every request, on every world event and
 * after every virtual-clock step; the end state is checked after a quiescent phase (faults off, workload done, time
 * for idle teardown and sweeps).
 *
 * Faults (all seeded, so a failing seed replays exactly):
 * - API errors (5xx) before the request is processed, on both APIs (answered by the fakes' fault hooks);
 * - 429 bursts: for a few seconds every request to one API answers 429;
 * - hangs: the request is lost, or processed but its answer is lost, until the client's timeout (virtual time);
 * - ambiguous writes: processed server-side, answered 5xx (creates included: "ambiguous creates");
 * - VMs that never finish installing; agents killed mid-workflow (or idle);
 * - process restarts: the running process is abandoned at a chosen request (before or after the fake processed it)
 *   and a fresh one is assembled against the same world, with no memory of the old one.
 */

const S = 1000;
const M = 60 * S;
const H = 60 * M;

export const POOL_ID = '1';
/** The installation the chaos engine is (derived, like the daemon, from the sandbox's Woodpecker URL + pool id). */
export const OWNER = { poolId: POOL_ID, installationId: deriveInstallationId(SANDBOX_WOODPECKER_URL, POOL_ID) };
const FAULT_HEADER = 'x-chaos-fault';

export type RestartPoint =
  /** at the server create: before it reaches Timeweb, or after Timeweb created it (answer lost) */
  | 'create-server-before'
  | 'create-server-after'
  /** after the agent was registered on Woodpecker, before its server is created */
  | 'create-agent-after'
  /** at the server delete: before it reaches Timeweb, or after Timeweb deleted it */
  | 'delete-server-before'
  | 'delete-server-after'
  /** after the agent was deleted (before its server is removed) */
  | 'delete-agent-after'
  /** at whatever request comes next (the point was not reached in time) */
  | 'any-request';

export interface ChaosScenario {
  seed: number;
  policy: Policy;
  values: OptionValues;
  minAgents: number;
  maxAgents: number;
  workload: Workload;
  /** Length of the chaos phase (faults on), virtual ms. */
  chaosMs: number;
  /** Longest quiescent phase before the end state is judged, virtual ms. */
  quiesceLimitMs: number;
  faults: {
    /** Share of requests answered 5xx before being processed. */
    apiErrorRate: number;
    /** Chance per request that a 429 burst (2–10 s) starts on its API. */
    burst429Rate: number;
    /** Chance per request that an outage (every request answered 503, or lost, for 20–120 s) starts on its API. */
    outageRate: number;
    /** Share of requests that hang (lost, or processed with the answer lost). */
    hangRate: number;
    /** Share of writes processed but answered 5xx. */
    ambiguousWriteRate: number;
    /** Share of server creates processed but answered 5xx (on top of the other faults). */
    ambiguousCreateRate: number;
    /** Share of VMs that never finish installing. */
    neverBootRate: number;
    /** Mean virtual time between agent kills. */
    agentKillEveryMs: number;
    /** Process restarts, each at one of these points (in order). */
    restarts: RestartPoint[];
  };
  /**
   * A daily budget cap (in `values.budgetDaily` too): the process keeps its ledger in a store that survives its
   * restarts (like `--state-file`), and the world's billed spend per day must never pass the cap.
   */
  budget?: { daily: number };
}

export interface ChaosStats {
  requests: number;
  injected: Record<string, number>;
  restarts: Record<string, number>;
  startupFailures: number;
  agentsKilled: number;
  neverBooted: number;
  serversCreated: number;
  /** Woodpecker DELETE of an agent with running tasks (refused with 409 by the fake). */
  deleteAgentRefused: number;
  /** Instants (server creations) at which owned servers exceeded max-agents, and the worst overshoot. */
  overMaxAgents: { instants: number; worst: number };
  /** Most owned servers seen at once. */
  peakOwned: number;
  workflows: { queued: number; completed: number };
  quiescedAfterMs: number;
  simulatedMs: number;
  /** Budget runs: the world's billed spend of the busiest day, and the cap. */
  spend?: { worstDay: number; cap: number };
}

export interface ChaosOutcome {
  scenario: ChaosScenario;
  violations: string[];
  stats: ChaosStats;
}

/** Monthly price of the public IPv4 each server is billed with in the chaos world (the fake's floating IP price). */
const IPV4_PER_MONTH = 150;
/** Hours a monthly price is spread over (the fake's finances use the same). */
const HOURS_PER_MONTH = 730;

/** A seeded scenario: pool limits, billing, timeouts, a short workload and the fault mix; optionally a daily budget. */
export function chaosScenario(seed: number, policy: Policy, opts: { dailyBudget?: number } = {}): ChaosScenario {
  const r = seededRandom((seed * 2654435761) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const minAgents = pick([0, 0, 1]);
  const maxAgents = pick([2, 3, 4]);
  const workflowsPerAgent = pick([1, 2, 2, 3]);
  const billing = pick(['hourly', 'per-second'] as const);
  const values: OptionValues = {
    policy,
    minAgents,
    maxAgents,
    workflowsPerAgent,
    timewebcloudBilling: billing,
    agentIdleTimeout: pick([2 * M, 5 * M]),
    agentInactivityTimeout: pick([5 * M, 10 * M]),
    ...(opts.dailyBudget !== undefined ? { budgetDaily: opts.dailyBudget } : {}),
  };
  const chaosMs = 75 * M;
  const items: WorkloadItem[] = [];
  const n = 10 + Math.floor(r() * 20);
  const bursts = [r() * 10 * M, 25 * M + r() * 15 * M, 50 * M + r() * 15 * M];
  for (let i = 0; i < n; i++) {
    // Half of them in three bursts, the rest spread over the phase; some long ones keep agents busy.
    const arrival = i % 2 === 0 ? Math.round(r() * 70 * M) : Math.round((bursts[i % 3] ?? 0) + r() * 40 * S);
    const long = r() < 0.2;
    items.push({ arrival, duration: Math.round(M + r() * (long ? 25 : 8) * M) });
  }
  items.sort((a, b) => a.arrival - b.arrival);
  const restartPoints: RestartPoint[] = [
    'create-server-before',
    'create-server-after',
    'create-agent-after',
    'delete-server-before',
    'delete-server-after',
    'delete-agent-after',
  ];
  // Every run restarts mid-create and mid-delete at least once; the kind of each rotates with the seed.
  const restarts: RestartPoint[] = [
    restartPoints[seed % 3] as RestartPoint,
    restartPoints[3 + (Math.floor(seed / 3) % 3)] as RestartPoint,
  ];
  if (r() < 0.5) restarts.push(pick(restartPoints));
  return {
    seed,
    policy,
    values,
    minAgents,
    maxAgents,
    workload: { name: `chaos-${seed}`, items, span: chaosMs },
    chaosMs,
    quiesceLimitMs: 4 * H,
    faults: {
      apiErrorRate: 0.1,
      burst429Rate: 0.01,
      outageRate: 0.002,
      hangRate: 0.02,
      ambiguousWriteRate: 0.1,
      ambiguousCreateRate: 0.2,
      neverBootRate: 0.15,
      agentKillEveryMs: 8 * M,
      restarts,
    },
    ...(opts.dailyBudget !== undefined ? { budget: { daily: opts.dailyBudget } } : {}),
  };
}

type Api = 'woodpecker' | 'timeweb';

interface RequestInfo {
  api: Api;
  method: string;
  path: string;
  /** e.g. `DELETE /api/v1/servers/:id` */
  route: string;
  /** numeric or string id in the path, if any */
  id: string | undefined;
  write: boolean;
  body: unknown;
}

function classify(world: World, input: Request | string | URL, init: RequestInit | undefined): RequestInfo {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const api: Api = url.host === new URL(world.urls.woodpecker).host ? 'woodpecker' : 'timeweb';
  const path = url.pathname;
  const m = /^(\/api\/(?:v1\/)?(?:agents|servers|floating-ips))\/([^/]+)(\/.*)?$/.exec(path);
  const route = m ? `${method} ${m[1] ?? ''}/:id${m[3] ?? ''}` : `${method} ${path}`;
  let body: unknown;
  if (typeof init?.body === 'string') {
    try {
      body = JSON.parse(init.body);
    } catch {
      body = undefined;
    }
  }
  return { api, method, path, route, id: m?.[2], write: method !== 'GET', body };
}

function faultResponse(api: Api, status: number): Response {
  if (api === 'woodpecker') {
    const text = status === 429 ? 'Too Many Requests' : 'Bad Gateway';
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (status === 429) headers['retry-after'] = '1';
    return new Response(text, { status, headers });
  }
  const body = {
    status_code: status,
    error_code: status === 429 ? 'too_many_requests' : 'internal_server_error',
    message: status === 429 ? 'Too Many Requests' : 'Internal Server Error',
    response_id: 'chaos',
  };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** Rejects when the client gives up (its timeout aborts the request); never resolves. Not tracked by the clock. */
function hangUntilAbort(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise<Response>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) {
      reject(new TypeError('fetch failed: aborted'));
      return;
    }
    signal.addEventListener('abort', () => reject(new TypeError('fetch failed: aborted')), { once: true });
  });
}

const never = (): Promise<Response> => new Promise<Response>(() => undefined);

interface Proc {
  gen: number;
  killed: boolean;
  stop: AbortController;
  loop: Promise<void> | undefined;
  fetch: FetchFn;
}

export interface RunOptions {
  logger?: Logger;
  /** Receives a line per notable event (world events, restarts, faults on writes, actions), for debugging a seed. */
  trace?: (line: string) => void;
  /**
   * Test-only: at `at` ms into the chaos phase, `act` performs forbidden operations through the same network path
   * as the engine (no faults injected on it), to prove the checks catch them.
   */
  sabotage?: { at: number; act: (ctx: SabotageContext) => Promise<void> };
}

export interface SabotageContext {
  world: World;
  /** Goes through the checks like the engine's requests. */
  fetch: FetchFn;
  /** Authorization headers for the two APIs. */
  auth: { woodpecker: Record<string, string>; timeweb: Record<string, string> };
  /** Sleeps in virtual time. */
  sleep: (ms: number) => Promise<void>;
}

export async function runChaos(sc: ChaosScenario, opts: RunOptions = {}): Promise<ChaosOutcome> {
  const logger = opts.logger ?? silentLogger();
  const clock = new VirtualClock();
  const start = clock.now();
  const trace = (msg: string): void => opts.trace?.(`[+${Math.round((clock.now() - start) / 1000)}s] ${msg}`);
  const rng = seededRandom((sc.seed ^ 0x9e3779b9) >>> 0);
  const violations: string[] = [];
  const violate = (msg: string): void => {
    const line = `[+${Math.round((clock.now() - start) / 1000)}s] ${msg}`;
    if (violations.length < 50 && !violations.includes(line)) violations.push(line);
  };
  const stats: ChaosStats = {
    requests: 0,
    injected: {},
    restarts: {},
    startupFailures: 0,
    agentsKilled: 0,
    neverBooted: 0,
    serversCreated: 0,
    deleteAgentRefused: 0,
    overMaxAgents: { instants: 0, worst: 0 },
    peakOwned: 0,
    workflows: { queued: sc.workload.items.length, completed: 0 },
    quiescedAfterMs: -1,
    simulatedMs: 0,
  };
  const count = (map: Record<string, number>, key: string): void => {
    map[key] = (map[key] ?? 0) + 1;
  };

  let faultsOn = true;
  const worldOpts: WorldOptions = {
    scheduler: clock,
    random: seededRandom((sc.seed * 31 + 7) >>> 0),
    grpcAddr: 'woodpecker-server:9000',
    poolId: POOL_ID,
    track: (p) => clock.track(p),
    get neverBootRate(): number {
      return faultsOn ? sc.faults.neverBootRate : 0;
    },
    timeweb: { floatingIpPrice: IPV4_PER_MONTH },
  };
  const world = createWorld(worldOpts);

  // ---- what must never be touched --------------------------------------------------------------------------------
  const foreignServerIds = new Set(world.timeweb.servers().map((s) => String(s.id)));
  const foreignIpIds = new Set(world.timeweb.floatingIps().map((ip) => ip.id));
  const staticAgent = world.woodpecker.seedAgent({ name: 'static-builder' });
  const otherPoolAgent = world.woodpecker.seedAgent({ name: 'pool-2-agent-XyZw' });
  const foreignAgentIds = new Set([staticAgent, otherPoolAgent].map((a) => String(a.id)));
  /** This installation's agents: the engine's own membership test (names carrying our tag). */
  const pattern = { test: (name: string): boolean => isOurAgentName(name, OWNER) };
  const foreignAgentsBefore = JSON.stringify(
    world.woodpecker.state().agents.filter((a) => foreignAgentIds.has(String(a.id))).map((a) => [a.id, a.name, a.no_schedule]),
  );

  const ownedServers = (): { id: number; name: string }[] =>
    world.timeweb.servers().filter((s) => isOwnedServer(s, OWNER));

  let overMax = false;
  const checkMaxAgents = (where: string): void => {
    const n = ownedServers().length;
    const over = n > sc.maxAgents;
    // One violation per episode (until the count is back within max-agents).
    if (over && !overMax) {
      violate(`${n} owned servers > max-agents ${sc.maxAgents} (${where}): ${ownedServers().map((x) => x.name).join(', ')}`);
    }
    overMax = over;
  };

  // ---- the budget: the world's billed spend per day, from its own server records ----------------------------------
  const billing = sc.values.timewebcloudBilling === 'per-second' ? 'per-second' : 'hourly';
  const presetPrice = new Map(world.timeweb.catalog().presets.map((p) => [p.id, p.price]));
  /** Per owned server name: its price per hour (preset and public IPv4), from the price list when it was created. */
  const perHour = new Map<string, number>();
  const overDays = new Set<string>();
  const checkBudget = (where: string): void => {
    const cap = sc.budget?.daily;
    if (cap === undefined) return;
    const billed = world
      .vms()
      .filter((v) => perHour.has(v.name))
      .map((v) => ({ name: v.name, createdAt: v.createdAt, deletedAt: v.deletedAt, perHour: perHour.get(v.name) ?? 0 }));
    for (const [day, spent] of billedPerDay(billed, clock.now(), billing)) {
      stats.spend = { cap, worstDay: Math.max(stats.spend?.worstDay ?? 0, spent) };
      if (spent > cap + 1e-9 && !overDays.has(day)) {
        overDays.add(day);
        violate(`billed spend on ${day} ${spent.toFixed(2)} > daily budget ${cap.toFixed(2)} (${where})`);
      }
    }
  };

  world.onEvent((e) => {
    if (e.kind !== 'workflow-queued') trace(e.message);
    if (e.kind === 'server-created') {
      const server = world.timeweb.serverByName(e.subject)[0];
      if (server && isOwnedServer(server, OWNER)) {
        const monthly = (presetPrice.get(server.preset_id ?? -1) ?? Infinity) + IPV4_PER_MONTH;
        perHour.set(server.name, monthly / HOURS_PER_MONTH);
      }
    }
    checkBudget(`at ${e.kind} ${e.subject}`);
    if (e.kind === 'server-created') {
      stats.serversCreated++;
      if (/never finish/.test(e.message)) stats.neverBooted++;
      const n = ownedServers().length;
      stats.peakOwned = Math.max(stats.peakOwned, n);
      if (n > sc.maxAgents) {
        stats.overMaxAgents.instants++;
        stats.overMaxAgents.worst = Math.max(stats.overMaxAgents.worst, n - sc.maxAgents);
      }
      checkMaxAgents(`after creating ${e.subject}`);
    }
  });

  /** Safety checks on a request, before the fake sees it. */
  const checkRequest = (info: RequestInfo, gen: number): void => {
    const who = `process #${gen} ${info.method} ${info.path}`;
    if (info.api === 'timeweb') {
      if (info.route === 'POST /api/v1/servers') {
        const name = typeof info.body === 'object' && info.body !== null ? (info.body as { name?: unknown }).name : undefined;
        if (typeof name === 'string' && world.timeweb.serverByName(name).length > 0) {
          violate(`${who}: creates server ${name} although one with that name exists (blind create retry)`);
        }
        return;
      }
      if (info.write && info.route.includes('/api/v1/servers/:id')) {
        const id = info.id ?? '';
        if (foreignServerIds.has(id)) violate(`${who}: touches foreign server ${id}`);
        const server = /^\d+$/.test(id) ? world.timeweb.server(Number(id)) : undefined;
        if (server && !isOwnedServer(server, OWNER)) violate(`${who}: touches server ${server.name} without our marker`);
        if (server && info.method === 'DELETE') {
          const agent = world.woodpecker.state().agents.find((a) => a.name === server.name);
          if (agent && agent.runningTaskIds.length > 0) {
            violate(`${who}: deletes the VM of agent ${agent.name} while it runs ${agent.runningTaskIds.length} task(s)`);
          }
          // The agent record goes first (Woodpecker refuses that while it runs tasks), the server after it: a server
          // whose agent is still registered could get a workflow at any moment (another instance may reactivate it).
          if (agent) violate(`${who}: deletes the VM of agent ${agent.name} while the agent is still registered`);
        }
      }
      if (info.write && info.route.includes('/api/v1/floating-ips/:id')) {
        const id = info.id ?? '';
        if (foreignIpIds.has(id)) violate(`${who}: touches foreign floating IP ${id}`);
        const ip = world.timeweb.floatingIps().find((x) => x.id === id);
        if (ip) {
          if (ip.comment !== null && ip.comment.trim() !== '' && !isOwnedFloatingIp(ip, OWNER)) {
            violate(`${who}: touches floating IP ${ip.ip ?? id} with a foreign comment`);
          }
          const attached = ip.resource_id !== null ? world.timeweb.server(ip.resource_id) : undefined;
          if (attached && !isOwnedServer(attached, OWNER)) {
            violate(`${who}: touches floating IP ${ip.ip ?? id} of foreign server ${attached.name}`);
          }
        }
      }
      return;
    }
    if (info.write && info.route.includes('/api/agents/:id')) {
      const id = info.id ?? '';
      if (foreignAgentIds.has(id)) violate(`${who}: touches foreign agent ${id}`);
      const agent = /^\d+$/.test(id) ? world.woodpecker.agent(Number(id)) : undefined;
      // The installation's lease record (never connected, never scheduled) is the other agent it may write.
      const lease = agent && leasePattern(OWNER.installationId).test(agent.name) && agent.last_contact === 0 && agent.no_schedule;
      if (agent && !isOurAgentName(agent.name, OWNER) && !lease) violate(`${who}: touches agent ${agent.name}, which is not provably ours`);
    }
  };

  /** After a response: a DELETE of an agent with running tasks must never succeed. */
  const checkResponse = (info: RequestInfo, res: Response, busyBefore: number): void => {
    if (info.api !== 'woodpecker' || info.method !== 'DELETE' || !info.route.includes('/api/agents/:id')) return;
    if (busyBefore > 0 && res.status >= 200 && res.status < 300) {
      violate(`DELETE agent ${info.id ?? ''} with ${busyBefore} running task(s) succeeded`);
    }
    if (res.status === 409) stats.deleteAgentRefused++;
  };

  // The fakes answer injected server-side faults (marked with a header by the network layer).
  const fromHeader = (headers: Headers): number | undefined => {
    const v = headers.get(FAULT_HEADER);
    return v ? Number(v) : undefined;
  };
  world.woodpecker.injectFault((req) => {
    const status = fromHeader(req.headers);
    return status === undefined ? undefined : faultResponse('woodpecker', status);
  });
  world.timeweb.injectFault((req) => {
    const status = fromHeader(req.headers);
    return status === undefined ? undefined : faultResponse('timeweb', status);
  });

  // ---- processes -------------------------------------------------------------------------------------------------
  const restartQueue = [...sc.faults.restarts];
  let armed: { point: RestartPoint; since: number } | undefined;
  let current: Proc | undefined;
  let gen = 0;
  const burst: Record<Api, { until: number; kind: '429' | '503' | 'lost' }> = {
    woodpecker: { until: 0, kind: '429' },
    timeweb: { until: 0, kind: '429' },
  };
  const timers: TimerHandle[] = [];
  const values = sandboxValues(world, sc.values);
  // Budget runs: the ledger survives the process restarts, like a state file survives a kill.
  const ledgerStore = sc.budget ? memoryLedgerStore() : undefined;

  const matchesPoint = (point: RestartPoint, info: RequestInfo): 'before' | 'after' | undefined => {
    switch (point) {
      case 'create-server-before':
        return info.api === 'timeweb' && info.route === 'POST /api/v1/servers' ? 'before' : undefined;
      case 'create-server-after':
        return info.api === 'timeweb' && info.route === 'POST /api/v1/servers' ? 'after' : undefined;
      case 'create-agent-after':
        return info.api === 'woodpecker' && info.route === 'POST /api/agents' ? 'after' : undefined;
      case 'delete-server-before':
        return info.api === 'timeweb' && info.route === 'DELETE /api/v1/servers/:id' ? 'before' : undefined;
      case 'delete-server-after':
        return info.api === 'timeweb' && info.route === 'DELETE /api/v1/servers/:id' ? 'after' : undefined;
      case 'delete-agent-after':
        return info.api === 'woodpecker' && info.route === 'DELETE /api/agents/:id' ? 'after' : undefined;
      case 'any-request':
        return 'before';
    }
  };

  const kill = (proc: Proc, point: RestartPoint): void => {
    if (proc.killed) return;
    proc.killed = true;
    proc.stop.abort(new Error('killed'));
    count(stats.restarts, point);
    trace(`process #${proc.gen} killed at ${point}`);
    if (current === proc) current = undefined;
    // systemd restarts it after a short while; the new process remembers nothing.
    clock.after(Math.round(rng() * 20 * S), () => void startProcess());
  };

  const makeFetch = (proc: Proc, chaos = true): FetchFn => {
    return (input, init) => {
      // A killed process may still run a few lines of JS, but nothing it sends reaches the world any more.
      if (proc.killed) return Promise.reject(new TypeError('fetch failed: the process is gone'));
      stats.requests++;
      const info = classify(world, input, init);
      const inject = (what: string): void => {
        count(stats.injected, what);
        if (info.write || what.includes('outage')) trace(`process #${proc.gen} ${info.method} ${info.path}: ${what}`);
      };
      checkRequest(info, proc.gen);
      const busyBefore =
        info.api === 'woodpecker' && info.method === 'DELETE' && info.id && /^\d+$/.test(info.id)
          ? (world.woodpecker.agent(Number(info.id))?.runningTaskIds.length ?? 0)
          : 0;
      const forward = (extraHeader?: number): Promise<Response> => {
        let init2 = init;
        if (extraHeader !== undefined) {
          const headers = new Headers(init?.headers);
          headers.set(FAULT_HEADER, String(extraHeader));
          init2 = { ...init, headers };
        }
        return world.fetch(input, init2).then((res) => {
          checkResponse(info, res, busyBefore);
          return res;
        });
      };

      // Restart points.
      if (armed && faultsOn && chaos) {
        const when =
          matchesPoint(armed.point, info) ?? (clock.now() - armed.since > 10 * M ? matchesPoint('any-request', info) : undefined);
        if (when) {
          const point = matchesPoint(armed.point, info) ? armed.point : 'any-request';
          armed = undefined;
          if (when === 'before') {
            kill(proc, point);
            return never();
          }
          return forward().then(() => {
            kill(proc, point);
            return never();
          });
        }
      }
      if (!faultsOn || !chaos) return forward();

      const now = clock.now();
      if (now >= burst[info.api].until) {
        if (rng() < sc.faults.burst429Rate) burst[info.api] = { until: now + 2 * S + Math.round(rng() * 8 * S), kind: '429' };
        else if (rng() < sc.faults.outageRate) {
          burst[info.api] = { until: now + 20 * S + Math.round(rng() * 100 * S), kind: rng() < 0.5 ? '503' : 'lost' };
          inject(`${info.api} outage`);
        }
      }
      const b = burst[info.api];
      if (now < b.until) {
        inject(`${info.api} ${b.kind === 'lost' ? 'outage request lost' : b.kind}`);
        if (b.kind === 'lost') return hangUntilAbort(init?.signal);
        return forward(b.kind === '429' ? 429 : 503);
      }
      const roll = rng();
      if (roll < sc.faults.apiErrorRate) {
        inject(`${info.api} 5xx`);
        return forward(rng() < 0.5 ? 500 : 503);
      }
      if (roll < sc.faults.apiErrorRate + sc.faults.hangRate) {
        if (info.write && rng() < 0.5) {
          inject(`${info.api} answer lost`);
          return forward().then(() => hangUntilAbort(init?.signal));
        }
        inject(`${info.api} request lost`);
        return hangUntilAbort(init?.signal);
      }
      const ambiguousRate = info.route === 'POST /api/v1/servers' ? sc.faults.ambiguousCreateRate : sc.faults.ambiguousWriteRate;
      if (info.write && rng() < ambiguousRate) {
        inject(`${info.api} ${info.route} ambiguous`);
        return forward().then(() => faultResponse(info.api, 502));
      }
      return forward();
    };
  };

  const startProcess = async (): Promise<void> => {
    const proc: Proc = { gen: ++gen, killed: false, stop: new AbortController(), loop: undefined, fetch: () => never() };
    proc.fetch = makeFetch(proc);
    current = proc;
    try {
      const sim = await buildSandboxEngine({
        values,
        clock,
        fetch: proc.fetch,
        random: seededRandom(Math.floor(rng() * 2 ** 32)),
        logger,
        ...(ledgerStore ? { ledgerStore } : {}),
      });
      if (proc.killed) return;
      trace(`process #${proc.gen} started`);
      sim.reconciler.onTick((r) => {
        for (const x of r.results) {
          trace(`process #${proc.gen} ${r.mode} tick: ${x.action.kind} ${x.name} ${x.action.reason.code} → ${x.outcome}${x.detail ? ` (${x.detail})` : ''}`);
        }
      });
      proc.loop = runAssembled(sim, { clock, logger, signal: proc.stop.signal });
    } catch {
      if (proc.killed) return;
      // Start-up failed (faults during the look-ups): the service manager starts it again.
      stats.startupFailures++;
      proc.killed = true;
      if (current === proc) current = undefined;
      clock.after(10 * S, () => void startProcess());
    }
  };

  // ---- chaos phase -----------------------------------------------------------------------------------------------
  world.feed(sc.workload, start);
  void startProcess();

  // Restarts: armed at random moments; each fires at its point (or at any request after 10 minutes).
  restartQueue.forEach((_, i) => {
    const at = Math.round(((i + 0.2 + rng() * 0.6) / restartQueue.length) * (sc.chaosMs - 5 * M));
    timers.push(
      clock.after(at, () => {
        const point = restartQueue[i];
        if (point && faultsOn) armed = { point, since: clock.now() };
      }),
    );
  });

  // Agent kills: a Poisson stream; a busy agent is preferred (mid-workflow), else any live pool agent.
  const scheduleKill = (): void => {
    const wait = Math.round(-Math.log(1 - rng()) * sc.faults.agentKillEveryMs);
    timers.push(
      clock.after(wait, () => {
        if (!faultsOn) return;
        const live = world.woodpecker
          .state()
          .agents.filter((a) => pattern.test(a.name) && a.connection === 'online');
        const busy = live.filter((a) => a.runningTaskIds.length > 0);
        const from = busy.length > 0 && rng() < 0.8 ? busy : live;
        const victim = from[Math.floor(rng() * from.length)];
        if (victim) {
          trace(`agent ${victim.name} killed (${victim.runningTaskIds.length} running)`);
          world.woodpecker.killAgent(victim.id);
          stats.agentsKilled++;
        }
        scheduleKill();
      }),
    );
  };
  scheduleKill();

  const sabotage = opts.sabotage;
  if (sabotage) {
    const saboteur: Proc = { gen: 0, killed: false, stop: new AbortController(), loop: undefined, fetch: () => never() };
    saboteur.fetch = makeFetch(saboteur, false);
    timers.push(
      clock.after(sabotage.at, () => {
        // Not tracked as a whole: an act that waits (ctx.sleep) needs time to move on; its requests are tracked
        // by the world's fetch like every other request.
        void (
          sabotage
            .act({
              world,
              fetch: saboteur.fetch,
              sleep: (ms) => clock.sleep(ms),
              auth: {
                woodpecker: { Authorization: `Bearer ${world.woodpeckerToken}`, 'Content-Type': 'application/json' },
                timeweb: { Authorization: `Bearer ${world.timewebToken}`, 'Content-Type': 'application/json' },
              },
            })
            .catch((e: unknown) => violate(`sabotage failed to run: ${e instanceof Error ? e.message : String(e)}`))
        );
      }),
    );
  }

  const stepCheck = (): void => {
    checkMaxAgents('after a clock step');
    checkBudget('after a clock step');
  };

  await clock.runWhile(() => {
    stepCheck();
    return false;
  }, start + sc.chaosMs);

  // ---- quiescence ------------------------------------------------------------------------------------------------
  faultsOn = false;
  armed = undefined;
  for (const t of timers) t.cancel();
  const quietStart = clock.now();
  let nextJudge = quietStart;
  let lastProblems: string[] = [];
  const quiescent = (): boolean => {
    if (clock.now() < nextJudge) return false;
    nextJudge = clock.now() + M;
    lastProblems = endStateProblems();
    return lastProblems.length === 0;
  };

  function endStateProblems(): string[] {
    const problems: string[] = [];
    const audit = world.audit(pattern);
    const sample = world.sample();
    const st = world.woodpecker.state();
    if (audit.servers > sc.minAgents) problems.push(`${audit.servers} servers left (min-agents ${sc.minAgents})`);
    if (audit.serversWithoutAgent.length > 0) problems.push(`servers without agent: ${audit.serversWithoutAgent.join(', ')}`);
    if (audit.agentsWithoutServer.length > 0) problems.push(`agents without server: ${audit.agentsWithoutServer.join(', ')}`);
    if (audit.unattachedFloatingIps.length > 0) problems.push(`leaked floating IPs: ${audit.unattachedFloatingIps.join(', ')}`);
    if (sample.agents.lost > 0 || sample.agents.booting > 0) {
      problems.push(`${sample.agents.lost} lost and ${sample.agents.booting} booting servers`);
    }
    const deadPool = st.agents.filter((a) => pattern.test(a.name) && a.connection !== 'online');
    if (deadPool.length > 0) problems.push(`pool agents not online: ${deadPool.map((a) => `${a.name} (${a.connection})`).join(', ')}`);
    const done = st.completed.filter((w) => w.status === 'success').length;
    // A budget that binds leaves work queued for the next day: it must only not be running on a server left behind.
    const waitingForBudget = sc.budget !== undefined && st.running.length === 0;
    if (!waitingForBudget && (done !== sc.workload.items.length || audit.workflows.unfinished > 0)) {
      problems.push(`${done} of ${sc.workload.items.length} workflows completed, ${audit.workflows.unfinished} unfinished`);
    }
    return problems;
  }

  const quiesced = await clock.runWhile(() => {
    stepCheck();
    return quiescent();
  }, quietStart + sc.quiesceLimitMs);
  stats.quiescedAfterMs = quiesced ? clock.now() - quietStart : -1;
  if (!quiesced) {
    for (const p of endStateProblems()) violate(`after quiescence: ${p}`);
  }

  // Never touched, at the end too (a change could also come from a path the request checks do not know).
  const audit = world.audit(pattern);
  for (const f of audit.foreignTouched) violate(`foreign resource touched: ${f}`);
  const foreignAgentsAfter = JSON.stringify(
    world.woodpecker.state().agents.filter((a) => foreignAgentIds.has(String(a.id))).map((a) => [a.id, a.name, a.no_schedule]),
  );
  if (foreignAgentsAfter !== foreignAgentsBefore) violate('a foreign Woodpecker agent was deleted or changed');
  stats.workflows.completed = world.woodpecker.state().completed.filter((w) => w.status === 'success').length;

  // ---- shut down -------------------------------------------------------------------------------------------------
  const last = current;
  if (last) {
    last.stop.abort(new Error('done'));
    if (last.loop) {
      let finished = false;
      void last.loop.finally(() => {
        finished = true;
      });
      await clock.runWhile(() => finished, clock.now() + 30 * M);
    }
  }
  checkBudget('at the end');
  stats.simulatedMs = clock.now() - start;
  await world.close();
  return { scenario: sc, violations, stats };
}

/** One line describing a scenario (printed with a failure). */
export function describeScenario(sc: ChaosScenario): string {
  const v = sc.values;
  return (
    `seed ${sc.seed} policy ${sc.policy}: min ${sc.minAgents} max ${sc.maxAgents} wpa ${String(v.workflowsPerAgent)} ` +
    `billing ${String(v.timewebcloudBilling)} idle ${Number(v.agentIdleTimeout) / M}m inactivity ` +
    `${Number(v.agentInactivityTimeout) / M}m; ${sc.workload.items.length} workflows; restarts ${sc.faults.restarts.join(', ')}` +
    (sc.budget ? `; daily budget ${sc.budget.daily}` : '')
  );
}

/**
 * Seeds to run: `CHAOS_SEED=17` runs one, `CHAOS_SEEDS=40` runs 1..40; else `1..n`, or `1..long` in the long sweep
 * (`npm run chaos` sets CHAOS_SWEEP=long). The count, never the clock, bounds a run.
 */
export function chaosSeeds(n: number, long = n): number[] {
  const one = process.env.CHAOS_SEED;
  if (one !== undefined && /^\d+$/.test(one)) return [Number(one)];
  const many = process.env.CHAOS_SEEDS;
  const dflt = process.env.CHAOS_SWEEP === 'long' ? long : n;
  const k = many !== undefined && /^\d+$/.test(many) ? Number(many) : dflt;
  return Array.from({ length: k }, (_, i) => i + 1);
}
