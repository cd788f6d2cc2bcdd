import { parsePoolsFile } from '../../src/config/pools-file.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createObservability, type Observability } from '../../src/observability/wire.js';
import { assemblePools, type AssembledPools } from '../../src/pools.js';
import { sandboxValues } from '../../src/sandbox/engine.js';
import { createWorld, realTimeScheduler, type World } from '../../src/sandbox/world.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';

/**
 * Two label-aware pools (`small`, `large`) of the real daemon wiring (assemblePools + createObservability, as
 * `runPoolsDaemon` starts them) against the fake Woodpecker server and Timeweb Cloud served on 127.0.0.1, with the
 * HTTP listener on a free loopback port. Queued: two `size=small` workflows, one `size=large`, one `type=gpu` (no
 * pool runs it). `tick()` runs one full reconcile of every pool.
 */
export interface TwoPools {
  url: string;
  world: World;
  pools: AssembledPools;
  obs: Observability;
  tick(): Promise<void>;
  close(): Promise<void>;
}

export const POOLS_YAML =
  'pools:\n' +
  '  - id: small\n    max-agents: 3\n    agent-labels: size=small\n' +
  '  - id: large\n    max-agents: 2\n    workflows-per-agent: 1\n    agent-labels: size=large\n';

export async function startTwoPools(): Promise<TwoPools> {
  // Long boots: the agents stay `booting` for the whole test, so every figure is deterministic.
  const world = createWorld({
    scheduler: realTimeScheduler(systemClock),
    random: seededRandom(7),
    grpcAddr: 'woodpecker-server:9000',
    bootDelay: 3_600_000,
  });
  await world.serve();
  const values = { ...sandboxValues(world, { logLevel: 'error', minAgents: 0 }), httpAddr: '127.0.0.1:0' };
  const configs = parsePoolsFile(POOLS_YAML, 'pools.yaml', values);
  const first = configs[0];
  if (!first) throw new Error('no pool');
  const logger = silentLogger();
  const obs = createObservability({
    httpAddr: '127.0.0.1:0',
    poolId: first.core.poolId,
    installationId: first.core.installationId,
    processMetrics: false,
  });
  const pools = await assemblePools({
    pools: configs,
    clock: systemClock,
    fetch: globalThis.fetch,
    random: seededRandom(8),
    logger,
    onRequest: (api, e) => obs.onRequest(api, e),
  });
  const stop = await obs.start({ reconciler: pools.first.reconciler, provider: pools.first.provider, logger, pools });
  const url = obs.server?.url;
  if (!url) throw new Error('no listener');
  world.queueWorkflow({ durationMs: 600_000, labels: { size: 'small' } });
  world.queueWorkflow({ durationMs: 600_000, labels: { size: 'small' } });
  world.queueWorkflow({ durationMs: 600_000, labels: { size: 'large' } });
  world.queueWorkflow({ durationMs: 600_000, labels: { type: 'gpu' } });
  return {
    url,
    world,
    pools,
    obs,
    tick: async () => {
      await pools.set.tick('full');
    },
    close: async () => {
      await stop();
      await world.close();
    },
  };
}
