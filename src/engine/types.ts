import type { BillingModel, ProviderServer } from '../providers/types.js';
import type { QueueInfo, WoodpeckerAgent } from '../woodpecker/types.js';
import type { Demand } from './demand.js';
import type { ForeignResource } from './pool.js';
import type { BudgetSettings, OtherPoolsSpend } from './budget.js';
import { initialCapacity, type CapacityMemory, type WarmSettings } from './capacity.js';

/**
 * `upstream` reproduces woodpecker-ci/autoscaler's decisions (with the safety fixes every policy gets);
 * `default` adds ours: booting agents count as incoming capacity and a fast queue poll triggers scale-up between
 * reconciles. Both count every owned server against max-agents.
 */
export type Policy = 'default' | 'upstream';

export interface EngineConfig {
  policy: Policy;
  poolId: string;
  /** Names this installation in markers and agent-name tags (explicit, or derived from the server URL + pool id). */
  installationId: string;
  minAgents: number;
  maxAgents: number;
  workflowsPerAgent: number;
  /** All durations in milliseconds. */
  reconciliationInterval: number;
  agentInactivityTimeout: number;
  agentIdleTimeout: number;
  agentBillingTeardownMargin: number;
  /** Anything (agent or server) younger than this is never treated as dangling. */
  danglingGrace: number;
  billingModel: BillingModel;
  /** Go autoscaler 1.5.0 `--filter-labels`: count only queue tasks with this label (see demand.ts). */
  filterLabels?: { key: string; value: string };
  /** Warm capacity (default policy only): idle slots, schedules, forecast. Undefined = none. */
  warm?: WarmSettings;
  /** Spend caps and the server price (both policies). Undefined = no cap. */
  budget?: BudgetSettings;
}

/** What one tick observed. `servers` is undefined when the provider list could not be read. */
export interface Observation {
  /** unix ms */
  now: number;
  /**
   * The Woodpecker server's clock at the observation (unix ms), estimated from its `Date` header; agent ages are
   * measured against it (a daemon clock ahead or behind does not make agents look stale or never-connected).
   * Undefined when the server sent no `Date` header: ages use `now`.
   */
  woodpeckerNow?: number;
  /** Every agent on the server (all pages); the planner picks the pool's own. */
  agents: readonly WoodpeckerAgent[];
  queue: QueueInfo;
  servers: readonly ProviderServer[] | undefined;
  /** Servers with the current release's marker (no installation id): adopted only with proof (pool.ts). */
  legacyServers?: readonly ProviderServer[] | undefined;
  /** Servers named like the pool that the provider knows are not ours (another installation, no marker…). */
  foreignServers?: readonly ForeignResource[] | undefined;
  /**
   * This pool's share of the queue when several pools share the server (`assignDemand` in pool-demand.ts: its
   * pending tasks, the running tasks and free slots of its own agents). Undefined: the queue's numbers
   * (`queueDemand`, with `--filter-labels`).
   */
  demand?: Demand | undefined;
  /**
   * Several pools: the other pools' spend and next-hour reservations, counted against the daemon-wide budget caps
   * (`PoolSet` fills it in before each pool's tick). Undefined: one pool, the daemon's caps are this pool's.
   */
  budgetOthers?: OtherPoolsSpend | undefined;
  /**
   * Several pools: the queue's tasks that are this pool's (its share of the pending work, the tasks its free slots
   * take and the tasks its agents run), for the forecast's arrival count. Undefined: the whole queue.
   */
  ownTasks?: Pick<QueueInfo, 'pending' | 'waiting_on_deps' | 'running'> | undefined;
}

/** State the engine carries between ticks (admin controls and back-off). Plain data, replaced, never mutated. */
export interface EngineMemory {
  /** Admin pause: no scale-up or scale-down decisions; clean-up of orphans still runs. */
  paused: boolean;
  /** Agent names an admin cordoned: never drained or removed by scaling. */
  cordoned: readonly string[];
  /** Agent names an admin asked to drain now. */
  drainRequested: readonly string[];
  /** Consecutive failed provisions (deploy errors, servers that ended `failed`, agents that never connected). */
  provisionFailures: number;
  /** unix ms until which no new server is created (back-off after failures). */
  createBlockedUntil: number;
  /** unix ms of the last failed provision (0 = none). */
  lastFailureAt: number;
  /** unix ms until which no server is created: the provider's rate limit (Retry-After) refused a create. */
  createRateLimitedUntil: number;
  /**
   * Per pool agent name: the last observation time (unix ms, this process's clock) at which the agent had a
   * running task in the queue. Idle time counts from the later of this and the end of work `last_work` implies.
   */
  busySeenAt: Readonly<Record<string, number>>;
  /** Agents of an earlier release proven ours (adopted) while this process ran: ours even when the list fails. */
  adopted: readonly AgentRef[];
  /** Arrival history (forecast) and the spend ledger (budget). */
  capacity: CapacityMemory;
}

