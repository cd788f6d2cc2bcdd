import { Hono } from 'hono';
import type { Context } from 'hono';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import type { QueueStats, WoodpeckerAgent } from '../woodpecker/types.js';

/**
 * A stateful fake of the Woodpecker server v3.17: the admin REST API the autoscaler uses, plus the part of the
 * queue and the agents' gRPC life (connect, poll, health reports, work) that decides what that API answers.
 *
 * It copies the real server's quirks on purpose (reference §1): JSON `null` for empty lists, 50 agents per page,
 * 200 text/html for every unknown route, text/plain errors, an ignored body without `Content-Type: application/json`,
 * PATCH overwriting both `name` and `no_schedule`, 409 when deleting an agent with running tasks, and `last_work`
 * written on a workflow's start, log lines, lease extensions and end only when the stored value is more than a
 * minute old (so a workflow shorter than a minute leaves it at its start).
 *
 * Time comes only from the injected clock, so it runs in virtual time. The state is always brought up to
 * `clock.now()` before any request or control call (`tick()`): tasks finish at exactly `startedAt + durationMs`,
 * freed slots take the next pending task at that instant, health reports land every `healthIntervalMs`.
 */

export const FAKE_WOODPECKER_VERSION = '3.17.0';

/** Route templates, as counted by `requestCounts()` and matched by `failNext()`. */
export type FakeWoodpeckerRoute =
  | 'GET /api/agents'
  | 'POST /api/agents'
  | 'GET /api/agents/:id'
  | 'PATCH /api/agents/:id'
  | 'DELETE /api/agents/:id'
  | 'GET /api/agents/:id/tasks'
  | 'GET /api/queue/info'
  | 'POST /api/queue/pause'
  | 'POST /api/queue/resume'
  | 'GET /version'
  | 'GET /healthz'
  | 'GET /api/stream/events'
  /** Anything else: the web UI's index page (200 text/html). */
  | 'fallback';

export interface FakeWoodpeckerOptions {
  clock: Clock;
  random: RandomFn;
  /** Token of an admin user. */
  adminToken: string;
  /** Token of a valid user without admin rights (gets 403). */
  nonAdminToken?: string;
  /** `owner_id` of agents created through the API. Default 1. */
  adminUserId?: number;
  /** Agents report health (and so `last_contact`) this often. Default 10 s. */
  healthIntervalMs?: number;
  /** `last_work` is written at most this often (server's updateAgentLastWorkDelay). Default 60 s. */
  lastWorkDelayMs?: number;
  /**
   * A running workflow sends a log line this often (the agent's Log stream; each one may write `last_work`).
   * Default 5 s; 0 = quiet workflows (only the lease extensions, every `extendIntervalMs`).
   */
  logIntervalMs?: number;
  /** The agent extends a running workflow's lease this often (Extend; may write `last_work`). Default 60 s. */
  extendIntervalMs?: number;
  /** A running task its agent stopped extending (agent died) is requeued after this. Default 60 s. */
  taskTimeoutMs?: number;
  /**
   * Which free slot takes a task when several match. `random` (default) mimics the real server, which picks from a
   * Go map (unordered), weighted by free slots; `first` picks the lowest agent id (deterministic tests).
   */
  pick?: 'random' | 'first';
}

export interface AddWorkflowInput {
  /** Task id (a string, like the real server's). Default: next number. */
  id?: string;
  name?: string;
  /** Workflow labels (`labels:` in the pipeline YAML). `repo` and `org-id` are added like the server does. */
  labels?: Record<string, string>;
  /** Repository full name for the `repo` label. Default `acme/app`. */
  repo?: string;
  /** How long the workflow runs once an agent picked it up. */
  durationMs: number;
  /** Ids of workflows this one waits for (`depends_on`). */
  dependsOn?: string[];
  /** `runs_on` statuses; default: run only when every dependency succeeded. */
  runOn?: string[];
  /** Final status when it completes. Default `success`. */
  outcome?: 'success' | 'failure';
  pipelineId?: number;
  pipelineNumber?: number;
  repoId?: number;
  /**
   * false = a private repo the token's user cannot see: like the real server, the event stream carries none of its
   * events (the queue still shows it). Default true.
   */
  streamVisible?: boolean;
}

export interface ConnectAgentInput {
  /** WOODPECKER_MAX_WORKFLOWS: parallel workflow slots. */
  capacity: number;
  /** WOODPECKER_AGENT_LABELS (`custom_labels`). */
  labels?: Record<string, string>;
  /** Default `linux/amd64`. */
  platform?: string;
  /** Default `docker`. */
  backend?: string;
  /** Default the server version. */
  version?: string;
  /** Default: the agent's name. Used for the `hostname` label, and as the name when the agent has none. */
  hostname?: string;
}

export type AgentConnection =
  /** never connected, or left gracefully */
  | 'offline'
  /** connected and polling */
  | 'online'
  /** shutting down gracefully: no new work, finishing what it runs */
  | 'leaving'
  /** vanished (VM destroyed, crash): its tasks stay "running" until the task timeout requeues them */
  | 'dead';

export type WorkflowStatus =
  | 'waiting_on_deps'
  | 'pending'
  | 'running'
  | 'success'
  | 'failure'
  | 'skipped'
  | 'cancelled';

