import { roughDuration } from '../config/duration.js';
import type { ProviderServer } from '../providers/types.js';
import type { WoodpeckerAgent } from '../woodpecker/types.js';
import { budgetRoom } from './budget.js';
import { warmTarget } from './capacity.js';
import { queueDemand } from './demand.js';
import { poolMembership, runningTasksByAgent } from './pool.js';
import type { ForeignResource } from './pool.js';
import type {
  Action,
  AgentRef,
  EngineConfig,
  EngineMemory,
  Observation,
  Plan,
  PlanMode,
  PlanSummary,
  Reason,
} from './types.js';

/**
 * The planner: a pure function of what a tick observed. It reproduces the Go autoscaler's stages in order
 * (scale up or drain, dangling clean-up, stale clean-up, drained removal; reference §4.3) on an in-memory copy
 * of the pool, so later stages see what earlier ones decided, and returns the actions with their reasons.
 * Nothing here performs I/O or reads a clock.
 */
export function plan(obs: Observation, cfg: EngineConfig, memory: EngineMemory, mode: PlanMode = 'full'): Plan {
  const p = new Planner(obs, cfg, memory);
  return p.run(mode);
}

const HOUR = 3_600_000;

/**
 * How long after `last_work` the agent's last work may have ended. Woodpecker writes `last_work` on a workflow's
 * start (Init), log lines (Log), lease extensions (Extend) and end (Done), but only when the stored value is more
 * than a minute old (server/rpc/rpc.go, updateAgentLastWorkDelay = 1 minute). So a workflow shorter than a minute
 * leaves `last_work` at its start, and in general the last event of the last work happened at most a minute after
 * `last_work`: an agent without running tasks has been idle since at most `last_work` + this.
 */
export const LAST_WORK_LAG_MS = 60_000;

/**
 * Hourly billing: is the agent inside the teardown window before its next paid-hour boundary (anchored at its
 * creation)? window = billing margin + reconciliation interval (reference §4.10).
 */
export function inTeardownWindow(agent: Pick<WoodpeckerAgent, 'created'>, cfg: EngineConfig, now: number): boolean {
  if (agent.created === 0) return false;
  const age = now - agent.created * 1000;
  if (age < 0) return false;
  const window = cfg.agentBillingTeardownMargin + cfg.reconciliationInterval;
  if (window >= HOUR) return true;
  return age % HOUR >= HOUR - window;
}

/**
 * The upstream scaling formula (reference §4.2), with booting agents as capacity in the default policy, and
 * `idleSlots` free slots wanted on top of the queue (warm capacity; 0 = upstream's formula).
 */
export function calcDelta(
  input: { free: number; running: number; pending: number; active: number; booting: number; idleSlots?: number },
  cfg: Pick<EngineConfig, 'workflowsPerAgent' | 'minAgents' | 'maxAgents' | 'policy'>,
): { available: number; required: number; delta: number } {
  const wpa = cfg.workflowsPerAgent;
  let available = Math.ceil((input.free + input.running) / wpa);
  if (cfg.policy === 'default') available += input.booting;
  const required = Math.ceil((input.pending + input.running + (input.idleSlots ?? 0)) / wpa);
  const maxUp = cfg.maxAgents - input.active;
  const maxDown = input.active - cfg.minAgents;
  let delta = Math.ceil(required - available);
  delta = Math.max(delta, -maxDown);
  delta = Math.min(delta, maxUp);
  // `-maxDown` is -0 when the pool sits at min-agents; report a plain 0 (summary, metrics, status page).
  if (delta === 0) delta = 0;
  return { available, required, delta };
}

interface PlannedBudget {
  why?: string;
  affordable: number;
  summary: NonNullable<PlanSummary['budget']>;
}

interface PoolAgent {
  agent: WoodpeckerAgent;
  noSchedule: boolean;
  /** planned for removal: later stages skip it (the fixed list bug, reference §4.7) */
  removed: boolean;
  /** drained by a decision of this tick */
  drainedNow: boolean;
  runningTasks: number;
}

function ref(a: WoodpeckerAgent): AgentRef {
  return { id: a.id, name: a.name };
}

