import type { ActionResult } from './executor.js';
import type { EngineMemory, Observation } from './types.js';
import { poolMembership, runningTasksByAgent } from './pool.js';
import type { PoolIdentity } from './pool.js';

export const BACKOFF_BASE_MS = 15_000;
export const BACKOFF_MAX_MS = 15 * 60_000;

/** Back-off after `failures` consecutive failed provisions: 15 s, 30 s, 1 m, … up to 15 m. */
export function backoffFor(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
}

/** Is this result evidence that provisioning is broken (bad preset, broken user-data, unpaid account…)? */
function isProvisionFailure(r: ActionResult): boolean {
  if (r.action.kind === 'create') return r.outcome === 'failed';
  if (r.outcome !== 'done') return false;
  if (r.action.reason.code === 'server-failed') return true;
  // An agent that never connected: its server booted (or not) but the agent never came up.
  return r.action.reason.code === 'never-connected';
}

/**
 * The memory after a tick: failures extend the create back-off; an agent of the pool that made contact after it
 * was created proves provisioning works again and resets it. A create the provider's rate limit refused holds
 * creates until its Retry-After (no back-off: it is not a failure). Pool agents seen running a task get this
 * observation's time as their `busySeenAt`. Admin drain requests and `busySeenAt` entries are forgotten once the
 * agent is gone. Pure.
 */
export function nextMemory(
  memory: EngineMemory,
  obs: Observation,
  results: readonly ActionResult[],
  id: PoolIdentity,
): EngineMemory {
  let failures = memory.provisionFailures;
  let { createBlockedUntil, lastFailureAt } = memory;
  const members = poolMembership(obs, id, memory.adopted);
  const pool = members.agents;
  // Success evidence: an agent created after the last failure has connected.
  if (failures > 0 && pool.some((a) => a.last_contact !== 0 && a.created * 1000 >= lastFailureAt)) {
    failures = 0;
    createBlockedUntil = 0;
  }
  const newFailures = results.filter(isProvisionFailure).length;
  if (newFailures > 0) {
    failures += newFailures;
    lastFailureAt = obs.now;
    createBlockedUntil = obs.now + backoffFor(failures);
  }
  let createRateLimitedUntil = memory.createRateLimitedUntil;
  for (const r of results) {
    if (r.rateLimitedUntil !== undefined) createRateLimitedUntil = Math.max(createRateLimitedUntil, r.rateLimitedUntil);
  }
  const names = new Set(pool.map((a) => a.name));
  const drainRequested = memory.drainRequested.filter((n) => names.has(n));
  const running = runningTasksByAgent(obs.queue.running);
  const busySeenAt: Record<string, number> = {};
  for (const a of pool) {
    const seen = (running.get(a.id) ?? 0) > 0 ? obs.now : memory.busySeenAt[a.name];
    if (seen !== undefined) busySeenAt[a.name] = seen;
  }
  // Adopted agents stay ours while they exist (proof survives a failed provider list and a half-done removal).
  const present = new Set(obs.agents.map((a) => `${a.id} ${a.name}`));
  const adopted = [...memory.adopted, ...members.proven].filter(
    (a, i, all) => present.has(`${a.id} ${a.name}`) && all.findIndex((b) => b.id === a.id && b.name === a.name) === i,
  );
  return {
    ...memory,
    adopted,
    provisionFailures: failures,
    createBlockedUntil,
    lastFailureAt,
    createRateLimitedUntil,
    drainRequested,
    busySeenAt,
  };
}
