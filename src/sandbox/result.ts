import type { Policy } from '../engine/types.js';
import type { BillingModel } from '../providers/types.js';

/** What one simulation run measured. All times are ms unless the name says otherwise. JSON-safe. */
export interface SimulationResult {
  /** Name of the run in comparisons (`default`, `upstream`, a config file name…). */
  label: string;
  policy: Policy;
  seed: number;
  workload: { name: string; workflows: number; spanMs: number };
  /** The settings that shape the result, for the report header. */
  settings: Record<string, string | number | boolean>;
  /** unix ms of the simulated start (virtual) */
  startedAt: number;
  /** simulated time covered, ms */
  simulatedMs: number;
  /** wall-clock time the simulation took, ms (undefined when not measured) */
  wallMs?: number;
  workflows: {
    queued: number;
    completed: number;
    /** still queued or running at the end */
    unfinished: number;
    /** started more than once (their agent died) */
    restarted: number;
  };
  /** Time from queued to started (last start); workflows that never started count with their wait so far. */
  queueWait: { p50: number; p95: number; max: number; mean: number };
  vms: {
    created: number;
    /** most servers alive at once */
    peak: number;
    /** server-hours alive */
    hours: number;
    /** servers whose agent connected */
    withAgent: number;
    /** servers that never got an agent (never booted, broken user-data, deleted while booting) */
    withoutAgent: number;
    /** create → agent connected, p50 / p95 */
    bootP50: number;
    bootP95: number;
  };
  cost: {
    total: number;
    /** total ÷ completed workflows (0 when none completed) */
    perWorkflow: number;
    currency: string;
    billing: BillingModel;
    perHour: number;
    /** what the price is for (preset) */
    description: string;
  };
  /** Left over when the run ended (after the tail). */
  leftover: {
    servers: number;
    serversWithoutAgent: number;
    agentsWithoutServer: number;
    unattachedFloatingIps: number;
    foreignTouched: string[];
  };
  /** Requests per endpoint (`woodpecker GET /api/agents`, `timeweb POST /api/v1/servers`…). */
  apiCalls: Record<string, number>;
  /** Actions done, by `kind reason` (e.g. `create pending-work`). */
  actions: Record<string, number>;
  /** Actions that failed or were skipped, by `kind outcome`. */
  actionProblems: Record<string, number>;
  ticks: { full: number; scaleUp: number; withErrors: number };
  /** One entry per pool that ran (one without a pools file), in pool order; VMs and cost add up to the totals. */
  pools: PoolFigures[];
  /** Workflows by label class (their labels without `repo` and `org-id`), sorted by class. */
  labelClasses: LabelClassFigures[];
  /** Workflows that no pool of the run can run (no pool's agent labels match theirs): they never start. */
  unservable: number;
  series: SimulationSeries;
}

/** What one pool did in a run. */
export interface PoolFigures {
  id: string;
  /** The pool's agent-labels (`size=large`), '' for none. */
  agentLabels: string;
  /** Servers this pool created (named by it, proven by its installation tag). */
  vmsCreated: number;
  /** Server-hours alive, exact. */
  vmHours: number;
  /** What its servers cost at its own price and billing model. */
  cost: number;
  perHour: number;
  billing: BillingModel;
  /** What the price is for (the pool's preset), or `--price-per-hour`. */
  priceDescription: string;
  /**
   * Servers created for pending work its agents cannot run: in each tick that counted such work, the creates beyond
   * what the same plan without that work would have made (after reactivations).
   */
  vmsForWorkItCannotRun: number;
}

/** The workflows of one label class. */
export interface LabelClassFigures {
  /** `size=small`, or '' for workflows without labels (besides repo/org-id). */
  labels: string;
  queued: number;
  /** Finished runs (success or failure). */
  completed: number;
  /** Still queued, waiting or running at the end. */
  unfinished: number;
  /** Queued → started, p95 over the workflows that started; null when none started. */
  waitP95: number | null;
  /** No pool of the run can run them. */
  unservable: number;
}

/** Samples over time (all arrays the same length). */
export interface SimulationSeries {
  /** seconds since the start */
  t: number[];
  pending: number[];
  running: number[];
  booting: number[];
  idle: number[];
  busy: number[];
  drained: number[];
  lost: number[];
  servers: number[];
  /** cumulative cost in `cost.currency` */
  cost: number[];
}
