import { validateTemplate } from '../cloudinit/render.js';
import type { PoolConfig } from '../config/pools-file.js';
import { formatDuration } from '../config/duration.js';
import { ineffectiveSettings } from '../config/no-effect.js';
import { formatLabels } from '../engine/labels.js';
import type { PoolSetReport } from '../engine/pools.js';
import { assemblePools, runPools, tickPoolsOnce } from '../pools.js';
import { systemClock, type FetchFn } from '../util/clock.js';
import { probeGrpcAddr } from './grpc-probe.js';
import { describeReport, ledgerStoreFor, loggerFor, stopOnSignals, type DaemonHooks } from './run.js';
import { VERSION } from './version.js';

/** `--once` output of several pools: each pool's lines under its id, then the work no pool can run. */
export function describePoolsReport(report: PoolSetReport, ids: readonly string[]): string[] {
  const lines: string[] = [];
  report.reports.forEach((r, i) => {
    lines.push(`[pool ${ids[i] ?? String(i + 1)}]`);
    for (const l of describeReport(r)) lines.push(`  ${l}`);
  });
  for (const g of report.unservable) {
    lines.push(`unservable: ${g.taskIds.length} pending task(s) with labels ${formatLabels(g.labels) || '(none)'}: no pool or agent matches`);
  }
  return lines;
}

/**
 * The daemon with several pools (`--pools-file`): the start-up checks of every pool, then one loop over all pools
 * (see src/pools.ts). The status page, `status`, `decisions`, metrics and `/readyz` cover every pool
 * (src/observability/pools.ts). Returns the exit code.
 */
export async function runPoolsDaemon(pools: readonly PoolConfig[], hooks: DaemonHooks, fetchFn: FetchFn): Promise<number> {
  const first = pools[0];
  if (!first) return 2;
  const logger = loggerFor(first.core);
  logger.info({ version: VERSION }, `starting twcloud-scaler version '${VERSION}'`);
  for (const w of hooks.warnings ?? []) logger.warn(w);
  for (const p of pools) if (p.core.cloudinitTemplate !== '') validateTemplate(p.core.cloudinitTemplate);
  const a = await assemblePools({
    pools,
    clock: systemClock,
    fetch: fetchFn,
    random: Math.random,
    logger,
    onRequest: hooks.onRequest,
    ledgerStore: ledgerStoreFor(pools.map((p) => p.core), logger),
  });
  a.pools.forEach((x, i) => {
    const p = pools[i];
    if (!p) return;
    logger.info(
      {
        pool: x.engine.poolId,
        installation: x.engine.installationId,
        min: x.engine.minAgents,
        max: x.engine.maxAgents,
        labels: formatLabels(p.core.agentLabels) || '(none)',
        billing: x.engine.billingModel,
      },
      `pool ${x.engine.poolId} (${p.origin}): only servers, IPs and agents proven to be this installation's are ever touched`,
    );
    for (const w of ineffectiveSettings(p.values, p.core, x.engine.billingModel)) logger.warn({ pool: p.id }, w);
  });
  if (hooks.grpcProbe !== false) {
    for (const w of await (hooks.grpcProbe ?? probeGrpcAddr)(first.core.grpcAddr)) logger.warn({ grpcAddr: first.core.grpcAddr }, w);
  }
  const head = a.first;
  const stopExtras = hooks.start
    ? await hooks.start({ reconciler: head.reconciler, provider: head.provider, core: first.core, logger, pools: a })
    : undefined;
  try {
    if (first.core.once) {
      const report = await tickPoolsOnce(a);
      for (const line of describePoolsReport(report, pools.map((p) => p.id))) process.stdout.write(`${line}\n`);
      return report.ok && report.lease?.role !== 'standby' ? 0 : 1;
    }
    const stop = stopOnSignals(logger);
    logger.info(
      {
        policy: head.engine.policy,
        pools: pools.map((p) => p.id),
        lease: a.leaseId,
        leaseFrom:
          String(first.values.installationId ?? '').trim() !== ''
            ? 'set with --installation-id'
            : 'derived from --server-url (whatever the pools; a second daemon with a pools file on this server needs its own --installation-id)',
        interval: formatDuration(head.engine.reconciliationInterval),
        queuePoll: head.queuePollInterval > 0 ? formatDuration(head.queuePollInterval) : 'off',
        dryRun: first.core.dryRun,
      },
      `autoscaler running with ${pools.length} pools`,
    );
    await runPools(a, { clock: systemClock, logger, signal: stop.signal });
    return 0;
  } finally {
    await stopExtras?.();
  }
}
