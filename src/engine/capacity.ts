import { updateLedger, type BudgetSettings, type Ledger } from './budget.js';
import { emptyHistory, forecastSlots, observeArrivals, type ArrivalHistory } from './forecast.js';
import { scheduledSettings, type Schedule } from './schedule.js';
import type { Observation } from './types.js';

/**
 * Warm capacity: how many agents and free workflow slots the pool keeps ready beyond its queue at a given moment,
 * from the configured floor (`--min-agents`, `--min-idle-slots`), the schedules in force, and the forecast from
 * recent arrivals. Pure.
 */

export interface ForecastSettings {
  /** Arrivals are counted over this window (ms). */
  windowMs: number;
  /** One boot time (ms): keep slots for the arrivals expected within it. */
  horizonMs: number;
}

export interface WarmSettings {
  minIdleSlots: number;
  schedules: readonly Schedule[];
  timeZone: string;
  /** Undefined = no forecast. */
  forecast?: ForecastSettings;
}

export interface WarmTarget {
  minAgents: number;
  idleSlots: number;
  /** Why, for reasons and the status page: the schedules in force and the forecast's share. */
  why: string[];
}

/** The warm target at `now`: schedules override the floor; the forecast adds slots on top of the idle floor. */
export function warmTarget(
  cfg: { minAgents: number; maxAgents: number; workflowsPerAgent: number; warm?: WarmSettings },
  history: ArrivalHistory,
  now: number,
): WarmTarget {
  const warm = cfg.warm;
  if (!warm) return { minAgents: cfg.minAgents, idleSlots: 0, why: [] };
  const why: string[] = [];
  const s = scheduledSettings(warm.schedules, now, warm.timeZone);
  for (const text of s.active) why.push(`schedule "${text}"`);
  const minAgents = Math.min(cfg.maxAgents, s.minAgents ?? cfg.minAgents);
  let idleSlots = s.minIdleSlots ?? warm.minIdleSlots;
  if (warm.forecast) {
    const f = forecastSlots(history, now, warm.forecast.windowMs, warm.forecast.horizonMs, cfg.maxAgents * cfg.workflowsPerAgent);
    if (f > idleSlots) {
      why.push(`forecast: ${f} slot(s) cover the arrivals of one boot time 9 times in 10`);
      idleSlots = f;
    }
  }
  return { minAgents, idleSlots, why };
}

/** The part of the engine memory that warm capacity and the budget keep between ticks. */
export interface CapacityMemory {
  arrivals: ArrivalHistory;
  /** Undefined until the first observation with a server list (or without a price). */
  ledger?: Ledger;
}

export const initialCapacity: CapacityMemory = { arrivals: emptyHistory };

/**
 * Capacity memory after a tick: arrivals from the queue this tick observed; the ledger from the pool's servers as
 * they stand after the tick's actions (so a server created now is charged now).
 */
export function nextCapacity(
  prev: CapacityMemory,
  observed: Pick<Observation, 'queue' | 'now' | 'ownTasks'>,
  after: Pick<Observation, 'servers' | 'now'>,
  cfg: { billingModel: Parameters<typeof updateLedger>[3]; warm?: WarmSettings; budget?: BudgetSettings },
): CapacityMemory {
  const windowMs = cfg.warm?.forecast?.windowMs;
  // Several pools: only this pool's own work counts as its arrivals.
  const tasks = observed.ownTasks ?? observed.queue;
  const arrivals = windowMs ? observeArrivals(prev.arrivals, tasks, observed.now, windowMs) : prev.arrivals;
  const ledger =
    cfg.budget && after.servers ? updateLedger(prev.ledger, after.servers, after.now, cfg.billingModel, cfg.budget) : prev.ledger;
  return { arrivals, ...(ledger ? { ledger } : {}) };
}
