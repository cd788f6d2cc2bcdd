import { parsePoolsFile } from '../../src/config/pools-file.js';
import type { OptionValues } from '../../src/config/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { assemblePools, type AssembledPools } from '../../src/pools.js';
import { sandboxValues } from '../../src/sandbox/engine.js';
import { drive } from '../../src/sandbox/simulate.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld, type World } from '../../src/sandbox/world.js';
import { seededRandom } from '../../src/util/clock.js';

/**
 * Several pools of one daemon (assemblePools, as `runPoolsDaemon` builds them) against the simulated world in virtual
 * time: boots of 60 s + 20 s, agents that never die, one workflow per agent, per-second billing, min-agents 0.
 */

export const S = 1000;
export const M = 60 * S;
export const H = 60 * M;

export function newWorld(): { clock: VirtualClock; world: World } {
  const clock = new VirtualClock();
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(5),
    grpcAddr: 'woodpecker-server:9000',
    bootDelay: 60 * S,
    agentStartDelay: 20 * S,
    agentDeathAfter: { min: 1000 * H, max: 1000 * H },
    track: (p) => clock.track(p),
  });
  return { clock, world };
}

const BASE: OptionValues = { minAgents: 0, workflowsPerAgent: 1, timewebcloudBilling: 'per-second', agentIdleTimeout: 5 * M };

/** The pools of a pools file `text` over the base settings and `user`, assembled against `world`. */
export async function assemblePoolsText(
  clock: VirtualClock,
  world: World,
  text: string,
  user: OptionValues = {},
  seed = 9,
): Promise<AssembledPools> {
  const pools = parsePoolsFile(text, 'pools.yaml', sandboxValues(world, { ...BASE, ...user }), { core: { requireServer: false } });
  return drive(clock, assemblePools({ pools, clock, fetch: world.fetch, random: seededRandom(seed), logger: silentLogger() }));
}

/** Agent and server names of a pool (the engine's own name pattern: the fake account holds only this installation's). */
export const isPool =
  (pool: string) =>
  (name: string): boolean =>
    name.startsWith(`pool-${pool}-agent-`);
/** Live servers of a pool. */
export const live = (world: World, pool: string): number => world.timeweb.servers().filter((s) => isPool(pool)(s.name)).length;
/** Servers a pool created during the run. */
export const created = (world: World, pool: string): number => world.vms().filter((v) => isPool(pool)(v.name)).length;
