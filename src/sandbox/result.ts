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
  series: SimulationSeries;
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