function reason(code: Reason['code'], message: string): Reason {
  return { code, message };
}

class Planner {
  private readonly actions: Action[] = [];
  private readonly notes: string[] = [];
  private readonly pool: PoolAgent[];
  private readonly servers: readonly ProviderServer[] | undefined;
  private readonly now: number;
  private readonly cordoned: ReadonlySet<string>;
  private readonly foreign: ForeignResource[];
  /** Names of legacy servers adopted this tick: no removal until their marker is upgraded (next tick). */
  private readonly adopting: ReadonlySet<string>;

  constructor(
    private readonly obs: Observation,
    private readonly cfg: EngineConfig,
    private readonly memory: EngineMemory,
  ) {
    this.now = obs.now;
    // Only what is provably this installation's: look-alikes are listed, never drained, removed or counted.
    const members = poolMembership(obs, cfg, memory.adopted);
    const running = runningTasksByAgent(obs.queue.running);
    this.pool = members.agents.map((agent) => ({
      agent,
      noSchedule: agent.no_schedule,
      removed: false,
      drainedNow: false,
      runningTasks: running.get(agent.id) ?? 0,
    }));
    this.servers = members.servers;
    this.foreign = members.foreign;
    this.adopting = new Set(members.adoptions.map((a) => a.server.name));
    this.cordoned = new Set(memory.cordoned);
    for (const a of members.adoptions) {
      this.actions.push({
        kind: 'adopt',
        name: a.server.name,
        agent: a.agent,
        reason: reason(
          'adopt-legacy',
          `server of an earlier release; agent ${a.agent.name} (id ${a.agent.id}) proves it is ours: marking it with installation ${cfg.installationId}`,
        ),
      });
      this.notes.push(`server ${a.server.name} is adopted this tick; it is not removed before its marker is upgraded`);
    }
  }

  /** Removal stages skip what is being adopted this tick (its marker is upgraded first). */
  private held(name: string): boolean {
    return this.adopting.has(name) || this.cordoned.has(name);
  }

  run(mode: PlanMode): Plan {
    const summary = this.scale(mode);
    if (mode === 'full') {
      this.adminDrains();
      this.cleanupFailedServers();
      this.cleanupDangling();
      this.cleanupStale();
      this.removeDrained();
    }
    return { actions: this.actions, summary, notes: this.notes, foreign: this.foreign };
  }

  /** min-agents in force this tick (a schedule may change it; an exhausted budget makes it 0). */
  private minAgents = 0;

  /** The budget's room for creates, from the ledger kept in memory; undefined without a budget. */
  private budgetRoom(): PlannedBudget | undefined {
    const b = this.cfg.budget;
    if (!b) return undefined;
    const ledger = this.memory.capacity.ledger;
    const others = this.obs.budgetOthers;
    const room = budgetRoom(ledger, this.servers?.length ?? 0, b, others);
    return {
      why: room.why,
      affordable: room.affordable,
      summary: {
        currency: b.currency,
        spentDay: ledger?.spentDay ?? 0,
        spentMonth: ledger?.spentMonth ?? 0,
        ...(b.daily !== undefined ? { daily: b.daily } : {}),
        ...(b.monthly !== undefined ? { monthly: b.monthly } : {}),
        ...(b.pool ? { pool: { ...b.pool } } : {}),
        ...(others ? { others: { spentDay: others.spentDay, spentMonth: others.spentMonth } } : {}),
        room: room.creates === Infinity ? Number.MAX_SAFE_INTEGER : room.creates,
        exhausted: room.exhausted,
      },
    };
  }

  private get isDefault(): boolean {
    return this.cfg.policy === 'default';
  }

  /**
   * Seconds-resolution agent timestamp → ms age, on the Woodpecker server's clock (it stamped the timestamp). The
   * one place the age of a Woodpecker timestamp is computed.
   */
  private ageOf(unixSeconds: number): number {
    return (this.obs.woodpeckerNow ?? this.now) - unixSeconds * 1000;
  }

