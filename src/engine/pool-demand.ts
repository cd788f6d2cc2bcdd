import { compareCodePoints } from '../cloudinit/gotemplate.js';
import type { QueueInfo, WoodpeckerAgent, WoodpeckerTask } from '../woodpecker/types.js';
import { effectiveAgentLabels, formatLabels, matchTask, matchingLabels } from './labels.js';
import type { Labels } from './labels.js';
import { runningTasksByAgent } from './pool.js';

/**
 * Which pool must serve which queued work, when several pools share one Woodpecker server. Pure.
 *
 * - A pending task a free slot will take is not demand: an online (recent contact), schedulable agent with a free
 *   slot that matches it — any agent, also a static one outside every pool — picks it up. Free slots are given to
 *   tasks in queue order, best score first (like the server's queue), so one slot never absorbs two tasks.
 * - Every other pending task counts for exactly one pool: among the pools whose future agents would take it, the
 *   best score (exact beats wildcard), then the cheapest, then the lowest pool id. Two pools never scale for it.
 * - A task no pool would take goes to an existing agent that matches it (busy, offline or drained: it waits for
 *   it), or else it is unservable: reported, grouped by its labels, and never demand.
 * - Waiting-on-deps tasks are NOT demand (like upstream, which counts only pending): a task may be skipped when a
 *   dependency fails, and once it turns pending the next queue poll sees it. They are counted per pool for display.
 * - Running tasks and free slots are counted per pool from that pool's own agents (`poolOf`), never from the
 *   server-wide counters.
 */

export interface DemandPool {
  id: string;
  /** Effective labels of the agents this pool would create: `poolAgentLabels(agent-labels)`. */
  labels: Labels;
  /** Price of one more agent per hour; breaks ties between equally good pools (cheapest wins). */
  pricePerHour: number;
}

export interface DemandInput {
  /** unix ms */
  now: number;
  /** An agent is online when its last contact is at most this old, in ms (agents report health every 10 s). */
  onlineWithin: number;
  queue: Pick<QueueInfo, 'pending' | 'waiting_on_deps' | 'running'>;
  /** Every agent on the server. */
  agents: readonly WoodpeckerAgent[];
  pools: readonly DemandPool[];
  /** The pool an agent provably belongs to, or undefined (static agents, other installations' agents). */
  poolOf: (agent: WoodpeckerAgent) => string | undefined;
}

export interface PoolDemand {
  poolId: string;
  /** Pending tasks this pool must serve: their number and ids in queue order. */
  pending: number;
  pendingTaskIds: string[];
  /** Waiting-on-deps tasks that would fall to this pool (not demand). */
  waitingOnDeps: number;
  /** Running tasks on this pool's own agents. */
  running: number;
  /** Free slots on this pool's own online schedulable agents, after the pending tasks they will take. */
  freeSlots: number;
  /** Pending tasks this pool's own free slots will take (they start without a new agent). */
  absorbed: number;
}

export interface UnservableGroup {
  /** The task labels that take part in matching, sorted (see `matchingLabels`). */
  labels: Record<string, string>;
  taskIds: string[];
}

export interface DemandResult {
  /** One entry per pool, in the order of `input.pools`. */
  pools: PoolDemand[];
  /** Pending tasks a free slot will take, with the agent: not demand. */
  absorbed: { taskId: string; agentId: number }[];
  /** Pending tasks no pool would take that an existing agent outside the pools matches: left to it. */
  leftToOthers: string[];
  /** Pending tasks nothing matches, grouped by label set (first seen first). */
  unservable: UnservableGroup[];
}

interface AgentSlots {
  agent: WoodpeckerAgent;
  labels: Labels;
  poolId: string | undefined;
  free: number;
}

function isOnline(agent: WoodpeckerAgent, now: number, within: number): boolean {
  return agent.last_contact > 0 && now - agent.last_contact * 1000 <= within;
}

