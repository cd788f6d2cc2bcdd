import type { RandomFn } from '../util/clock.js';
import type { WoodpeckerTask } from '../woodpecker/types.js';

/** Escapes a string for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The names of this pool's agents and servers: `pool-<id>-agent-<suffix>`. Anchored and escaped (upstream used an
 * unanchored, unescaped substring match, so `x-pool-1-agent-y` and pool `1-agent`'s agents matched pool `1`).
 */
export function poolNamePattern(poolId: string): RegExp {
  return new RegExp(`^pool-${escapeRegExp(poolId)}-agent-[A-Za-z0-9]+$`);
}

/** Running tasks per agent id (tasks not assigned to an agent, `agent_id` 0, are not counted). */
export function runningTasksByAgent(running: readonly Pick<WoodpeckerTask, 'agent_id'>[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of running) if (t.agent_id) counts.set(t.agent_id, (counts.get(t.agent_id) ?? 0) + 1);
  return counts;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** n letters from a–zA–Z, like upstream's utils.RandomString. */
export function randomLetters(n: number, random: RandomFn): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[Math.floor(random() * LETTERS.length)] ?? 'a';
  return s;
}

/**
 * A new agent name that collides with none of `taken`. Four letters like upstream; after a few collisions the
 * suffix grows, so a crowded pool can never loop forever.
 */
export function newAgentName(poolId: string, random: RandomFn, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const name = `pool-${poolId}-agent-${randomLetters(4 + Math.floor(attempt / 8), random)}`;
    if (!taken.has(name)) return name;
  }
}