  /**
   * How long (ms) the agent has been without work: since the later of the end of work its `last_work` implies
   * (`last_work` + LAST_WORK_LAG_MS) and the last observation at which this process saw it run a task.
   * Infinity = it never worked.
   */
  private idleFor(pa: PoolAgent): number {
    const a = pa.agent;
    const sinceLastWork = a.last_work > 0 ? this.ageOf(a.last_work) - LAST_WORK_LAG_MS : Infinity;
    const seen = this.memory.busySeenAt[a.name];
    const sinceSeenBusy = seen !== undefined ? this.now - seen : Infinity;
    return Math.min(sinceLastWork, sinceSeenBusy);
  }

  /**
   * A drained agent that can take work at once and that no later stage removes: it made contact within the
   * inactivity timeout (so it is not stale or never-connected), its server is listed and running (not failed, not
   * missing, not being deleted), and no operator asked to drain it.
   */
  private canReactivate(pa: PoolAgent, adminDrained: ReadonlySet<string>): boolean {
    const a = pa.agent;
    if (!pa.noSchedule || pa.removed || adminDrained.has(a.name)) return false;
    if (a.last_contact === 0 || this.ageOf(a.last_contact) > this.cfg.agentInactivityTimeout) return false;
    return this.servers?.some((s) => s.name === a.name && s.state === 'running') === true;
  }

  private isBooting(pa: PoolAgent): boolean {
    const a = pa.agent;
    if (pa.noSchedule || a.last_contact !== 0) return false;
    // A never-connected agent past the inactivity timeout is stale, not incoming capacity.
    return a.created !== 0 && this.ageOf(a.created) <= this.cfg.agentInactivityTimeout;
  }

  /** upstream isAgentIdle, answered from the queue's running tasks (the executor re-checks before acting). */
  private isIdle(pa: PoolAgent): boolean {
    if (pa.runningTasks > 0) return false;
    if (this.cfg.billingModel === 'hourly') return true;
    return !(this.idleFor(pa) < this.cfg.agentIdleTimeout);
  }

  // ---- stage 1: scale up (reactivate, create) or down (drain) -------------------------------------------------

  private scale(mode: PlanMode): PlanSummary {
    // Several pools: the pool's share of the queue (assignDemand); one pool: the queue (with --filter-labels).
    const demand = this.obs.demand ?? queueDemand(this.obs.queue, this.cfg.filterLabels);
    const activeAgents = this.pool.filter((pa) => !pa.noSchedule);
    const booting = activeAgents.filter((pa) => this.isBooting(pa)).length;
    const budget = this.budgetRoom();
    // Warm capacity is ours (the default policy); an exhausted budget keeps nothing warm and lets min-agents go.
    const warm = this.isDefault ? warmTarget(this.cfg, this.memory.capacity.arrivals, this.now) : undefined;
    const affordable = budget?.affordable ?? Infinity;
    const minAgents = Math.min(affordable, warm?.minAgents ?? this.cfg.minAgents);
    const idleSlots = budget?.summary.exhausted ? 0 : (warm?.idleSlots ?? 0);
    this.minAgents = minAgents;
    const calc = calcDelta(
      {
        ...demand,
        active: activeAgents.length,
        booting,
        idleSlots,
      },
      { ...this.cfg, minAgents },
    );
    const { available } = calc;
    // The budget shrinks the pool to the servers whose next hour it still covers (drains happen in the teardown
    // window, before a renewal).
    const required = Math.min(calc.required, affordable);
    let delta = calc.delta;
    if (required < calc.required && activeAgents.length > affordable) {
      delta = Math.min(delta, Math.max(affordable, minAgents) - activeAgents.length);
      this.notes.push(`the budget covers the next hour of ${affordable} server(s): the pool shrinks to that`);
    } else if (required < calc.required) delta = Math.min(delta, Math.max(0, affordable - activeAgents.length));
    const forWork = Math.ceil((demand.pending + demand.running) / this.cfg.workflowsPerAgent);
    const serverStates = { booting: 0, running: 0, failed: 0, deleting: 0 };
    for (const s of this.servers ?? []) serverStates[s.state]++;
    const summary: PlanSummary = {
      poolAgents: this.pool.length,
      active: activeAgents.length,
      drained: this.pool.length - activeAgents.length,
      booting,
      servers: serverStates,
      freeSlots: demand.free,
      runningTasks: demand.running,
      pendingTasks: demand.pending,
      available,
      required,
      delta,
      desired: activeAgents.length,
      ...(warm && this.cfg.warm ? { warm } : {}),
      ...(budget ? { budget: budget.summary } : {}),
    };

    if (this.memory.paused) {
      if (delta !== 0) this.notes.push(`scaling is paused by an operator; would change the pool by ${delta}`);
      return summary;
    }
    if (delta > 0) {
      summary.desired += this.scaleUp(delta, {
        pending: demand.pending,
        required,
        available,
        forWork,
        warm:
          forWork <= available && idleSlots > 0 && activeAgents.length >= minAgents
            ? { idleSlots, why: warm?.why ?? [] }
            : undefined,
        budget,
      });
    }
    else if (delta < 0 && mode === 'full') {
      summary.desired -= this.drain(-delta, { required, available, budget: activeAgents.length > affordable });
    }
    return summary;
  }

