import { Command, Option } from 'commander';
import { parseGoDuration } from '../config/duration.js';
import { ConfigError } from '../config/types.js';
import type { OptionValues } from '../config/types.js';
import { createLogger } from '../observability/logger.js';
import { createObservability } from '../observability/wire.js';
import { DEMO_DEFAULTS, runDemo } from '../sandbox/demo.js';
import type { DemoHooks } from '../sandbox/demo.js';
import { parseDelaySpec } from '../sandbox/world.js';
import type { DelaySpec } from '../sandbox/world.js';
import { seededRandom, systemClock } from '../util/clock.js';
import type { RandomFn } from '../util/clock.js';
import { resolveIo, resolveSandboxValues, sandboxSpecs, addSandboxOptions } from './sandbox-io.js';
import type { SandboxCliIo } from './sandbox-io.js';
import { errorMessage } from '../util/guards.js';

/**
 * `twcloud-scaler demo`: the real autoscaler loop, in real time, against a simulated Woodpecker server and
 * Timeweb Cloud served on 127.0.0.1, with a synthetic job stream. Works on a fresh machine without any cloud.
 */

export interface DemoCommandOptions extends SandboxCliIo {
  /**
   * Extras to start with the engine (the daemon's hooks: metrics, status listener). Without it the demo starts
   * its own status listener on --http-addr (default 127.0.0.1:8080; `off` disables it).
   */
  hooks?: () => Promise<DemoHooks>;
  /** Ctrl-C handling; default: process SIGINT/SIGTERM. Receives the stop function, returns an unsubscribe. */
  onInterrupt?: (stop: () => void) => () => void;
}

interface DemoFlags {
  duration?: string;
  bootDelay: string;
  agentStartDelay: string;
  jobsPerMinute: string;
  seed?: string;
}

/**
 * The daemon's observability (status page, /metrics, admin API) on --http-addr. A listener that cannot bind is a
 * warning in the demo, not an error: the demo still runs.
 */
function observabilityHooks(values: OptionValues, warn: (s: string) => void): { hooks: DemoHooks; url: () => string | undefined } {
  const addr = typeof values.httpAddr === 'string' ? values.httpAddr : undefined;
  const token = typeof values.httpToken === 'string' && values.httpToken !== '' ? values.httpToken : undefined;
  const obs = createObservability({
    httpAddr: addr,
    ...(token !== undefined ? { httpToken: token } : {}),
    poolId: typeof values.poolId === 'string' ? values.poolId : '1',
    processMetrics: false,
  });
  return {
    hooks: {
      onRequest: (api, e) => obs.onRequest(api, e),
      start: async (ctx) => {
        try {
          return await obs.start(ctx);
        } catch (e) {
          warn(`status page not started: ${errorMessage(e)} (try --http-addr 127.0.0.1:0, or off)`);
          return async () => undefined;
        }
      },
    },
    url: () => (obs.server ? `${obs.server.url}/` : undefined),
  };
}

function defaultInterrupt(stop: () => void): () => void {
  let count = 0;
  const handler = (): void => {
    count++;
    if (count === 1) stop();
    else process.exit(130); // a second Ctrl-C: give up on the clean-up
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Adds `demo` to the program. */
export function registerDemoCommand(program: Command, opts: DemoCommandOptions = {}): Command {
  const specs = sandboxSpecs([], DEMO_DEFAULTS);
  const cmd = new Command('demo')
    .description(
      'Watch the autoscaler work without any cloud: the real engine runs in real time against a simulated ' +
        'Woodpecker server and Timeweb Cloud on 127.0.0.1 with a synthetic stream of CI jobs. Ctrl-C stops it and ' +
        'deletes everything it created. Engine flags (--policy, --max-agents, …) apply; short intervals are preset.',
    )
    .addOption(new Option('--duration <DURATION>', 'stop by itself after this long (default: run until Ctrl-C)').helpGroup('Demo:'))
    .addOption(new Option('--boot-delay <DELAY>', 'server create → installed, fixed or a range').default('5s..15s').helpGroup('Demo:'))
    .addOption(new Option('--agent-start-delay <DELAY>', 'installed → agent connected').default('2s..5s').helpGroup('Demo:'))
    .addOption(new Option('--jobs-per-minute <N>', 'background job arrivals per minute (bursts come on top)').default('1.5').helpGroup('Demo:'))
    .addOption(new Option('--seed <N>', 'seed the job stream and the world (default: random)').helpGroup('Demo:'));
  addSandboxOptions(cmd, specs);

  cmd.action(async () => {
    const io = resolveIo(opts);
    const flags = cmd.opts<DemoFlags>();
    const values = resolveSandboxValues(cmd, specs, io);
    let duration: number | undefined;
    if (flags.duration !== undefined) {
      try {
        duration = parseGoDuration(flags.duration);
      } catch (e) {
        throw new ConfigError(`invalid value for --duration: ${(e as Error).message}`);
      }
    }
    const delay = (flag: string, text: string): DelaySpec => {
      try {
        return parseDelaySpec(text);
      } catch (e) {
        throw new ConfigError(`invalid value for --${flag}: ${(e as Error).message}`);
      }
    };
    const bootDelay = delay('boot-delay', flags.bootDelay);
    const agentStartDelay = delay('agent-start-delay', flags.agentStartDelay);
    const perMinute = Number(flags.jobsPerMinute);
    if (!(perMinute >= 0)) throw new ConfigError(`invalid value for --jobs-per-minute: ${JSON.stringify(flags.jobsPerMinute)}`);
    const random: RandomFn = flags.seed !== undefined ? seededRandom(Number(flags.seed) || 0) : Math.random;
    // Logs go to stderr at `warn` by default (more would tear the view apart); the view shows the decisions.
    const level = String(values.logLevel ?? 'warn');
    const logger = createLogger({ level, pretty: false, destination: { write: (s: string) => io.stderr.write(s) } });
    // A warning goes to stderr and stays in the view (the terminal view redraws the whole screen every second).
    const notices: string[] = [];
    const warn = (w: string): void => {
      notices.push(w);
      io.stderr.write(`${w}\n`);
    };
    const builtin = opts.hooks ? undefined : observabilityHooks(values, warn);
    const hooks = opts.hooks ? await opts.hooks() : builtin?.hooks;
    const stop = new AbortController();
    const unsubscribe = (opts.onInterrupt ?? defaultInterrupt)(() => stop.abort(new Error('interrupted')));
    try {
      const summary = await runDemo({
        values,
        clock: systemClock,
        fetch: globalThis.fetch,
        random,
        logger,
        out: io.stdout,
        signal: stop.signal,
        bootDelay,
        agentStartDelay,
        jobs: { perMinute },
        ...(hooks ? { hooks } : {}),
        statusUrl: () => builtin?.url(),
        notices,
        ...(duration !== undefined ? { duration } : {}),
      });
      const l = summary.leftover;
      if (l.servers + l.unattachedFloatingIps.length + l.agentsWithoutServer.length + l.foreignTouched.length > 0) {
        process.exitCode = 1;
      }
    } finally {
      unsubscribe();
    }
  });
  program.addCommand(cmd);
  return cmd;
}
