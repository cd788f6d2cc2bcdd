import type { Logger } from 'pino';
import { buildAgentEnvironment, renderUserData } from './cloudinit/render.js';
import { engineConfigFrom, type CoreConfig } from './config/core-config.js';
import { ConfigError, type OptionValues } from './config/types.js';
import { leaseTtl } from './engine/lease.js';
import { keepLedger, loadLedger, type LedgerStore } from './engine/ledger-store.js';
import { fenceWrites, LeaseKeeper } from './engine/lease-keeper.js';
import { runLoop } from './engine/loop.js';
import { Reconciler, type TickReport } from './engine/reconciler.js';
import { Wake } from './engine/wake.js';
import type { EngineConfig } from './engine/types.js';
import { findProvider, unknownProviderMessage } from './providers/registry.js';
import type { DeployAgent, Provider } from './providers/types.js';
import type { Clock, FetchFn, RandomFn } from './util/clock.js';
import { WoodpeckerClient } from './woodpecker/client.js';
import { mayHaveNewWork, watchEvents, type EventStreamState } from './woodpecker/events.js';

/** Hook for every HTTP request either API client makes (metrics). */
export type ApiRequestHook = (
  api: 'woodpecker' | 'timeweb',
  e: { endpoint: string; status: number; durationMs: number; rateLimited?: boolean },
) => void;

export interface AssembleOptions {
  core: CoreConfig;
  /** All option values (the provider reads its own from here). */
  values: OptionValues;
  clock: Clock;
  fetch: FetchFn;
  random: RandomFn;
  logger: Logger;
  onRequest?: ApiRequestHook;
  /**
   * Several pools: the Woodpecker client and the lease of the first pool, shared (one rate limit, one lease), and its
   * provider, whose API client a provider of the same kind shares.
   */
  shared?: Pick<Assembled, 'woodpecker' | 'lease' | 'provider'>;
  /** The installation id the lease is named after; default this pool's (several pools: `poolsLeaseId`). */
  leaseId?: string;
  /**
   * Keeps the budget's ledger across restarts (the daemon: `--state-file`; the chaos harness: in memory). None: a
   * restart forgets the spend so far.
   */
  ledgerStore?: LedgerStore;
}

export interface Assembled {
  engine: EngineConfig;
  reconciler: Reconciler;
  woodpecker: WoodpeckerClient;
  provider: Provider;
  /** The single-acting-instance lease (a record on the Woodpecker server; see src/engine/lease.ts). */
  lease: LeaseKeeper;
  /** The queue poll period the loop should use (0 in the upstream policy). */
  queuePollInterval: number;
  /**
   * Subscribes to the Woodpecker event stream until the signal aborts, notifying `wake` on new work; undefined when
   * the stream is off (flag, upstream policy or no queue poll).
   */
  events?: (signal: AbortSignal, onState?: (s: EventStreamState) => void) => Promise<void>;
  /** Ends the loop's sleep for an immediate queue poll. */
  wake: Wake;
}

/** The cloud-init user-data of one agent, as the daemon renders it (template, env, provider PreExec lines). */
export function agentUserData(
  core: Pick<
    CoreConfig,
    'cloudinitTemplate' | 'agentImage' | 'grpcAddr' | 'workflowsPerAgent' | 'grpcSecure' | 'agentEnv' | 'agentLabels'
  >,
  provider: Pick<Provider, 'preExec' | 'postExec'>,
  agent: Pick<DeployAgent, 'token'>,
): string {
  return renderUserData({
    template: core.cloudinitTemplate,
    image: core.agentImage,
    environment: buildAgentEnvironment({
      grpcAddr: core.grpcAddr,
      agentToken: agent.token,
      workflowsPerAgent: core.workflowsPerAgent,
      grpcSecure: core.grpcSecure,
      agentEnv: core.agentEnv,
      agentLabels: core.agentLabels,
    }),
    preExec: provider.preExec,
    postExec: provider.postExec,
  });
}

/**
 * The composition root shared by the daemon, the demo and the simulator: the real Woodpecker client, the provider
 * (its start-up look-ups included) and the reconciler with the cloud-init renderer, on injected clock, fetch and
 * randomness.
 * @throws ConfigError for an unknown provider or a provider option that does not resolve.
 */