  private scaleUp(
    n: number,
    ctx: {
      pending: number;
      required: number;
      available: number;
      /** Agents the queue alone needs (without warm slots). */
      forWork: number;
      /** Set when the queue alone needs no more agents: the add is for warm capacity. */
      warm?: { idleSlots: number; why: string[] };
      budget?: PlannedBudget;
    },
  ): number {
    const why = ctx.warm
      ? reason(
          'warm-capacity',
          `keeping ${ctx.warm.idleSlots} workflow slot(s) free for the next arrivals` +
            (ctx.warm.why.length > 0 ? ` (${ctx.warm.why.join('; ')})` : ' (min-idle-slots)'),
        )
      : ctx.forWork > ctx.available
        ? reason(
            'pending-work',
            `${ctx.pending} pending workflow(s) need ${ctx.forWork} agent(s), ${ctx.available} available`,
          )
        : reason(
            'min-agents',
            `pool below min-agents ${this.minAgents}` +
              (this.minAgents !== this.cfg.minAgents ? ' (set by a schedule)' : ''),
          );
    const adminDrained = new Set(this.memory.drainRequested);
    // Reactivate drained agents first, but only as many as needed (upstream reactivated all of them), and only live
    // ones (upstream also reactivated dead agents that a later stage then removed).
    let added = 0;
    for (const pa of this.pool) {
      if (added >= n) break;
      if (!this.canReactivate(pa, adminDrained)) continue;
      pa.noSchedule = false;
      this.actions.push({ kind: 'reactivate', agent: ref(pa.agent), reason: why });
      added++;
    }
    let creates = n - added;
    if (creates <= 0) return added;

    if (this.now < this.memory.createBlockedUntil) {
      this.notes.push(
        `create of ${creates} agent(s) held back: ${this.memory.provisionFailures} failed provision(s), ` +
          `back-off for ${roughDuration(this.memory.createBlockedUntil - this.now)} more`,
      );
      return added;
    }
    if (this.now < this.memory.createRateLimitedUntil) {
      this.notes.push(
        `create of ${creates} agent(s) held back: creates wait for the provider's rate limit until ` +
          new Date(this.memory.createRateLimitedUntil).toISOString(),
      );
      return added;
    }
    if (!this.servers) {
      this.notes.push(`create of ${creates} agent(s) held back: the provider server list is unknown, so max-agents cannot be enforced`);
      return added;
    }
    // Both policies: every owned server and every pool agent (drained ones and orphans included) occupies a slot of
    // max-agents, so the number of billed servers never exceeds it.
    const occupied = new Set([...this.pool.map((pa) => pa.agent.name), ...this.servers.map((s) => s.name)]);
    const room = this.cfg.maxAgents - occupied.size;
    // Reactivated agents were already in `occupied`.
    if (creates > room) {
      this.notes.push(
        `create limited to ${Math.max(0, room)} of ${creates}: ${occupied.size} server(s)/agent(s) already ` +
          `count against max-agents ${this.cfg.maxAgents}`,
      );
      creates = Math.max(0, room);
    }
    if (ctx.budget && creates > ctx.budget.summary.room) {
      this.notes.push(`create limited to ${ctx.budget.summary.room} of ${creates} by the ${ctx.budget.why ?? 'budget'}`);
      creates = ctx.budget.summary.room;
    }
    for (let i = 0; i < creates; i++) this.actions.push({ kind: 'create', reason: why });
    return added + creates;
  }

