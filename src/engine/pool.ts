import type { RandomFn } from '../util/clock.js';

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
