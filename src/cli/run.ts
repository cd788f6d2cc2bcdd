import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { assembleEngine, runAssembled, tickOnce, type ApiRequestHook } from '../assemble.js';
import { validateTemplate } from '../cloudinit/render.js';
import type { CoreConfig } from '../config/core-config.js';
import { formatDuration } from '../config/duration.js';
import { ineffectiveSettings } from '../config/no-effect.js';
import { printableValues } from '../config/format.js';
import type { OptionSpec, OptionValues } from '../config/types.js';
import { fileLedgerStore, type LedgerStore } from '../engine/ledger-store.js';
import type { Reconciler, TickReport } from '../engine/reconciler.js';
import { createLogger } from '../observability/logger.js';
import type { Provider } from '../providers/types.js';
import { systemClock, type FetchFn } from '../util/clock.js';
import type { AssembledPools } from '../pools.js';
import { probeGrpcAddr } from './grpc-probe.js';
import { VERSION } from './version.js';

export interface DaemonHooks {
  /** Called with every HTTP request event of both API clients (metrics). */
  onRequest?: ApiRequestHook;
  /** Starts optional extras (status listener…) once the reconciler exists; returns a stop function. */
  start?: (ctx: {
    reconciler: Reconciler;
    provider: Provider;
    core: CoreConfig;
    logger: Logger;
    /** Several pools (`--pools-file`): every pool; `reconciler`, `provider` and `core` are the first pool's. */
    pools?: AssembledPools;
  }) => Promise<() => Promise<void>>;
  /** Start-up check of --grpc-addr (warnings); default: DNS + TCP from this host; `false` skips it. */
  grpcProbe?: ((addr: string) => Promise<string[]>) | false;
  /** Logged once at start-up as warnings (a secret given as a flag, an unknown WOODPECKER_* variable…). */
  warnings?: readonly string[];
}

export function readFileUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

export function loggerFor(core: Pick<CoreConfig, 'logLevel' | 'logFormat'>): Logger {
  return createLogger({
    level: core.logLevel,
    pretty: core.logFormat === 'auto' ? undefined : core.logFormat === 'pretty',
  });
}

/** Does this pool's configuration set a budget cap (the daemon's or, with several pools, its own)? */
function capped(core: Pick<CoreConfig, 'budgetDaily' | 'budgetMonthly' | 'poolBudget'>): boolean {
  const own = core.poolBudget;
  return core.budgetDaily !== undefined || core.budgetMonthly !== undefined || own?.daily !== undefined || own?.monthly !== undefined;
}

/**
 * The daemon's ledger store: `--state-file` (one file for every pool); none without it, and then a budget gets a
 * start-up warning that a restart forgets the spend so far.
 */
export function ledgerStoreFor(cores: readonly Pick<CoreConfig, 'budgetDaily' | 'budgetMonthly' | 'poolBudget' | 'stateFile'>[], logger: Logger): LedgerStore | undefined {
  const path = cores[0]?.stateFile;
  if (path !== undefined) return fileLedgerStore(path, logger);
  if (cores.some(capped)) {
    logger.warn(
      'a budget is set without --state-file (WOODPECKER_STATE_FILE): its ledger is kept in memory, so a restart forgets the spend so far this day and month and the caps can be passed on a day with restarts',
    );
  }
  return undefined;
}

/** One line per tick outcome for `--once` and dry runs: what was planned and why. */
export function describeReport(report: TickReport): string[] {
  const lines: string[] = [];
  if (report.lease && report.lease.role !== 'acting') lines.push(`lease: ${report.lease.reason}`);
  const s = report.plan?.summary;
  if (s) {
    lines.push(
      `pool: ${s.poolAgents} agent(s) (${s.active} active, ${s.drained} drained, ${s.booting} booting); ` +
        `queue: ${s.pendingTasks} pending, ${s.runningTasks} running, ${s.freeSlots} free slot(s); ` +
        `needed ${s.required}, available ${s.available}, delta ${s.delta}`,
    );
  }
  for (const r of report.results) {
    const who = r.name;
    lines.push(`${r.outcome === 'dry-run' ? 'would' : r.outcome}: ${r.action.kind} ${who} — ${r.action.reason.code}: ${r.action.reason.message}`);
  }
  if (report.plan && report.results.length === 0) lines.push('no action needed');
  for (const f of report.plan?.foreign ?? []) lines.push(`foreign: ${f.kind} ${f.name} (id ${f.id}) — ${f.why}; left alone`);
  for (const n of report.plan?.notes ?? []) lines.push(`note: ${n}`);
  for (const e of report.errors) lines.push(`error: ${e}`);
  return lines;
}