  /**
   * May this agent be drained now? `budget`: the budget does not cover the next hour of every server, so the pool
   * shrinks whether or not the agent works: a busy one is drained too (it takes no new workflow and finishes the ones
   * it runs: running work is never cut, it goes once idle), under hourly billing in the teardown window before its
   * next paid hour (its paid hour is used until then), under per-second billing at once.
   */
  private drainEligible(pa: PoolAgent, budget = false): Reason | undefined {
    const a = pa.agent;
    if (pa.noSchedule || pa.removed || a.last_contact === 0) return undefined;
    if (this.cordoned.has(a.name)) return undefined;
    if (this.isDefault && pa.runningTasks > 0 && !budget) return undefined;
    const busy = pa.runningTasks > 0 ? ` (it finishes its ${pa.runningTasks} running workflow(s) first)` : '';
    if (this.cfg.billingModel === 'hourly') {
      if (!inTeardownWindow(a, this.cfg, this.now)) return undefined;
      if (budget) return reason('budget', `the budget does not cover the agent's next paid hour, which is near${busy}`);
      return reason('billing-window', 'idle capacity, and the agent is in the teardown window before its next paid hour');
    }
    if (budget) return reason('budget', `the budget does not cover the agent's next hour${busy}`);
    const idle = this.idleFor(pa);
    if (idle < this.cfg.agentIdleTimeout) return undefined;
    return reason(
      'idle-timeout',
      idle === Infinity
        ? 'idle capacity, and the agent never ran a workflow'
        : `idle capacity, and no work for ${roughDuration(idle)}`,
    );
  }

  private drain(n: number, ctx: { required: number; available: number; budget: boolean }): number {
    let drained = 0;
    for (let i = 0; i < n; i++) {
      const eligible = this.pool
        .map((pa) => ({ pa, why: this.drainEligible(pa, ctx.budget) }))
        .filter((c): c is { pa: PoolAgent; why: Reason } => c.why !== undefined);
      // For the budget, idle agents first: a busy one is drained only when the idle ones do not shrink the pool enough.
      const candidate = (ctx.budget ? eligible.find((c) => c.pa.runningTasks === 0) : undefined) ?? eligible[0];
      if (!candidate) break;
      const { pa, why } = candidate;
      pa.noSchedule = true;
      pa.drainedNow = true;
      const code = this.pool.filter((x) => !x.noSchedule).length + 1 > this.cfg.maxAgents ? 'above-max-agents' : why.code;
      this.actions.push({
        kind: 'drain',
        agent: ref(pa.agent),
        reason: reason(code, `${why.message} (${ctx.required} agent(s) needed, ${ctx.available} available)`),
      });
      drained++;
    }
    if (drained < n) {
      this.notes.push(`${n - drained} agent(s) could be drained but none more is eligible yet`);
    }
    return drained;
  }

  // ---- admin drains -------------------------------------------------------------------------------------------

  private adminDrains(): void {
    for (const name of this.memory.drainRequested) {
      const pa = this.pool.find((x) => x.agent.name === name);
      if (!pa || pa.noSchedule || pa.removed) continue;
      pa.noSchedule = true;
      pa.drainedNow = true;
      this.actions.push({
        kind: 'drain',
        agent: ref(pa.agent),
        reason: reason('admin-drain', 'an operator asked to drain this agent'),
      });
    }
  }

  // ---- failed servers -----------------------------------------------------------------------------------------

  private cleanupFailedServers(): void {
    for (const s of this.servers ?? []) {
      if (s.state !== 'failed' || this.adopting.has(s.name)) continue;
      const pa = this.pool.find((x) => x.agent.name === s.name && !x.removed);
      const why = reason('server-failed', `the provider reports the server as ${s.status}`);
      if (!pa) {
        this.actions.push({ kind: 'remove-server', name: s.name, reason: why });
        continue;
      }
      if (pa.runningTasks > 0 || this.cordoned.has(pa.agent.name)) {
        this.notes.push(`server ${s.name} is ${s.status} but its agent still runs tasks or is cordoned; kept`);
        continue;
      }
      pa.removed = true;
      this.actions.push({ kind: 'remove-agent', agent: ref(pa.agent), reason: why });
    }
  }

