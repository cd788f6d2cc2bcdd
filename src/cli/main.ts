import { Command } from 'commander';
import { addOptions, cliValues } from '../config/commander.js';
import { toCoreConfig } from '../config/core-config.js';
import { loadDotEnv, resolveOptions } from '../config/resolve.js';
import { ConfigError, type OptionSpec } from '../config/types.js';
import { allOptionSpecs } from '../config/sections.js';
import { createObservability } from '../observability/wire.js';
import type { CoreConfig } from '../config/core-config.js';
import { readFileUtf8, runDaemon, type DaemonHooks } from './run.js';
import { VERSION } from './version.js';

export interface CliIo {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

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
        'them when idle.\nWith no cloud configured (no --provider and no --server-token) it starts the built-in ' +
        'sandbox demo.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for the list of options)')
    .enablePositionalOptions();
  addOptions(program, specs);

  program.allowExcessArguments(true).action(async () => {
    if (program.args.length > 0) {
      const known = [...Object.keys(SUBCOMMANDS).filter((n) => n !== 'admin'), ...ADMIN_COMMANDS].join(', ');
      throw new ConfigError(`unknown command '${program.args[0] ?? ''}'; commands: ${known} (see --help)`);
    }
    const env = loadDotEnv(io.env, io.cwd, readFileUtf8);
    const values = resolveOptions(specs, { cli: cliValues(program, specs), env, readFile: readFileUtf8 });
    // Nothing configured and nothing asked of the daemon: show the demo. `--once` / `--dry-run` are requests to the
    // daemon, so they get the missing-configuration error instead.
    if (values.provider === '' && (values.serverToken ?? '') === '' && values.once !== true && values.dryRun !== true) {
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
    const core = toCoreConfig(values);
    exit(await runDaemon(core, values, specs, daemonHooks(core)));
  });
  for (const name of modulesFor(io.argv)) await register(program, io, name);
  return program;
}

/** Metrics, the status model and the HTTP listener (status page, /metrics, admin API) for the daemon. */
function daemonHooks(core: CoreConfig): DaemonHooks {
  const obs = createObservability({
    httpAddr: core.httpAddr,
    httpToken: core.httpToken,
    poolId: core.poolId,
    installationId: core.installationId,
  });
  return { onRequest: (api, e) => obs.onRequest(api, e), start: (ctx) => obs.start(ctx) };
}

export async function main(io: CliIo): Promise<number> {
  let code = 0;
  const program = await buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...io.argv], { from: 'user' });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`twcloud-scaler: configuration error: ${e.message}\n`);
      return 2;
    }
    // Expected failures (an unreachable API at start-up…) read best as one sentence; set DEBUG for the stack.
    const detail = e instanceof Error ? (process.env.DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    process.stderr.write(`twcloud-scaler: ${detail}\n`);
    return 1;
  }
  return code;
}

const isEntry = process.argv[1] !== undefined && /(?:^|[\\/])(?:main\.(?:ts|js)|twcloud-scaler(?:\.js|\.mjs)?)$/.test(process.argv[1]);
if (isEntry) {
  main({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() }).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`twcloud-scaler: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