/** The agent with a free slot that the server would hand this task to: best score, then lowest id. */
function takerOf(task: WoodpeckerTask, slots: readonly AgentSlots[]): AgentSlots | undefined {
  let best: AgentSlots | undefined;
  let bestScore = -1;
  for (const s of slots) {
    if (s.free <= 0) continue;
    const m = matchTask(task.labels, s.labels);
    if (m.ok && (m.score > bestScore || (m.score === bestScore && best !== undefined && s.agent.id < best.agent.id))) {
      best = s;
      bestScore = m.score;
    }
  }
  return best;
}

const emptyDemand = (poolId: string): PoolDemand => ({
  poolId,
  pending: 0,
  pendingTaskIds: [],
  waitingOnDeps: 0,
  running: 0,
  freeSlots: 0,
  absorbed: 0,
});

const price = (p: DemandPool): number => (Number.isFinite(p.pricePerHour) ? p.pricePerHour : Infinity);

/** The pool that serves a task: best score, then cheapest, then lowest id (code-point order). */
export function poolFor(task: Pick<WoodpeckerTask, 'labels'>, pools: readonly DemandPool[]): DemandPool | undefined {
  let best: DemandPool | undefined;
  let bestScore = -1;
  for (const p of pools) {
    const m = matchTask(task.labels, p.labels);
    if (!m.ok) continue;
    const better =
      best === undefined ||
      m.score > bestScore ||
      (m.score === bestScore && (price(p) < price(best) || (price(p) === price(best) && compareCodePoints(p.id, best.id) < 0)));
    if (better) {
      best = p;
      bestScore = m.score;
    }
  }
  return best;
}

/** Assigns the queue's work to pools; see the module comment for the rules. */
export function assignDemand(input: DemandInput): DemandResult {
  const knownPools = new Set(input.pools.map((p) => p.id));
  const runningOn = runningTasksByAgent(input.queue.running);

  const slots: AgentSlots[] = input.agents.map((agent) => {
    const owner = input.poolOf(agent);
    const usable = !agent.no_schedule && isOnline(agent, input.now, input.onlineWithin);
    return {
      agent,
      labels: effectiveAgentLabels(agent),
      poolId: owner !== undefined && knownPools.has(owner) ? owner : undefined,
      free: usable ? Math.max(0, agent.capacity - (runningOn.get(agent.id) ?? 0)) : 0,
    };
  });

  const byPool = new Map<string, PoolDemand>();
  for (const p of input.pools) byPool.set(p.id, emptyDemand(p.id));
  const absorbed: DemandResult['absorbed'] = [];
  const leftToOthers: string[] = [];
  const unservable = new Map<string, UnservableGroup>();

  for (const task of input.queue.pending) {
    const taker = takerOf(task, slots);
    if (taker !== undefined) {
      taker.free--;
      absorbed.push({ taskId: task.id, agentId: taker.agent.id });
      const own = taker.poolId === undefined ? undefined : byPool.get(taker.poolId);
      if (own) own.absorbed++;
      continue;
    }
    const pool = poolFor(task, input.pools);
    const demand = pool === undefined ? undefined : byPool.get(pool.id);
    if (demand) {
      demand.pending++;
      demand.pendingTaskIds.push(task.id);
    } else if (slots.some((s) => matchTask(task.labels, s.labels).ok)) {
      leftToOthers.push(task.id);
    } else {
      const labels = matchingLabels(task.labels);
      const key = formatLabels(labels);
      const group = unservable.get(key) ?? { labels, taskIds: [] };
      group.taskIds.push(task.id);
      unservable.set(key, group);
    }
  }

  for (const task of input.queue.waiting_on_deps) {
    const pool = poolFor(task, input.pools);
    const demand = pool === undefined ? undefined : byPool.get(pool.id);
    if (demand) demand.waitingOnDeps++;
  }

  for (const s of slots) {
    const demand = s.poolId === undefined ? undefined : byPool.get(s.poolId);
    if (!demand) continue;
    demand.running += runningOn.get(s.agent.id) ?? 0;
    demand.freeSlots += s.free;
  }

  return {
    pools: input.pools.map((p) => byPool.get(p.id) ?? emptyDemand(p.id)),
    absorbed,
    leftToOthers,
    unservable: [...unservable.values()],
  };
}