  // ---- stage 2: dangling agents and servers ------------------------------------------------------------------

  private cleanupDangling(): void {
    if (!this.servers) {
      this.notes.push('the provider server list could not be read: dangling clean-up skipped this tick');
      return;
    }
    const grace = this.cfg.danglingGrace;
    const agentNames = new Set(this.pool.map((pa) => pa.agent.name));
    const serverNames = new Set(this.servers.map((s) => s.name));
    const plannedServerRemovals = new Set(this.actions.flatMap((a) => (a.kind === 'remove-server' ? [a.name] : [])));
    for (const s of this.servers) {
      if (agentNames.has(s.name) || s.state === 'deleting' || plannedServerRemovals.has(s.name) || this.adopting.has(s.name)) {
        continue;
      }
      if (this.now - s.createdAt < grace) {
        this.notes.push(`server ${s.name} has no agent yet, but is younger than the grace period; kept`);
        continue;
      }
      this.actions.push({
        kind: 'remove-server',
        name: s.name,
        reason: reason('agent-missing', 'server exists, but no agent with its name is registered on Woodpecker'),
      });
    }
    for (const pa of this.pool) {
      if (pa.removed || serverNames.has(pa.agent.name)) continue;
      const a = pa.agent;
      const born = a.created || a.last_contact;
      if (born !== 0 && this.ageOf(born) < grace) continue;
      if (pa.runningTasks > 0) {
        this.notes.push(`agent ${a.name} has no server but runs ${pa.runningTasks} task(s); kept`);
        continue;
      }
      if (this.held(a.name)) continue;
      pa.removed = true;
      this.actions.push({
        kind: 'delete-agent',
        agent: ref(a),
        reason: reason('server-missing', 'agent is registered, but its server is gone on the provider'),
      });
    }
  }

  // ---- stage 3: stale agents ---------------------------------------------------------------------------------

  private cleanupStale(): void {
    for (const pa of this.pool) {
      if (pa.removed || pa.noSchedule || this.held(pa.agent.name)) continue;
      const a = pa.agent;
      const lc = a.last_contact !== 0 ? a.last_contact : a.created;
      if (!(this.ageOf(lc) > this.cfg.agentInactivityTimeout)) continue;
      if (!this.isIdle(pa)) {
        this.notes.push(`agent ${a.name} is stale but still processing workload; kept`);
        continue;
      }
      pa.removed = true;
      this.actions.push({
        kind: 'remove-agent',
        agent: ref(a),
        reason: reason(
          a.last_contact === 0 ? 'never-connected' : 'stale',
          a.last_contact === 0
            ? `agent never connected within ${roughDuration(this.cfg.agentInactivityTimeout)} of its creation`
            : `no contact for ${roughDuration(this.ageOf(a.last_contact))}`,
        ),
      });
    }
  }

  // ---- stage 4: drained agents --------------------------------------------------------------------------------

  private removeDrained(): void {
    for (const pa of this.pool) {
      if (pa.removed || !pa.noSchedule || this.held(pa.agent.name)) continue;
      // Default policy: remove only agents that were already drained when observed, so no task can have been
      // assigned between the drain and the removal. Upstream removes in the same tick.
      if (this.isDefault && pa.drainedNow) continue;
      const a = pa.agent;
      if (this.cfg.billingModel === 'hourly' && !inTeardownWindow(a, this.cfg, this.now)) continue;
      if (!this.isIdle(pa)) {
        if (pa.runningTasks > 0) this.notes.push(`drained agent ${a.name} is still processing workload; kept`);
        continue;
      }
      pa.removed = true;
      this.actions.push({
        kind: 'remove-agent',
        agent: ref(a),
        reason: reason('drained', 'drained and idle'),
      });
    }
  }
}