export interface FakeAgentState extends WoodpeckerAgent {
  connection: AgentConnection;
  /** Ids of running tasks on this agent (including orphans of a dead agent awaiting requeue). */
  runningTaskIds: string[];
  /** Idle polling slots (counted in worker_count). */
  freeSlots: number;
}

export interface FakeWorkflowState {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: WorkflowStatus;
  agentId: number;
  /** unix ms when first queued */
  queuedAt: number;
  /** unix ms of the latest start (a requeued workflow starts again) */
  startedAt?: number;
  /** unix ms when the current run will finish */
  finishAt?: number;
  attempts: number;
}

/** A workflow that left the queue for good. */
export interface CompletedWorkflow {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: 'success' | 'failure' | 'skipped' | 'cancelled';
  /** unix ms when first queued */
  queuedAt: number;
  /** unix ms of the start of the last run (undefined if it never started, e.g. cancelled while pending) */
  startedAt: number | undefined;
  /** unix ms */
  finishedAt: number;
  agentId: number;
  agentName: string;
  /** How many times an agent started it (requeues after agent death count). */
  attempts: number;
}

export interface FakeWoodpeckerState {
  /** unix ms the state was brought up to */
  now: number;
  paused: boolean;
  agents: FakeAgentState[];
  pending: FakeWorkflowState[];
  waitingOnDeps: FakeWorkflowState[];
  running: FakeWorkflowState[];
  completed: CompletedWorkflow[];
  stats: QueueStats;
}

export interface FaultRequest {
  method: string;
  /** Path without query. */
  path: string;
  route: FakeWoodpeckerRoute;
  headers: Headers;
}

/** Return a Response to answer instead of the fake (a pending promise simulates a hang); undefined to go on. */
export type FaultHook = (req: FaultRequest) => Response | Promise<Response> | undefined;

export interface FailNextOptions {
  /** Response body (text/plain). Default: the status text. */
  body?: string;
  /** How many consecutive requests fail. Default 1. */
  times?: number;
}

export interface FakeWoodpecker {
  /** The HTTP side; `app.fetch` is a fetch handler. */
  readonly app: Hono;
  /** `fetch` bound to the app (absolute URLs with any host), for injecting into clients without a socket. */
  readonly fetch: FetchFn;
  /** Brings the state up to `clock.now()`. Called implicitly by every request and control method. */
  tick(): void;
  /** Queues a workflow (task); returns its id. */
  addWorkflow(input: AddWorkflowInput): string;
  /** Removes a queued or running workflow (recorded as `cancelled`). False when unknown or already done. */
  cancelWorkflow(id: string): boolean;
  /**
   * An agent process starts with its per-agent token (as the real gRPC auth does) and begins polling.
   * Throws when the token is unknown (e.g. the agent was deleted).
   */
  connectAgent(token: string, input: ConnectAgentInput): WoodpeckerAgent;
  /** Graceful stop (SIGTERM): no new work; running workflows finish, then it goes offline. */
  disconnectAgent(id: number): void;
  /** The agent vanishes mid-work: contact stops, its running tasks are requeued after the task timeout. */
  killAgent(id: number): void;
  /** Creates an agent directly (no HTTP), e.g. static agents outside the pool. */
  seedAgent(input: { name: string; noSchedule?: boolean; ownerId?: number; orgId?: number }): WoodpeckerAgent;
  setPaused(paused: boolean): void;
  /** A snapshot (copies) for assertions and simulators. */
  state(): FakeWoodpeckerState;
  /** One agent (with current `last_contact`), or undefined. */
  agent(id: number): FakeAgentState | undefined;
  /** The next `times` requests to `route` answer `status` (text/plain) before anything else runs (even auth). */
  failNext(route: FakeWoodpeckerRoute, status: number, opts?: FailNextOptions): void;
  /** General fault hook, consulted first on every request; undefined removes it. */
  injectFault(hook: FaultHook | undefined): void;
  /** Requests received per route (faulted ones included). */
  requestCounts(): Partial<Record<FakeWoodpeckerRoute, number>>;
  /** Open event-stream connections. */
  eventSubscribers(): number;
  resetRequestCounts(): void;
  /** Drops the list of completed workflows (state().completed) and returns how many there were: long benchmark runs. */
  forgetCompleted(): number;
}

// ---------------------------------------------------------------------------------------------------------------

interface AgentRec {
  agent: WoodpeckerAgent;
  connection: AgentConnection;
  /** unix ms of the latest connect (health reports are counted from here) */
  connectedAt: number;
  hostname: string;
}

interface TaskRec {
  id: string;
  name: string;
  labels: Record<string, string>;
  dependencies: string[];
  runOn: string[];
  depStatus: Record<string, string>;
  agentId: number;
  pipelineId: number;
  pipelineNumber: number;
  repoId: number;
  createdSec: number;
  durationMs: number;
  outcome: 'success' | 'failure';
  queuedAt: number;
  startedAt?: number;
  finishAt?: number;
  /** Set when its agent died: the task is requeued at this time (unix ms). */
  orphanDeadline?: number;
  attempts: number;
  repo: string;
  streamVisible: boolean;
}

interface PendingFault {
  status: number;
  body: string;
  times: number;
}

