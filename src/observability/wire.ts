import type { Logger } from 'pino';
import { ConfigError } from '../config/types.js';
import type { Reconciler } from '../engine/reconciler.js';
import type { Provider } from '../providers/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { errorMessage } from '../util/guards.js';
import type { ApiName, ApiRequestEvent } from './derive.js';
import { adminAccessFor, createHttpApp, hostCheckFor, startHttpServer, type RunningHttpServer } from './http.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createStatusTracker, type StatusTracker } from './status.js';
import { observePools } from './pools.js';
import type { AssembledPools } from '../pools.js';

/**
 * Everything observability needs in the daemon, in one place: metrics (fed by the API clients and the ticks), the
 * status model and the HTTP listener. Shaped to plug into `runDaemon`'s hooks:
 *
 *   const obs = createObservability({ httpAddr: core.httpAddr, httpToken: core.httpToken, poolId: core.poolId });
 *   runDaemon(core, values, specs, { onRequest: obs.onRequest, start: obs.start });
 */

export interface ObservabilityOptions {
  /** `host:port`; undefined (or `off`) = no listener (metrics and status are still kept in memory). */
  httpAddr: string | undefined;
  httpToken?: string;
  poolId: string;
  /** This installation's identity: only its agents count in the pool gauges. */
  installationId?: string;
  /** Several pools share the API clients: their request metrics carry no pool (see `MetricsOptions`). */
  sharedClients?: boolean;
  /** Default: the system clock. */
  clock?: Clock;
  /** Node.js process metrics on /metrics. Default true. */
  processMetrics?: boolean;
  /** `/readyz` fails when the last full reconcile is older than this many intervals. Default 3. */
  readyIntervals?: number;
  /** How often the account balance is read (after a full tick). Default 10 minutes. */
  balanceInterval?: number;
}

export interface StartContext {
  reconciler: Reconciler;
  provider: Pick<Provider, 'price' | 'balance'>;
  logger: Logger;
  /** Several pools: `reconciler` and `provider` are the first pool's; status, metrics and controls cover all. */
  pools?: AssembledPools;
}

export interface Observability {
  metrics: Metrics;
  /** Set once `start` ran. */
  status: StatusTracker | undefined;
  /** The running listener, once `start` ran (undefined when http-addr is off). */
  server: RunningHttpServer | undefined;
  /** Hand to both API clients (`onRequest: (e) => obs.onRequest('woodpecker', e)`). */
  onRequest(api: ApiName, e: ApiRequestEvent): void;
  /** Subscribes to the reconciler's ticks and starts the listener; returns the stop function. */
  start(ctx: StartContext): Promise<() => Promise<void>>;
}

export function createObservability(opts: ObservabilityOptions): Observability {
  const clock = opts.clock ?? systemClock;
  let provider: Pick<Provider, 'price' | 'balance'> | undefined;
  const price = () => provider?.price?.();
  const metrics = createMetrics({
    price,
    poolId: opts.poolId,
    ...(opts.installationId !== undefined ? { installationId: opts.installationId } : {}),
    ...(opts.sharedClients === true ? { sharedClients: true } : {}),
    processMetrics: opts.processMetrics ?? true,
  });
  const obs: Observability = {
    metrics,
    status: undefined,
    server: undefined,
    onRequest: (api, e) => metrics.observeRequest(api, e),
    async start(ctx) {
      provider = ctx.provider;
      const { reconciler, logger } = ctx;
      const head = createStatusTracker({ clock, config: reconciler.config, price });
      reconciler.onTick((report) => {
        metrics.observeTick(report);
        head.observeTick(report);
        if (report.mode === 'full') refreshBalance();
      });
      const several = ctx.pools ? observePools(ctx.pools, { status: head, metrics }, clock) : undefined;
      const status = several?.status ?? head;
      obs.status = status;
      // The balance: a GET every balanceInterval after a full tick, never awaited by the tick; the provider logs a
      // low balance itself.
      const every = opts.balanceInterval ?? 10 * 60_000;
      let lastRead: number | undefined;
      let reading = false;
      const refreshBalance = (): void => {
        const read = provider?.balance?.bind(provider);
        const now = clock.now();
        if (!read || reading || (lastRead !== undefined && now - lastRead < every)) return;
        reading = true;
        lastRead = now;
        read().then(
          (b) => {
            metrics.observeBalance(b);
            status.observeBalance(b);
          },
          (e: unknown) => logger.debug({ err: errorMessage(e) }, 'reading the account balance failed'),
        ).finally(() => (reading = false));
      };
      const addr = opts.httpAddr;
      if (addr === undefined || addr.trim() === '' || addr.trim().toLowerCase() === 'off') {
        logger.info('HTTP listener off (http-addr): no status page, metrics or admin API');
        return async () => undefined;
      }
      const { access, warning } = adminAccessFor(addr, opts.httpToken);
      if (warning) logger.warn(warning);
      const app = createHttpApp({
        controls: several?.controls ?? reconciler,
        status,
        metrics: several?.metrics ?? metrics,
        token: opts.httpToken,
        adminAccess: access,
        loopbackHostOnly: hostCheckFor(addr),
        clock,
        readiness: { maxTickAge: Math.max(30_000, (opts.readyIntervals ?? 3) * reconciler.config.reconciliationInterval) },
        logger: logger.child({ component: 'http' }),
      });
      let server: RunningHttpServer;
      try {
        server = await startHttpServer(app, addr);
      } catch (e) {
        throw new ConfigError(`invalid value for --http-addr (WOODPECKER_HTTP_ADDR): ${(e as Error).message}`);
      }
      obs.server = server;
      logger.info(
        { url: server.url, admin: access },
        `status page ${server.url}/ (metrics at /metrics; admin endpoints ${access === 'disabled' ? 'disabled' : access === 'token' ? 'need the bearer token' : 'open to local requests'})`,
      );
      return () => server.close();
    },
  };
  return obs;
}
