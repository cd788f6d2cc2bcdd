import type { Logger } from 'pino';
import { buildAgentEnvironment, renderUserData } from '../cloudinit/render.js';
import type { CoreConfig } from '../config/core-config.js';
import { engineConfigFrom, toCoreConfig } from '../config/core-config.js';
import { coreOptions } from '../config/core-options.js';
import type { OptionValue, OptionValues } from '../config/types.js';
import { ConfigError } from '../config/types.js';
import { Reconciler } from '../engine/reconciler.js';
import type { EngineConfig } from '../engine/types.js';
import { findProvider, unknownProviderMessage } from '../providers/registry.js';
import type { DeployAgent, Provider } from '../providers/types.js';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { WoodpeckerClient } from '../woodpecker/client.js';
import type { World } from './world.js';

/**
 * Assembles the real engine (Reconciler + the real Woodpecker client + the real provider) the way the daemon does,
 * on an injected clock and fetch: the simulator runs it in virtual time against the in-process world, the demo in
 * real time against the world served on 127.0.0.1.
 */

export const SANDBOX_PROVIDER = 'timewebcloud';
/** The gRPC address the sandbox's agents dial (only compared, never dialled). */
export const SANDBOX_GRPC_ADDR = 'woodpecker-server:9000';

export interface SandboxEngine {
  core: CoreConfig;
  engine: EngineConfig;
  reconciler: Reconciler;
  woodpecker: WoodpeckerClient;
  provider: Provider;
  /** Queue poll interval the daemon would use (0 in the upstream policy). */
  queuePollInterval: number;
}

export type ApiRequestHook = (api: 'woodpecker' | 'timeweb', e: { endpoint: string; status: number; durationMs: number }) => void;

/**
 * The option values for a run against `world`: the user's values (any core or provider option), with the
 * Woodpecker server, its token, the provider and its API URL/token pointed at the sandbox.
 */
export function sandboxValues(world: Pick<World, 'urls' | 'woodpeckerToken' | 'timewebToken'>, user: OptionValues): OptionValues {
  const out: Record<string, OptionValue | undefined> = { ...user };
  out.serverUrl = world.urls.woodpecker;
  out.serverToken = world.woodpeckerToken;
  out.provider = SANDBOX_PROVIDER;
  out.timewebcloudApiUrl = world.urls.timeweb;
  out.timewebcloudApiToken = world.timewebToken;
  out.dryRun = false;
  out.once = false;
  if (out.grpcAddr === undefined) out.grpcAddr = SANDBOX_GRPC_ADDR;
  return out;
}

/** The core config of sandbox values (server settings are always present there). */
export function sandboxCore(values: OptionValues): CoreConfig {
  return toCoreConfig(values, { requireServer: false });
}

export interface BuildEngineOptions {
  values: OptionValues;
  clock: Clock;
  fetch: FetchFn;
  random: RandomFn;
  logger: Logger;
  onRequest?: ApiRequestHook;
}

/** Builds the engine like the daemon (provider start-up look-ups included). */
export async function buildSandboxEngine(opts: BuildEngineOptions): Promise<SandboxEngine> {
  const core = sandboxCore(opts.values);
  const def = findProvider(core.provider);
  if (!def) throw new ConfigError(unknownProviderMessage(core.provider));
  const woodpecker = new WoodpeckerClient({
    baseUrl: core.serverUrl,
    token: core.serverToken,
    fetch: opts.fetch,
    clock: opts.clock,
    random: opts.random,
    timeoutMs: core.requestTimeout,
    onRequest: (e) => opts.onRequest?.('woodpecker', e),
  });
  const provider = await def.create({
    poolId: core.poolId,
    values: opts.values,
    fetch: opts.fetch,
    clock: opts.clock,
    random: opts.random,
    logger: opts.logger.child({ provider: def.name }),
    requestTimeout: core.requestTimeout,
    onRequest: (e) => opts.onRequest?.('timeweb', e),
  });
  const engine = engineConfigFrom(core, provider.billingModel);
  const renderFor = (agent: DeployAgent): string =>
    renderUserData({
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
  const reconciler = new Reconciler({
    config: engine,
    woodpecker,
    provider,
    clock: opts.clock,
    random: opts.random,
    logger: opts.logger,
    renderUserData: renderFor,
  });
  return {
    core,
    engine,
    reconciler,
    woodpecker,
    provider,
    queuePollInterval: engine.policy === 'default' ? core.queuePollInterval : 0,
  };
}

/** Core option keys a simulation shows in its report (the ones that shape scaling). */
export const SHOWN_SETTINGS: readonly string[] = [
  'policy',
  'minAgents',
  'maxAgents',
  'workflowsPerAgent',
  'reconciliationInterval',
  'queuePollInterval',
  'agentIdleTimeout',
  'agentInactivityTimeout',
  'agentBillingTeardownMargin',
].filter((k) => coreOptions.some((o) => o.key === k));
