import type { PoolConfig } from '../config/pools-file.js';
import type { OptionValue, OptionValues } from '../config/types.js';
import type { Policy } from '../engine/types.js';

/**
 * The label-blind pool of `simulate --pools-file F --compare default|upstream` and `npm run bench:labels`: what one
 * autoscaler does today in place of the pools — one pool that counts the whole queue, whatever its labels.
 */

/** The pool id of the label-blind pool (its servers are `pool-blind-agent-…`). */
export const LABEL_BLIND_POOL_ID = 'blind';

/**
 * One pool with the first pool's settings (its agent-labels, machine, workflows per agent, billing, timeouts), as
 * many agents as all pools together (min-agents and max-agents are the sums), `policy`, and no pools file: it
 * counts every pending workflow, also those its agents cannot run.
 */
export function labelBlindValues(pools: readonly PoolConfig[], policy: Policy): OptionValues {
  const first = pools[0];
  if (!first) throw new Error('a label-blind pool needs the pools it stands for');
  const out: Record<string, OptionValue | undefined> = { ...first.values };
  delete out.poolsFile;
  out.poolId = LABEL_BLIND_POOL_ID;
  out.policy = policy;
  out.minAgents = pools.reduce((n, p) => n + p.core.minAgents, 0);
  out.maxAgents = pools.reduce((n, p) => n + p.core.maxAgents, 0);
  return out;
}

/** What the label-blind pool stands for, for the report's settings. */
export function describeLabelBlind(pools: readonly PoolConfig[]): string {
  const ids = pools.map((p) => p.id).join(', ');
  return `one pool counting the whole queue in place of ${ids}: ${pools[0]?.id ?? '?'}'s settings, min/max agents summed`;
}
