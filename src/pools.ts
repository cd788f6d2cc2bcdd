import { assembleEngine, type Assembled, type AssembleOptions } from './assemble.js';
import type { PoolConfig } from './config/pools-file.js';
import { poolsLeaseId } from './engine/identity.js';
import { poolAgentLabels } from './engine/labels.js';
import { runLoop } from './engine/loop.js';
import { PoolSet, type PoolSetReport } from './engine/pools.js';
import type { Clock } from './util/clock.js';
import type { Logger } from 'pino';
import type { EventStreamState } from './woodpecker/events.js';

/**
 * Several pools in one daemon (`--pools-file`): one provider and one Reconciler per pool (its own settings, its
 * agent-labels in its agents' WOODPECKER_AGENT_LABELS, its own installation id and so its own ownership markers),
 * ONE Woodpecker client and ONE cloud API client (their rate limits are shared) and ONE lease, named by
 * `poolsLeaseId` whatever the pools' order, so one instance acts for all pools. The first pool's event stream and
 * wake serve all.
 */
export interface AssembledPools {
  /** One per pool, in file order; each shares the first one's `woodpecker`, `lease` and cloud API client. */
  pools: Assembled[];
  /** The installation id the one lease is named after (`poolsLeaseId`). */
  leaseId: string;
  set: PoolSet;
  /** The first pool's: the shared client, lease, queue poll, event stream and wake. */
  first: Assembled;
  /** The pools' configurations, in the same order. */
  configs: readonly PoolConfig[];
}

export async function assemblePools(
  opts: Omit<AssembleOptions, 'core' | 'values' | 'shared'> & { pools: readonly PoolConfig[] },
): Promise<AssembledPools> {
  const head = opts.pools[0];
  if (!head) throw new Error('no pool to assemble');
  const explicit = head.values.installationId;
  const leaseId = poolsLeaseId(typeof explicit === 'string' ? explicit.trim() : '', head.core.serverUrl);
  const pools: Assembled[] = [];
  for (const p of opts.pools) {
    const first = pools[0];
    pools.push(
      await assembleEngine({
        ...opts,
        core: p.core,
        values: p.values,
        logger: opts.logger.child({ pool: p.id }),
        ...(first ? { shared: { woodpecker: first.woodpecker, lease: first.lease, provider: first.provider } } : { leaseId }),
      }),
    );
  }
  const first = pools[0];
  if (!first) throw new Error('no pool to assemble');
  const set = new PoolSet({
    pools: pools.map((a, i) => ({
      reconciler: a.reconciler,
      labels: poolAgentLabels(opts.pools[i]?.core.agentLabels ?? {}),
      pricePerHour: a.provider.price?.()?.perHour ?? Infinity,
    })),
    woodpecker: first.woodpecker,
    lease: first.lease,
    clock: opts.clock,
    logger: opts.logger,
  });
  return { pools, leaseId, set, first, configs: opts.pools };
}

/** The daemon loop over every pool until `signal` aborts; then the one lease is released. */
export async function runPools(
  a: AssembledPools,
  opts: { clock: Clock; logger: Logger; signal: AbortSignal; onEventStream?: (s: EventStreamState) => void },
): Promise<void> {
  const stream = a.first.events?.(opts.signal, opts.onEventStream);
  await runLoop({
    reconciler: a.set,
    woodpecker: a.first.woodpecker,
    clock: opts.clock,
    logger: opts.logger,
    interval: a.first.engine.reconciliationInterval,
    queuePollInterval: a.first.queuePollInterval,
    signal: opts.signal,
    wake: a.first.wake,
  });
  await stream;
  await a.first.lease.release();
}

/** `--once` with several pools: one full reconcile of every pool, then the lease is released. */
export async function tickPoolsOnce(a: AssembledPools): Promise<PoolSetReport> {
  try {
    return await a.set.tick('full');
  } finally {
    await a.first.lease.release();
  }
}
