import { Command } from 'commander';
import { addOptions, cliValues } from '../config/commander.js';
import { toCoreConfig } from '../config/core-config.js';
import { loadDotEnv, resolveOptions } from '../config/resolve.js';
import { ConfigError, type OptionSpec } from '../config/types.js';
import { allOptionSpecs } from '../config/sections.js';
import { createObservability } from '../observability/wire.js';
import type { CoreConfig } from '../config/core-config.js';
import { registerAdminCommands } from './admin.js';
import { registerDemoCommand } from './demo.js';
import { readFileUtf8, runDaemon, type DaemonHooks } from './run.js';
import { registerSimulateCommand } from './simulate.js';
import { registerTimewebCommands } from './timeweb.js';
import { VERSION } from './version.js';

export interface CliIo {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** Builds the whole command tree (exported for tests). `exit` receives the process exit code. */
export function buildProgram(io: CliIo, exit: (code: number) => void): Command {
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

  program.action(async () => {
    const env = loadDotEnv(io.env, io.cwd, readFileUtf8);
    const values = resolveOptions(specs, { cli: cliValues(program, specs), env, readFile: readFileUtf8 });
    // Nothing configured and nothing asked of the daemon: show the demo. `--once` / `--dry-run` are requests to the
    // daemon, so they get the missing-configuration error instead.
    if (values.provider === '' && (values.serverToken ?? '') === '' && values.once !== true && values.dryRun !== true) {
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
  registerDemoCommand(program, { env: io.env, cwd: io.cwd });
  registerSimulateCommand(program, { env: io.env, cwd: io.cwd });
  registerTimewebCommands(program, { env: io.env, cwd: io.cwd });
  registerAdminCommands(program, { env: io.env });
  return program;
}

/** Metrics, the status model and the HTTP listener (status page, /metrics, admin API) for the daemon. */
function daemonHooks(core: CoreConfig): DaemonHooks {
  const obs = createObservability({ httpAddr: core.httpAddr, httpToken: core.httpToken, poolId: core.poolId });
  return { onRequest: (api, e) => obs.onRequest(api, e), start: (ctx) => obs.start(ctx) };
}

export async function main(io: CliIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
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