export const initialMemory: EngineMemory = {
  paused: false,
  cordoned: [],
  drainRequested: [],
  provisionFailures: 0,
  createBlockedUntil: 0,
  lastFailureAt: 0,
  createRateLimitedUntil: 0,
  busySeenAt: {},
  adopted: [],
  capacity: initialCapacity,
};

/** Machine-readable reasons. Every action carries one, plus a human sentence. */
export type ReasonCode =
  | 'pending-work' // queue needs more slots than available
  | 'min-agents' // pool below min-agents (or a schedule's)
  | 'warm-capacity' // fewer free slots than min-idle-slots / a schedule / the forecast asks for
  | 'excess-capacity' // more slots than work
  | 'above-max-agents' // pool above max-agents
  | 'idle-timeout' // per-second billing: idle long enough
  | 'billing-window' // hourly billing: in the teardown window before the next paid hour
  | 'budget' // the budget does not cover the next hour of every server: the pool shrinks (running work finishes)
  | 'drained' // drained agent with no running tasks
  | 'admin-drain' // operator asked for it
  | 'stale' // no contact for agent-inactivity-timeout
  | 'never-connected' // created, but never contacted the server within agent-inactivity-timeout
  | 'server-missing' // agent registered, but its server is gone on the provider
  | 'agent-missing' // server exists, but no agent with its name on Woodpecker
  | 'server-failed' // provider reports the server as failed (blocked, unpaid, …)
  | 'adopt-legacy'; // a server of an earlier release, proven ours by its agent: its marker gets the installation id

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface AgentRef {
  id: number;
  name: string;
}

export type Action =
  /** Register an agent on Woodpecker, then create its server. The executor picks the name. */
  | { kind: 'create'; reason: Reason }
  /** PATCH no_schedule=false on a drained agent. */
  | { kind: 'reactivate'; agent: AgentRef; reason: Reason }
  /** PATCH no_schedule=true. */
  | { kind: 'drain'; agent: AgentRef; reason: Reason }
  /**
   * Drain the agent, re-check its tasks, delete it (Woodpecker refuses while it runs tasks), then remove its server;
   * only when it has no running tasks.
   */
  | { kind: 'remove-agent'; agent: AgentRef; reason: Reason }
  /** Remove a server that has no agent (never touches anything without our markers: the provider guarantees it). */
  | { kind: 'remove-server'; name: string; reason: Reason }
  /** Delete an agent whose server is gone; only when it has no running tasks. */
  | { kind: 'delete-agent'; agent: AgentRef; reason: Reason }
  /** Upgrade an earlier release's server marker to this installation's (the agent proves the server is ours). */
  | { kind: 'adopt'; name: string; agent: AgentRef; reason: Reason };

export type ActionKind = Action['kind'];

/** The numbers behind a plan, for logs, metrics and the status page. */
export interface PlanSummary {
  poolAgents: number;
  /** Pool agents that are schedulable (not drained). */
  active: number;
  drained: number;
  /** Pool agents that never contacted the server yet (booting). */
  booting: number;
  /** Owned servers by state. */
  servers: Record<'booting' | 'running' | 'failed' | 'deleting', number>;
  freeSlots: number;
  runningTasks: number;
  pendingTasks: number;
  /** ceil((free+running)/WPA) [+ booting agents in the default policy] */
  available: number;
  required: number;
  /** Positive: agents to add; negative: agents to drain. */
  delta: number;
  /** Agents the pool should have after this tick. */
  desired: number;
  /** Warm capacity in force (default policy), when configured. */
  warm?: { minAgents: number; idleSlots: number; why: string[] };
  /** Spend and caps, when a budget is configured. */
  budget?: {
    currency: string;
    spentDay: number;
    spentMonth: number;
    daily?: number;
    monthly?: number;
    /** Several pools: this pool's own caps (the caps above are the whole daemon's). */
    pool?: { daily?: number; monthly?: number };
    /** Several pools: the other pools' spend (counted against the daemon's caps above). */
    others?: { spentDay: number; spentMonth: number };
    /** New servers the caps allow now. */
    room: number;
    exhausted: boolean;
  };
}

export interface Plan {
  actions: Action[];
  summary: PlanSummary;
  /** Look-alikes: named like this pool but not provably this installation's. Never drained, deleted or counted. */
  foreign: ForeignResource[];
  /** Sentences explaining decisions that produced no action (e.g. "create held back: back-off until …"). */
  notes: string[];
}

/** `full` = every stage; `scale-up` = the fast queue poll path, which only adds capacity. */
export type PlanMode = 'full' | 'scale-up';