export async function assembleEngine(opts: AssembleOptions): Promise<Assembled> {
  const { core, clock, random, logger } = opts;
  const def = findProvider(core.provider);
  if (!def) throw new ConfigError(unknownProviderMessage(core.provider));
  const woodpecker =
    opts.shared?.woodpecker ??
    new WoodpeckerClient({
      baseUrl: core.serverUrl,
      token: core.serverToken,
      fetch: opts.fetch,
      clock,
      timeoutClock: clock,
      random,
      timeoutMs: core.requestTimeout,
      onRequest: (e) => opts.onRequest?.('woodpecker', e),
    });
  const provider = await def.create({
    poolId: core.poolId,
    installationId: core.installationId,
    values: opts.values,
    fetch: opts.fetch,
    clock,
    random,
    logger: logger.child({ provider: def.name }),
    requestTimeout: core.requestTimeout,
    onRequest: (e) => opts.onRequest?.('timeweb', e),
    ...(opts.shared ? { sibling: opts.shared.provider } : {}),
  });
  const engine = engineConfigFrom(core, provider.billingModel, provider.price?.());
  const lease =
    opts.shared?.lease ??
    new LeaseKeeper({
      api: woodpecker,
      installationId: opts.leaseId ?? engine.installationId,
      clock,
      random,
      logger,
      ttl: leaseTtl(engine.reconciliationInterval),
      dryRun: core.dryRun,
    });
  const renderFor = (agent: DeployAgent): string => agentUserData(core, provider, agent);
  const store = engine.budget ? opts.ledgerStore : undefined;
  const initialLedger = store && engine.budget ? loadLedger(store, engine.poolId, clock.now(), engine.budget.timeZone) : undefined;
  // Every write of a tick is fenced by the lease (the lease keeper itself uses the bare client).
  const blocked = (): string | undefined => lease.writeBlocked();
  const reconciler = new Reconciler({
    config: engine,
    woodpecker: fenceWrites(woodpecker, ['createAgent', 'updateAgent', 'deleteAgent'], blocked),
    // `tend` (the provider's after-tick upkeep, when it has one) writes too.
    provider: fenceWrites(provider, ['deploy', 'remove', 'sweep', 'tend'], blocked),
    clock,
    random,
    logger,
    renderUserData: renderFor,
    dryRun: core.dryRun,
    lease,
    ...(initialLedger ? { initialLedger } : {}),
  });
  // A dry run plans without spending: its ledger is not saved over the real one.
  if (store && !core.dryRun) keepLedger(reconciler, store, engine.poolId, clock, initialLedger);
  const queuePollInterval = engine.policy === 'default' ? core.queuePollInterval : 0;
  const wake = new Wake();
  const events =
    core.eventStream && queuePollInterval > 0
      ? (signal: AbortSignal, onState?: (s: EventStreamState) => void): Promise<void> =>
          watchEvents({
            baseUrl: core.serverUrl,
            token: core.serverToken,
            fetch: opts.fetch,
            clock,
            random,
            logger: logger.child({ component: 'event-stream' }),
            signal,
            onState,
            onEvent: (e) => {
              if (mayHaveNewWork(e)) wake.notify();
            },
          })
      : undefined;
  return { engine, reconciler, woodpecker, provider, lease, queuePollInterval, events, wake };
}

/**
 * Runs the daemon loop of an assembled engine, and its event stream when there is one, until `signal` aborts (the
 * tick in progress is finished first), then releases the lease so a standby instance takes over at once.
 */
export async function runAssembled(
  a: Assembled,
  opts: { clock: Clock; logger: Logger; signal: AbortSignal; onEventStream?: (s: EventStreamState) => void },
): Promise<void> {
  const stream = a.events?.(opts.signal, opts.onEventStream);
  await runLoop({
    reconciler: a.reconciler,
    woodpecker: a.woodpecker,
    clock: opts.clock,
    logger: opts.logger,
    interval: a.engine.reconciliationInterval,
    queuePollInterval: a.queuePollInterval,
    signal: opts.signal,
    wake: a.wake,
  });
  await stream;
  await a.lease.release();
}

/** `--once`: one full reconcile (taking the lease if nobody holds it), then the lease is released. */
export async function tickOnce(a: Assembled): Promise<TickReport> {
  try {
    return await a.reconciler.tick('full');
  } finally {
    await a.lease.release();
  }
}