const PER_PAGE_MAX = 50;
const HTML_INDEX =
  '<!doctype html><html lang="en"><head><meta charset="UTF-8" /><title>Woodpecker</title></head>' +
  '<body><div id="app"></div><script type="module" src="/assets/index.js"></script></body></html>';
const INTERNAL_LABEL_PREFIX = 'woodpecker-ci.org/';

export class FakeWoodpeckerError extends Error {
  override name = 'FakeWoodpeckerError';
}

export function createFakeWoodpecker(opts: FakeWoodpeckerOptions): FakeWoodpecker {
  const clock = opts.clock;
  const random = opts.random;
  const adminUserId = opts.adminUserId ?? 1;
  const healthIntervalMs = opts.healthIntervalMs ?? 10_000;
  const lastWorkDelaySec = Math.round((opts.lastWorkDelayMs ?? 60_000) / 1000);
  const taskTimeoutMs = opts.taskTimeoutMs ?? 60_000;
  const workIntervals = [opts.logIntervalMs ?? 5_000, opts.extendIntervalMs ?? 60_000].filter((ms) => ms > 0);
  const pick = opts.pick ?? 'random';

  const agents = new Map<number, AgentRec>();
  /** pending + waiting tasks, in queue order */
  let queue: TaskRec[] = [];
  const running = new Map<string, TaskRec>();
  const completed: CompletedWorkflow[] = [];
  const finishedStatus = new Map<string, string>();
  let paused = false;
  let nextAgentId = 1;
  let nextTaskNumber = 1;
  let cursor = clock.now();

  const counts: Partial<Record<FakeWoodpeckerRoute, number>> = {};
  const faults = new Map<FakeWoodpeckerRoute, PendingFault[]>();
  let faultHook: FaultHook | undefined;

  // ---------------------------------------------------------------------------------------------- queue model

  const sec = (ms: number): number => Math.floor(ms / 1000);

  function touchContact(rec: AgentRec, t: number): void {
    if (rec.connection !== 'online' && rec.connection !== 'leaving') return;
    const k = Math.floor(Math.max(0, t - rec.connectedAt) / healthIntervalMs);
    const at = sec(rec.connectedAt + k * healthIntervalMs);
    if (at > rec.agent.last_contact) rec.agent.last_contact = at;
  }

  /** The server writes last_work on Init/Done/Log/Extend, but at most once per `lastWorkDelay`. */
  function touchWork(agentId: number, t: number): void {
    const rec = agents.get(agentId);
    if (!rec) return;
    if (rec.agent.last_work > sec(t) - lastWorkDelaySec) return;
    rec.agent.last_work = sec(t);
  }

  /**
   * The first Log or Extend event of a running task at or after `from` (unix ms): they come every log interval and
   * every extend interval after its start, and stop at its end (Done writes last_work itself).
   */
  function nextWorkEvent(task: TaskRec, from: number): number | undefined {
    const started = task.startedAt;
    if (started === undefined || task.finishAt === undefined || task.orphanDeadline !== undefined) return undefined;
    let next: number | undefined;
    for (const every of workIntervals) {
      const k = Math.max(1, Math.ceil((from - started) / every));
      const at = started + k * every;
      if (at < task.finishAt && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /**
   * Applies the Log/Extend events of running tasks in (after, upTo], in time order. Only the events that write
   * `last_work` matter (the stored value is a minute old), so each step jumps to the next such event.
   */
  function workEvents(after: number, upTo: number): void {
    let floor = after + 1;
    for (;;) {
      let best: { at: number; agentId: number } | undefined;
      for (const task of running.values()) {
        const rec = agents.get(task.agentId);
        if (!rec) continue;
        const due = Math.max(floor, (rec.agent.last_work + lastWorkDelaySec) * 1000);
        const at = nextWorkEvent(task, due);
        if (at !== undefined && at <= upTo && (best === undefined || at < best.at)) best = { at, agentId: task.agentId };
      }
      if (!best) return;
      touchWork(best.agentId, best.at);
      floor = best.at;
    }
  }

  /** Open event streams (`GET /api/stream/events`): each gets the `data:` JSON of every visible event. */
  const subscribers = new Set<(data: string) => void>();

  /** pubsub "topic/events": a model.Event `{repo, pipeline}` for a change of the task's pipeline. */
  function publish(task: TaskRec, status: string): void {
    if (!task.streamVisible || subscribers.size === 0) return;
    const data = JSON.stringify({
      repo: { id: task.repoId, full_name: task.repo, private: false },
      pipeline: { id: task.pipelineId, number: task.pipelineNumber, status },
    });
    for (const s of subscribers) s(data);
  }

  function activeTasksOf(agentId: number): TaskRec[] {
    const out: TaskRec[] = [];
    for (const t of running.values()) if (t.agentId === agentId && t.orphanDeadline === undefined) out.push(t);
    return out;
  }

  function runningTasksOf(agentId: number): TaskRec[] {
    return [...running.values()].filter((t) => t.agentId === agentId).sort(byTaskId);
  }

  function freeSlots(rec: AgentRec): number {
    if (rec.connection !== 'online' || rec.agent.no_schedule) return 0;
    return Math.max(0, rec.agent.capacity - activeTasksOf(rec.agent.id).length);
  }

  /** Ids still in the queue or running: a task depending on one of them waits (fifo.depsInQueue). */
  function unfinishedIds(): Set<string> {
    const ids = new Set<string>(running.keys());
    for (const t of queue) ids.add(t.id);
    return ids;
  }

  function isWaiting(task: TaskRec, unfinished: Set<string>): boolean {
    return task.dependencies.some((d) => d !== task.id && unfinished.has(d));
  }

  function splitQueue(): { pending: TaskRec[]; waiting: TaskRec[] } {
    const unfinished = unfinishedIds();
    const pending: TaskRec[] = [];
    const waiting: TaskRec[] = [];
    for (const t of queue) (isWaiting(t, unfinished) ? waiting : pending).push(t);
    return { pending, waiting };
  }

  function updateDepStatus(id: string, status: string): void {
    for (const t of [...queue, ...running.values()]) if (t.dependencies.includes(id)) t.depStatus[id] = status;
  }

  /** model.Task.ShouldRun */
  function shouldRun(task: TaskRec): boolean {
    const onFailure = task.runOn.includes('failure');
    const onSuccess = task.runOn.length === 0 || task.runOn.includes('success');
    const statuses = Object.values(task.depStatus);
    if (onFailure && onSuccess) return true;
    if (!onFailure && onSuccess) return statuses.every((s) => s === 'success');
    if (onFailure && !onSuccess) return statuses.some((s) => s === 'failure');
    return false;
  }

  function agentLabels(rec: AgentRec): Record<string, string> {
    const a = rec.agent;
    return {
      platform: a.platform,
      hostname: rec.hostname,
      backend: a.backend,
      repo: '*',
      ...(a.custom_labels ?? {}),
      'org-id': a.org_id === -1 ? '*' : String(a.org_id),
    };
  }

  /**
   * server/rpc/filter.go: every (non-internal, non-empty) task label must be on the agent (or as `!key`), with an
   * agent value that is `*` or equal, where the agent value is a comma list of such values.
   */
  function matches(rec: AgentRec, task: TaskRec): boolean {
    const labels = agentLabels(rec);
    for (const [k, v] of Object.entries(task.labels)) {
      if (v === '' || k.startsWith(INTERNAL_LABEL_PREFIX)) continue;
      const have = labels[k] ?? labels[`!${k}`];
      if (have === undefined || !have.split(',').some((x) => x === '*' || x === v)) return false;
    }
    // `!key=v1,v2` on the agent: the task must carry that label with one of the values, literally (`*` too).
    for (const [k, v] of Object.entries(labels)) {
      if (!k.startsWith('!')) continue;
      const want = task.labels[k.slice(1)];
      if (want === undefined || !v.split(',').includes(want)) return false;
    }
    return true;
  }

  function complete(task: TaskRec, status: CompletedWorkflow['status'], t: number): void {
    const rec = agents.get(task.agentId);
    completed.push({
      id: task.id,
      name: task.name,
      labels: { ...task.labels },
      status,
      queuedAt: task.queuedAt,
      startedAt: task.startedAt,
      finishedAt: t,
      agentId: task.agentId,
      agentName: rec?.agent.name ?? '',
      attempts: task.attempts,
    });
    finishedStatus.set(task.id, status === 'cancelled' ? 'killed' : status);
    updateDepStatus(task.id, status === 'cancelled' ? 'killed' : status);
  }

  function finish(task: TaskRec, t: number): void {
    running.delete(task.id);
    complete(task, task.outcome, t);
    touchWork(task.agentId, t);
    publish(task, task.outcome);
    const rec = agents.get(task.agentId);
    if (rec && rec.connection === 'leaving' && activeTasksOf(rec.agent.id).length === 0) {
      touchContact(rec, t);
      rec.connection = 'offline';
    }
  }

  function requeue(task: TaskRec): void {
    running.delete(task.id);
    delete task.orphanDeadline;
    delete task.finishAt;
    // Like fifo.resubmitExpiredPipelines: back to the FRONT of the queue, keeping its stale agent_id.
    queue.unshift(task);
  }

  function chooseAgent(task: TaskRec, withFreeSlots: { rec: AgentRec; free: number }[]): AgentRec | undefined {
    const candidates = withFreeSlots.filter((c) => matches(c.rec, task));
    if (candidates.length === 0) return undefined;
    if (pick === 'first') return candidates[0]?.rec;
    const total = candidates.reduce((n, c) => n + c.free, 0);
    let r = Math.floor(random() * total);
    for (const c of candidates) {
      if (r < c.free) return c.rec;
      r -= c.free;
    }
    return candidates[candidates.length - 1]?.rec;
  }

  /** fifo.process at time t: hand pending tasks to free matching slots, in queue order. */
  function schedule(t: number): void {
    if (paused) return;
    let progress = true;
    while (progress) {
      progress = false;
      const withFreeSlots: { rec: AgentRec; free: number }[] = [];
      for (const rec of [...agents.values()].sort((a, b) => a.agent.id - b.agent.id)) {
        const free = freeSlots(rec);
        if (free > 0) withFreeSlots.push({ rec, free });
      }
      if (withFreeSlots.length === 0) return;
      const unfinished = unfinishedIds();
      for (const task of queue) {
        if (isWaiting(task, unfinished)) continue;
        const rec = chooseAgent(task, withFreeSlots);
        if (!rec) continue;
        queue = queue.filter((x) => x !== task);
        task.agentId = rec.agent.id;
        if (!shouldRun(task)) {
          // rpc.Next marks it skipped right away; the slot keeps polling.
          complete(task, 'skipped', t);
        } else {
          task.attempts += 1;
          task.startedAt = t;
          task.finishAt = t + Math.max(0, task.durationMs);
          running.set(task.id, task);
          touchWork(rec.agent.id, t);
          publish(task, 'running');
        }
        progress = true;
        break;
      }
    }
  }

  function nextEventAt(): number | undefined {
    let next: number | undefined;
    for (const task of running.values()) {
      const at = task.orphanDeadline ?? task.finishAt;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  function tick(): void {
    const now = Math.max(cursor, clock.now());
    for (;;) {
      const at = nextEventAt();
      if (at === undefined || at > now) break;
      const t = Math.max(cursor, at);
      workEvents(cursor, t);
      cursor = t;
      for (const rec of agents.values()) touchContact(rec, t);
      const due = [...running.values()]
        .filter((task) => (task.orphanDeadline ?? task.finishAt ?? Infinity) <= t)
        .sort(byTaskId);
      for (const task of due) {
        if (task.orphanDeadline !== undefined) requeue(task);
        else finish(task, t);
      }
      schedule(t);
    }
    workEvents(cursor, now);
    cursor = now;
    for (const rec of agents.values()) touchContact(rec, now);
    schedule(now);
  }

  function stats(): QueueStats {
    let workers = 0;
    for (const rec of agents.values()) workers += freeSlots(rec);
    const { pending, waiting } = splitQueue();
    return {
      worker_count: workers,
      pending_count: pending.length,
      waiting_on_deps_count: waiting.length,
      running_count: running.size,
    };
  }

  // ---------------------------------------------------------------------------------------------- agents

  function generateToken(): string {
    const bytes = new Uint8Array(32);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256) & 0xff;
    return base32(bytes);
  }

  function createAgentRecord(name: string, noSchedule: boolean, ownerId: number, orgId: number): AgentRec {
    const nowSec = sec(clock.now());
    const rec: AgentRec = {
      agent: {
        id: nextAgentId++,
        created: nowSec,
        updated: nowSec,
        name,
        owner_id: ownerId,
        token: generateToken(),
        last_contact: 0,
        last_work: 0,
        platform: '',
        backend: '',
        capacity: 0,
        version: '',
        no_schedule: noSchedule,
        custom_labels: null,
        org_id: orgId,
      },
      connection: 'offline',
      connectedAt: 0,
      hostname: '',
    };
    agents.set(rec.agent.id, rec);
    return rec;
  }

  function agentSnapshot(rec: AgentRec): FakeAgentState {
    return {
      ...agentJson(rec),
      connection: rec.connection,
      runningTaskIds: runningTasksOf(rec.agent.id).map((t) => t.id),
      freeSlots: freeSlots(rec),
    };
  }

  function agentJson(rec: AgentRec): WoodpeckerAgent {
    const a = rec.agent;
    // Field order of the Go struct.
    return {
      id: a.id,
      created: a.created,
      updated: a.updated,
      name: a.name,
      owner_id: a.owner_id,
      token: a.token,
      last_contact: a.last_contact,
      last_work: a.last_work,
      platform: a.platform,
      backend: a.backend,
      capacity: a.capacity,
      version: a.version,
      no_schedule: a.no_schedule,
      custom_labels: a.custom_labels === null ? null : { ...a.custom_labels },
      org_id: a.org_id,
    };
  }

  function taskJson(task: TaskRec): Record<string, unknown> {
    return {
      id: task.id,
      pid: 1,
      name: task.name,
      labels: { ...task.labels },
      dependencies: task.dependencies.length ? [...task.dependencies] : null,
      run_on: task.runOn.length ? [...task.runOn] : null,
      dep_status: { ...task.depStatus },
      agent_id: task.agentId,
      pipeline_id: task.pipelineId,
      repo_id: task.repoId,
      concurrency_limit: 0,
      concurrency_group: '',
      created: task.createdSec,
    };
  }

  function queueTaskJson(task: TaskRec): Record<string, unknown> {
    return {
      ...taskJson(task),
      pipeline_number: task.pipelineNumber,
      agent_name: task.agentId ? (agents.get(task.agentId)?.agent.name ?? '') : '',
    };
  }

  function workflowState(task: TaskRec, status: WorkflowStatus): FakeWorkflowState {
    const s: FakeWorkflowState = {
      id: task.id,
      name: task.name,
      labels: { ...task.labels },
      status,
      agentId: task.agentId,
      queuedAt: task.queuedAt,
      attempts: task.attempts,
    };
    if (task.startedAt !== undefined) s.startedAt = task.startedAt;
    if (task.finishAt !== undefined && task.orphanDeadline === undefined) s.finishAt = task.finishAt;
    return s;
  }

  function sortedRunning(): TaskRec[] {
    return [...running.values()].sort(byTaskId);
  }

  // ---------------------------------------------------------------------------------------------- HTTP

  const app = new Hono();

  const json = (c: Context, body: unknown, status: 200 = 200, indent = false): Response => {
    c.header('Content-Type', 'application/json; charset=utf-8');
    return c.body(indent ? JSON.stringify(body, null, 4) : JSON.stringify(body), status);
  };
  const text = (c: Context, status: number, body: string): Response => {
    c.header('Content-Type', 'text/plain; charset=utf-8');
    return c.body(body, status as 400);
  };
  const empty = (c: Context, status: number): Response => c.body(null, status as 204);

  function authError(c: Context): Response | undefined {
    const token = bearer(c.req.header('authorization')) ?? c.req.query('access_token');
    if (token !== undefined && token === opts.adminToken) return undefined;
    if (token !== undefined && opts.nonAdminToken !== undefined && token === opts.nonAdminToken) {
      return text(c, 403, 'User not authorized');
    }
    return text(c, 401, 'User not authorized');
  }

  /** Counts, applies faults, then auth (for admin routes), then the handler. */
  async function guarded(
    c: Context,
    route: FakeWoodpeckerRoute,
    admin: boolean,
    handler: () => Response | Promise<Response>,
  ): Promise<Response> {
    counts[route] = (counts[route] ?? 0) + 1;
    if (faultHook) {
      const url = new URL(c.req.url);
      const res = faultHook({ method: c.req.method, path: url.pathname, route, headers: c.req.raw.headers });
      if (res !== undefined) return res;
    }
    const queued = faults.get(route);
    const fault = queued?.[0];
    if (queued && fault) {
      fault.times -= 1;
      if (fault.times <= 0) queued.shift();
      return text(c, fault.status, fault.body);
    }
    tick();
    if (admin) {
      const denied = authError(c);
      if (denied) return denied;
    }
    return handler();
  }

  /** gin's c.Bind: JSON only with `Content-Type: application/json`; otherwise the form binder finds nothing. */
  async function bindAgent(
    c: Context,
  ): Promise<{ ok: true; name: string; noSchedule: boolean } | { ok: false; error: string }> {
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (type !== 'application/json') return { ok: true, name: '', noSchedule: false };
    const raw = await c.req.text();
    if (raw.trim() === '') return { ok: false, error: 'EOF' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : 'invalid character' };
    }
    if (parsed === null) return { ok: true, name: '', noSchedule: false };
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, error: 'json: cannot unmarshal into Go value of type model.Agent' };
    }
    const body = parsed as Record<string, unknown>;
    if (body.name !== undefined && body.name !== null && typeof body.name !== 'string') {
      return { ok: false, error: 'json: cannot unmarshal into Go struct field Agent.name of type string' };
    }
    if (body.no_schedule !== undefined && body.no_schedule !== null && typeof body.no_schedule !== 'boolean') {
      return { ok: false, error: 'json: cannot unmarshal into Go struct field Agent.no_schedule of type bool' };
    }
    return { ok: true, name: typeof body.name === 'string' ? body.name : '', noSchedule: body.no_schedule === true };
  }

  app.use('*', async (c, next) => {
    c.header('X-WOODPECKER-VERSION', FAKE_WOODPECKER_VERSION);
    // Go's net/http stamps every answer with the server's clock, 1 s resolution (http.TimeFormat).
    c.header('Date', new Date(clock.now()).toUTCString());
    await next();
  });

  app.get('/api/agents', (c) =>
    guarded(c, 'GET /api/agents', true, () => {
      const page = goInt(c.req.query('page'));
      const perPage = goInt(c.req.query('perPage'));
      const p = page === undefined || page < 1 ? 1 : page;
      const pp = perPage === undefined || perPage < 1 || perPage > PER_PAGE_MAX ? PER_PAGE_MAX : perPage;
      const all = [...agents.values()].sort((a, b) => a.agent.id - b.agent.id);
      const slice = all.slice((p - 1) * pp, p * pp).map(agentJson);
      return json(c, slice.length ? slice : null);
    }),
  );

  app.post('/api/agents', (c) =>
    guarded(c, 'POST /api/agents', true, async () => {
      const bound = await bindAgent(c);
      if (!bound.ok) return text(c, 400, bound.error);
      const rec = createAgentRecord(bound.name, bound.noSchedule, adminUserId, -1);
      return json(c, agentJson(rec));
    }),
  );

  app.get('/api/agents/:id', (c) =>
    guarded(c, 'GET /api/agents/:id', true, () => {
      const id = goInt(c.req.param('id'));
      if (id === undefined) return empty(c, 400);
      const rec = agents.get(id);
      return rec ? json(c, agentJson(rec)) : empty(c, 404);
    }),
  );

  app.patch('/api/agents/:id', (c) =>
    guarded(c, 'PATCH /api/agents/:id', true, async () => {
      const bound = await bindAgent(c);
      if (!bound.ok) return empty(c, 400);
      const id = goInt(c.req.param('id'));
      if (id === undefined) return empty(c, 400);
      const rec = agents.get(id);
      if (!rec) return empty(c, 404);
      rec.agent.name = bound.name;
      rec.agent.no_schedule = bound.noSchedule;
      rec.agent.updated = sec(clock.now());
      schedule(cursor); // re-activated slots poll again at once
      return json(c, agentJson(rec));
    }),
  );

  app.delete('/api/agents/:id', (c) =>
    guarded(c, 'DELETE /api/agents/:id', true, () => {
      const id = goInt(c.req.param('id'));
      if (id === undefined) return empty(c, 400);
      const rec = agents.get(id);
      if (!rec) return empty(c, 404);
      if (runningTasksOf(id).length > 0) return text(c, 409, 'Agent has running tasks');
      agents.delete(id);
      return empty(c, 204);
    }),
  );

  app.get('/api/agents/:id/tasks', (c) =>
    guarded(c, 'GET /api/agents/:id/tasks', true, () => {
      const id = goInt(c.req.param('id'));
      if (id === undefined) return empty(c, 400);
      if (!agents.has(id)) return empty(c, 404);
      const tasks = runningTasksOf(id).map(taskJson);
      return json(c, tasks.length ? tasks : null);
    }),
  );

  app.get('/api/queue/info', (c) =>
    guarded(c, 'GET /api/queue/info', true, () => {
      const { pending, waiting } = splitQueue();
      return json(
        c,
        {
          pending: pending.map(queueTaskJson),
          waiting_on_deps: waiting.map(queueTaskJson),
          running: sortedRunning().map(queueTaskJson),
          stats: stats(),
          paused,
        },
        200,
        true,
      );
    }),
  );

  app.post('/api/queue/pause', (c) =>
    guarded(c, 'POST /api/queue/pause', true, () => {
      paused = true;
      return empty(c, 204);
    }),
  );

  app.post('/api/queue/resume', (c) =>
    guarded(c, 'POST /api/queue/resume', true, () => {
      paused = false;
      schedule(cursor);
      return empty(c, 204);
    }),
  );

  app.get('/version', (c) =>
    guarded(c, 'GET /version', false, () =>
      json(c, { source: 'https://github.com/woodpecker-ci/woodpecker', version: FAKE_WOODPECKER_VERSION }),
    ),
  );

  app.get('/healthz', (c) => guarded(c, 'GET /healthz', false, () => empty(c, 204)));

  // server/api/stream.go EventStreamSSE: no admin check (without a user only public repos' events), a `: ping` at
  // once and after every 30 s without an event, `data: <JSON>` per event; never ends on its own.
  app.get('/api/stream/events', (c) =>
    guarded(c, 'GET /api/stream/events', false, () => {
      const enc = new TextEncoder();
      const stop = new AbortController();
      let send: ((data: string) => void) | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          const write = (text: string): void => {
            try {
              controller.enqueue(enc.encode(text));
            } catch {
              stop.abort();
            }
          };
          let lastWrite = clock.now();
          send = (data) => {
            lastWrite = clock.now();
            write(`data: ${data}\n\n`);
          };
          subscribers.add(send);
          write(': ping\n\n');
          const ping = async (): Promise<void> => {
            while (!stop.signal.aborted) {
              await clock.sleep(Math.max(0, lastWrite + 30_000 - clock.now()), stop.signal);
              if (clock.now() - lastWrite >= 30_000) {
                lastWrite = clock.now();
                write(': ping\n\n');
              }
            }
          };
          ping().catch(() => undefined);
        },
        cancel() {
          if (send) subscribers.delete(send);
          stop.abort();
        },
      });
      stop.signal.addEventListener('abort', () => {
        if (send) subscribers.delete(send);
      });
      return new Response(body, {
        status: 200,
        headers: {
          'Content-Type': 'text/event-stream',
          'Cache-Control': 'no-store',
          'X-Accel-Buffering': 'no',
          'X-WOODPECKER-VERSION': FAKE_WOODPECKER_VERSION,
        },
      });
    }),
  );

  // gin's NoRoute is the web UI: any unknown path or method answers 200 with the SPA's index.html.
  app.notFound((c) =>
    guarded(c, 'fallback', false, () => {
      c.header('Content-Type', 'text/html; charset=utf-8');
      return c.body(HTML_INDEX, 200);
    }),
  );

  // ---------------------------------------------------------------------------------------------- control

  function requireAgent(id: number): AgentRec {
    const rec = agents.get(id);
    if (!rec) throw new FakeWoodpeckerError(`no agent ${id}`);
    return rec;
  }

  const fake: FakeWoodpecker = {
    app,
    fetch: async (input, init) => app.fetch(input instanceof Request && !init ? input : new Request(input, init)),
    tick,

    addWorkflow(input) {
      tick();
      const now = cursor;
      const exists = (x: string): boolean => queue.some((t) => t.id === x) || running.has(x) || finishedStatus.has(x);
      let id = input.id;
      if (id === undefined) {
        while (exists(String(nextTaskNumber))) nextTaskNumber += 1;
        id = String(nextTaskNumber++);
      }
      if (exists(id)) {
        throw new FakeWoodpeckerError(`workflow ${id} already exists`);
      }
      const n = Number(id);
      const dependencies = [...(input.dependsOn ?? [])];
      const depStatus: Record<string, string> = {};
      for (const dep of dependencies) {
        const st = finishedStatus.get(dep);
        if (st !== undefined) depStatus[dep] = st;
      }
      const task: TaskRec = {
        id,
        name: input.name ?? `workflow-${id}`,
        labels: { ...(input.labels ?? {}), repo: input.repo ?? 'acme/app', 'org-id': '1' },
        dependencies,
        runOn: [...(input.runOn ?? [])],
        depStatus,
        agentId: 0,
        pipelineId: input.pipelineId ?? (Number.isSafeInteger(n) ? n : 1),
        pipelineNumber: input.pipelineNumber ?? (Number.isSafeInteger(n) ? n : 1),
        repoId: input.repoId ?? 1,
        createdSec: sec(now),
        durationMs: input.durationMs,
        outcome: input.outcome ?? 'success',
        queuedAt: now,
        attempts: 0,
        repo: input.repo ?? 'acme/app',
        streamVisible: input.streamVisible ?? true,
      };
      queue.push(task);
      publish(task, 'pending');
      schedule(now);
      return id;
    },

    cancelWorkflow(id) {
      tick();
      const queued = queue.find((t) => t.id === id);
      if (queued) {
        queue = queue.filter((t) => t !== queued);
        complete(queued, 'cancelled', cursor);
        schedule(cursor);
        return true;
      }
      const task = running.get(id);
      if (!task) return false;
      running.delete(id);
      complete(task, 'cancelled', cursor);
      touchWork(task.agentId, cursor);
      schedule(cursor);
      return true;
    },

    connectAgent(token, input) {
      tick();
      const rec = token === '' ? undefined : [...agents.values()].find((r) => r.agent.token === token);
      if (!rec) throw new FakeWoodpeckerError('agent token not found: the agent cannot authenticate');
      const a = rec.agent;
      rec.hostname = input.hostname ?? (a.name || `host-${a.id}`);
      if (a.name === '') a.name = rec.hostname; // RegisterAgent keeps a non-empty name
      a.capacity = input.capacity;
      a.platform = input.platform ?? 'linux/amd64';
      a.backend = input.backend ?? 'docker';
      a.version = input.version ?? FAKE_WOODPECKER_VERSION;
      a.custom_labels = { ...(input.labels ?? {}) };
      a.updated = sec(cursor);
      a.last_contact = Math.max(a.last_contact, sec(cursor));
      rec.connection = 'online';
      rec.connectedAt = cursor;
      schedule(cursor);
      return agentJson(rec);
    },

    disconnectAgent(id) {
      tick();
      const rec = requireAgent(id);
      if (rec.connection === 'dead' || rec.connection === 'offline') return;
      touchContact(rec, cursor);
      rec.connection = activeTasksOf(id).length > 0 ? 'leaving' : 'offline';
    },

    killAgent(id) {
      tick();
      const rec = requireAgent(id);
      touchContact(rec, cursor);
      rec.connection = 'dead';
      for (const task of activeTasksOf(id)) task.orphanDeadline = cursor + taskTimeoutMs;
    },

    seedAgent(input) {
      tick();
      const rec = createAgentRecord(input.name, input.noSchedule ?? false, input.ownerId ?? adminUserId, input.orgId ?? -1);
      return agentJson(rec);
    },

    setPaused(value) {
      tick();
      paused = value;
      schedule(cursor);
    },

    state() {
      tick();
      const { pending, waiting } = splitQueue();
      return {
        now: cursor,
        paused,
        agents: [...agents.values()].sort((a, b) => a.agent.id - b.agent.id).map(agentSnapshot),
        pending: pending.map((t) => workflowState(t, 'pending')),
        waitingOnDeps: waiting.map((t) => workflowState(t, 'waiting_on_deps')),
        running: sortedRunning().map((t) => workflowState(t, 'running')),
        completed: completed.map((w) => ({ ...w, labels: { ...w.labels } })),
        stats: stats(),
      };
    },

    agent(id) {
      tick();
      const rec = agents.get(id);
      return rec ? agentSnapshot(rec) : undefined;
    },

    failNext(route, status, o = {}) {
      const list = faults.get(route) ?? [];
      list.push({ status, body: o.body ?? statusText(status), times: Math.max(1, o.times ?? 1) });
      faults.set(route, list);
    },

    injectFault(hook) {
      faultHook = hook;
    },

    eventSubscribers() {
      return subscribers.size;
    },
    requestCounts() {
      return { ...counts };
    },

    resetRequestCounts() {
      for (const k of Object.keys(counts) as FakeWoodpeckerRoute[]) delete counts[k];
    },

    forgetCompleted() {
      const n = completed.length;
      completed.length = 0;
      return n;
    },
  };
  return fake;
}

// ---------------------------------------------------------------------------------------------------------------

function byTaskId(a: { id: string }, b: { id: string }): number {
  const na = Number(a.id);
  const nb = Number(b.id);
  if (Number.isSafeInteger(na) && Number.isSafeInteger(nb)) return na - nb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** `Bearer %s` as scanned by fmt.Sscanf. */
function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)/.exec(header ?? '');
  return m?.[1];
}

/** strconv.ParseInt(s, 10, 64), undefined on error. */
function goInt(s: string | undefined): number | undefined {
  if (s === undefined || !/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function statusText(status: number): string {
  const known: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return known[status] ?? `status ${status}`;
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with `=` padding (Go's base32.StdEncoding). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}