/**
 * The daemon: resolve the provider (start-up validation, cloud look-ups), then reconcile until SIGTERM/SIGINT
 * (finishing the current tick) or once with `--once`. Returns the process exit code.
 */
/** SIGTERM/SIGINT abort the returned controller: the daemon finishes the current tick, then stops. */
export function stopOnSignals(logger: Logger): AbortController {
  const stop = new AbortController();
  const onSignal = (sig: string): void => {
    logger.info({ signal: sig }, 'shutting down after the current tick');
    stop.abort(new Error(sig));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return stop;
}

export async function runDaemon(
  core: CoreConfig,
  values: OptionValues,
  specs: readonly OptionSpec[],
  hooks: DaemonHooks = {},
  fetchFn: FetchFn = globalThis.fetch,
): Promise<number> {
  const logger = loggerFor(core);
  logger.info({ version: VERSION }, `starting twcloud-scaler version '${VERSION}'`);
  logger.debug({ config: printableValues(specs, values) }, 'configuration');
  for (const w of hooks.warnings ?? []) logger.warn(w);

  // Throws a ConfigError naming --cloudinit-template.
  if (core.cloudinitTemplate !== '') validateTemplate(core.cloudinitTemplate);

  const assembled = await assembleEngine({
    core,
    values,
    clock: systemClock,
    fetch: fetchFn,
    random: Math.random,
    logger,
    onRequest: hooks.onRequest,
    ledgerStore: ledgerStoreFor([core], logger),
  });
  const { engine, reconciler, provider, queuePollInterval } = assembled;
  logger.info(
    { pool: engine.poolId, installation: engine.installationId },
    `installation ${engine.installationId} (${core.installationIdSource}), pool ${engine.poolId}: only servers, IPs and agents proven to be this installation's are ever touched`,
  );
  if (engine.billingModel === 'hourly') {
    logger.info(
      `hourly billing: idle agents are torn down in the last ${formatDuration(engine.agentBillingTeardownMargin + engine.reconciliationInterval)} of each paid hour`,
    );
  }
  for (const w of ineffectiveSettings(values, core, engine.billingModel)) logger.warn(w);
  if (hooks.grpcProbe !== false) {
    for (const w of await (hooks.grpcProbe ?? probeGrpcAddr)(core.grpcAddr)) logger.warn({ grpcAddr: core.grpcAddr }, w);
  }
  const stopExtras = hooks.start ? await hooks.start({ reconciler, provider, core, logger }) : undefined;

  try {
    if (core.once) {
      const report = await tickOnce(assembled);
      for (const line of describeReport(report)) process.stdout.write(`${line}\n`);
      // Standing by (another instance holds the lease) is not a reconcile: non-zero.
      return report.ok && report.lease?.role !== 'standby' ? 0 : 1;
    }
    const stop = stopOnSignals(logger);
    logger.info(
      {
        policy: engine.policy,
        pool: engine.poolId,
        installation: engine.installationId,
        min: engine.minAgents,
        max: engine.maxAgents,
        interval: formatDuration(engine.reconciliationInterval),
        queuePoll: queuePollInterval > 0 ? formatDuration(queuePollInterval) : 'off',
        dryRun: core.dryRun,
      },
      'autoscaler running',
    );
    await runAssembled(assembled, { clock: systemClock, logger, signal: stop.signal });
    return 0;
  } finally {
    await stopExtras?.();
  }
}
