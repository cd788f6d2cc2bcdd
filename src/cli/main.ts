import { Command, CommanderError, Option } from 'commander';
import { addOptions, cliValues } from '../config/commander.js';
import { coreOptions } from '../config/core-options.js';
import { toCoreConfig } from '../config/core-config.js';
import { resolvePools } from '../config/pools-file.js';
import { missingSettings, missingSettingsMessage } from '../config/required.js';
import { loadDotEnv, resolveOptions } from '../config/resolve.js';
import { ConfigError, type OptionSpec } from '../config/types.js';
import { allOptionSpecs } from '../config/sections.js';
import { secretFlagWarnings, unknownEnvWarnings } from '../config/warnings.js';
import { createObservability } from '../observability/wire.js';
import { providers } from '../providers/registry.js';
import type { CoreConfig } from '../config/core-config.js';
import { applyHelpLayout, helpWidth } from './help.js';
import { readFileUtf8, runDaemon, type DaemonHooks } from './run.js';
import { runPoolsDaemon } from './run-pools.js';
import { VERSION } from './version.js';

export interface CliIo {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** The process exit codes (README "Exit codes" and `--help` list the same). */
export const EXIT = {
  ok: 0,
  /** A runtime failure: an API unreachable at start-up, a failed `--once` reconcile, a failed admin or tool command. */
  failure: 1,
  /** A configuration error (a missing or invalid setting, an unknown flag or command): restarting will not help. */
  config: 2,
  /** Interrupted (Ctrl-C) before the work was done. */
  interrupted: 130,
} as const;

const EXIT_CODES_HELP = `
Exit codes:
  0    success (the daemon stopped on SIGTERM/SIGINT, a command finished)
  1    runtime failure (an API unreachable at start-up, a failed --once
       reconcile, a failed admin or timeweb command)
  2    configuration error (a missing or invalid setting, an unknown flag or
       command): fix the configuration, restarting will not help
  130  interrupted by Ctrl-C (timeweb test, a second Ctrl-C in the demo)`;

/** Commander's own command-line errors: configuration errors (exit 2), like a bad setting. */
const USAGE_ERRORS = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.excessArguments',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.conflictingOption',
  'commander.invalidArgument',
]);

/**
 * Hidden flag that lets the daemon start the demo when nothing is configured. Only `npm start` (a fresh clone's quick
 * start) passes it: the installed bin, the Docker image and the bundle never fall back, so a broken unattended
 * deployment fails instead of looking alive.
 */
export const DEMO_FALLBACK_FLAG = '--demo-if-unconfigured';

/** The subcommand names, each with the module that registers it (loaded only when needed). */
const SUBCOMMANDS: Readonly<Record<string, (program: Command, io: CliIo) => Promise<void>>> = {
  demo: async (p, io) => void (await import('./demo.js')).registerDemoCommand(p, { env: io.env, cwd: io.cwd }),
  simulate: async (p, io) => void (await import('./simulate.js')).registerSimulateCommand(p, { env: io.env, cwd: io.cwd }),
  timeweb: async (p, io) => void (await import('./timeweb.js')).registerTimewebCommands(p, { env: io.env, cwd: io.cwd }),
  admin: async (p, io) => void (await import('./admin.js')).registerAdminCommands(p, { env: io.env }),
};
const ADMIN_COMMANDS = ['status', 'decisions', 'pause', 'resume', 'cordon', 'uncordon', 'drain'];

/**
 * Which subcommand modules to load: all of them for help, otherwise only the one named on the command line. The
 * daemon itself loads none, so the sandbox (fakes, simulator) never occupies its memory. A token that only looks
 * like a subcommand (an option value) just loads a module for nothing.
 */
function modulesFor(argv: readonly string[]): string[] {
  if (argv.some((a) => a === '--help' || a === '-h' || a === 'help')) return Object.keys(SUBCOMMANDS);
  const wanted = new Set<string>();
  for (const a of argv) {
    if (a in SUBCOMMANDS && a !== 'admin') wanted.add(a);
    if (ADMIN_COMMANDS.includes(a)) wanted.add('admin');
  }
  return [...wanted];
}

async function register(program: Command, io: CliIo, name: string): Promise<void> {
  const fn = SUBCOMMANDS[name];
  if (fn && !program.commands.some((c) => c.name() === name)) await fn(program, io);
}

