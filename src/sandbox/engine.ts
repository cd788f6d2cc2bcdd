import type { CoreConfig } from '../config/core-config.js';
import { toCoreConfig } from '../config/core-config.js';
import { coreOptions } from '../config/core-options.js';
import type { OptionValue, OptionValues } from '../config/types.js';
import { assembleEngine, type Assembled, type AssembleOptions } from '../assemble.js';
import type { World } from './world.js';

/**
 * Assembles the real engine (Reconciler + the real Woodpecker client + the real provider) the way the daemon does,
 * on an injected clock and fetch: the simulator runs it in virtual time against the in-process world, the demo in
 * real time against the world served on 127.0.0.1.
 */

export const SANDBOX_PROVIDER = 'timewebcloud';
/** The gRPC address the sandbox's agents dial (only compared, never dialled). */
export const SANDBOX_GRPC_ADDR = 'woodpecker-server:9000';

export interface SandboxEngine extends Assembled {
  core: CoreConfig;
}

export type { ApiRequestHook } from '../assemble.js';

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

export type BuildEngineOptions = Omit<AssembleOptions, 'core'>;

/** Builds the engine like the daemon (provider start-up look-ups included). */
export async function buildSandboxEngine(opts: BuildEngineOptions): Promise<SandboxEngine> {
  const core = sandboxCore(opts.values);
  return { core, ...(await assembleEngine({ ...opts, core })) };
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
  'minIdleSlots',
  'schedule',
  'forecast',
  'budgetDaily',
  'budgetMonthly',
  'eventStream',
].filter((k) => coreOptions.some((o) => o.key === k));