/** Builds the command tree for `io.argv` (exported for tests). `exit` receives the process exit code. */
export async function buildProgram(io: CliIo, exit: (code: number) => void): Promise<Command> {
  const specs: readonly OptionSpec[] = allOptionSpecs();
  const program = new Command('twcloud-scaler')
    .description(
      'Woodpecker CI autoscaler for Timeweb Cloud: creates agent servers when workflows queue up and removes ' +
        'them when idle. Needs --provider, --server-token and the provider\'s token; `twcloud-scaler demo` runs ' +
        'the sandbox demo without any cloud.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for the list of options)')
    .enablePositionalOptions()
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP)
    .addOption(new Option(DEMO_FALLBACK_FLAG, 'start the demo when nothing is configured (npm start)').hideHelp());
  addOptions(program, specs);

  program.allowExcessArguments(true).action(async () => {
    if (program.args.length > 0) {
      const known = [...Object.keys(SUBCOMMANDS).filter((n) => n !== 'admin'), ...ADMIN_COMMANDS].join(', ');
      throw new ConfigError(`unknown command '${program.args[0] ?? ''}'; commands: ${known} (see --help)`);
    }
    const env = loadDotEnv(io.env, io.cwd, readFileUtf8);
    const cli = cliValues(program, specs);
    const values = resolveOptions(specs, { cli, env, readFile: readFileUtf8 });
    // Nothing configured and nothing asked of the daemon: the demo, but only where that was asked for (npm start).
    // `--once` / `--dry-run` are requests to the daemon, so they get the missing-configuration error instead.
    const unconfigured = values.provider === '' && (values.serverToken ?? '') === '';
    const demoAllowed = program.getOptionValue('demoIfUnconfigured') === true;
    if (demoAllowed && unconfigured && values.once !== true && values.dryRun !== true) {
      await register(program, io, 'demo');
      const demo = program.commands.find((c) => c.name() === 'demo');
      if (demo) {
        process.stderr.write(
          'No cloud configured (no --provider / WOODPECKER_PROVIDER and no --server-token / WOODPECKER_TOKEN):\n' +
            'starting the built-in sandbox demo. Run with --help to see how to configure a real deployment.\n\n',
        );
        await demo.parseAsync([], { from: 'user' });
        return;
      }
    }
    const missing = missingSettings(values, coreOptions, providers);
    if (missing.length > 0) throw new ConfigError(missingSettingsMessage(missing));
    const core = toCoreConfig(values);
    const warnings = [...secretFlagWarnings(specs, cli), ...unknownEnvWarnings(specs, env)];
    // Several pools (--pools-file): a bad file fails here, naming the file, the pool and the setting.
    const pools = (values.poolsFile ?? '') === '' ? undefined : resolvePools(values, { core: {}, readFile: readFileUtf8 });
    if (pools) {
      const first = pools[0]?.core ?? core;
      exit(await runPoolsDaemon(pools, { ...daemonHooks(first, { sharedClients: true }), warnings }, globalThis.fetch));
      return;
    }
    exit(await runDaemon(core, values, specs, { ...daemonHooks(core), warnings }));
  });
  for (const name of modulesFor(io.argv)) await register(program, io, name);
  applyHelpLayout(program, helpWidth(process.stdout, io.env));
  setExitOverride(program);
  return program;
}

/** Commander errors become exceptions everywhere (subcommands made with `new Command` inherit nothing). */
function setExitOverride(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) setExitOverride(sub);
}

/** Metrics, the status model and the HTTP listener (status page, /metrics, admin API) for the daemon. */
function daemonHooks(core: CoreConfig, opts: { sharedClients?: boolean } = {}): DaemonHooks {
  const obs = createObservability({
    httpAddr: core.httpAddr,
    httpToken: core.httpToken,
    poolId: core.poolId,
    installationId: core.installationId,
    ...(opts.sharedClients === true ? { sharedClients: true } : {}),
  });
  return { onRequest: (api, e) => obs.onRequest(api, e), start: (ctx) => obs.start(ctx) };
}

/**
 * Runs the command line; resolves with the exit code ({@link EXIT}). Never exits the process: the entry point sets
 * `process.exitCode` and lets pending output drain.
 */
export async function main(io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  try {
    const program = await buildProgram(io, (c) => {
      code = c;
    });
    await program.parseAsync([...io.argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message (or the help / version) already.
      return USAGE_ERRORS.has(e.code) ? EXIT.config : e.exitCode;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`twcloud-scaler: configuration error: ${e.message}\n`);
      return EXIT.config;
    }
    // Expected failures (an unreachable API at start-up…) read best as one sentence; set DEBUG for the stack.
    const detail = e instanceof Error ? (process.env.DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    process.stderr.write(`twcloud-scaler: ${detail}\n`);
    return EXIT.failure;
  }
  return code;
}
