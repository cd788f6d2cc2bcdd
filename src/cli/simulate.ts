import { basename } from 'node:path';
import { Command, Option } from 'commander';
import { parseGoDuration } from '../config/duration.js';
import { resolvePools } from '../config/pools-file.js';
import type { PoolConfig } from '../config/pools-file.js';
import type { OptionSpec, OptionValues } from '../config/types.js';
import { ConfigError } from '../config/types.js';
import { formatJson, formatTable, renderHtml } from '../sandbox/report.js';
import type { SimulationResult } from '../sandbox/result.js';
import { simulate } from '../sandbox/simulate.js';
import { parseDelaySpec } from '../sandbox/world.js';
import type { DelaySpec } from '../sandbox/world.js';
import { BUILTIN_WORKLOADS, loadWorkload, WorkloadError } from '../sandbox/workloads.js';
import type { Policy } from '../engine/types.js';
import { addSandboxOptions, resolveIo, resolveSandboxValues, sandboxSpecs, valuesFromEnvFile } from './sandbox-io.js';
import type { SandboxCliIo } from './sandbox-io.js';

/**
 * `twcloud-scaler simulate`: replays a workload against the real engine in virtual time and reports queue waits,
 * VMs, cost and API calls; `--compare` runs a second configuration on the same workload, side by side.
 */

interface SimulateFlags {
  workload: string;
  compare?: string;
  json?: boolean;
  html?: string;
  seed: string;
  span?: string;
  tail: string;
  bootDelay: string;
  agentStartDelay: string;
  imageAgentStartDelay: string;
  neverBootRate: string;
  agentDeathRate: string;
  pricePerHour?: string;
}

function duration(flag: string, text: string): number {
  try {
    return parseGoDuration(text);
  } catch (e) {
    throw new ConfigError(`invalid value for --${flag}: ${(e as Error).message}`);
  }
}

function delay(flag: string, text: string): DelaySpec {
  try {
    return parseDelaySpec(text);
  } catch (e) {
    throw new ConfigError(`invalid value for --${flag}: ${(e as Error).message}`);
  }
}

function rate(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !(n >= 0 && n <= 1)) {
    throw new ConfigError(`invalid value for --${flag}: ${JSON.stringify(text)} is not a share between 0 and 1`);
  }
  return n;
}

const POLICIES: readonly Policy[] = ['default', 'upstream'];

/**
 * `--compare FILE` beside a pools file: a setting of FILE that every pool sets itself would change nothing (a pool's
 * own setting wins over the global one), so the comparison would silently compare a run with itself. Refused.
 */
function rejectShadowedSettings(file: string, over: OptionValues, poolsFile: string, pools: readonly PoolConfig[], specs: readonly OptionSpec[]): void {
  for (const key of Object.keys(over)) {
    const flag = specs.find((s) => s.key === key)?.flag;
    if (flag === undefined || !pools.every((p) => p.overrides.includes(flag))) continue;
    throw new ConfigError(
      `--compare ${file}: ${flag} has no effect beside --pools-file ${poolsFile}: every pool sets it ` +
        'itself; change it in a copy of the pools file (WOODPECKER_POOLS_FILE in the compared file), or use ' +
        '--compare default|upstream for one label-blind pool',
    );
  }
}

/** Adds `simulate` to the program. */
export function registerSimulateCommand(program: Command, io: SandboxCliIo = {}): Command {
  const specs = sandboxSpecs(['httpAddr', 'httpToken', 'logFormat']);
  const cmd = new Command('simulate')
    .description(
      'Replay a CI workload against the real autoscaler engine in virtual time (a day takes seconds) with a ' +
        'simulated Woodpecker server and Timeweb Cloud: queue waits, VMs, cost, API calls. No cloud is used. ' +
        'Workload files: docs/simulator.md.',
    )
    .addOption(
      new Option('--workload <FILE|NAME>', `a JSON/CSV workload file, or a built-in: ${BUILTIN_WORKLOADS.join(', ')}`)
        .default('office-day')
        .helpGroup('Simulation:'),
    )
    .addOption(
      new Option(
        '--compare <POLICY|FILE>',
        'also run with the other policy (default|upstream), or with the WOODPECKER_* settings of an env file, and ' +
          'show both; with --pools-file, default|upstream is one label-blind pool in place of the pools',
      ).helpGroup('Simulation:'),
    )
    .addOption(new Option('--json', 'print the result as JSON').helpGroup('Simulation:'))
    .addOption(new Option('--html <FILE>', 'write a self-contained HTML report with plots').helpGroup('Simulation:'))
    .addOption(new Option('--seed <N>', 'seed of the built-in workloads and the simulated world').default('1').helpGroup('Simulation:'))
    .addOption(new Option('--span <DURATION>', 'length of a built-in workload (default 24h)').helpGroup('Simulation:'))
    .addOption(
      new Option('--tail <DURATION>', 'simulated time after the last workflow, to see the pool shrink').default('1h').helpGroup('Simulation:'),
    )
    .addOption(
      new Option('--boot-delay <DELAY>', 'server create → installed, fixed or a range (e.g. 60s..120s)').default('60s..120s').helpGroup('Simulation:'),
    )
    .addOption(
      new Option('--agent-start-delay <DELAY>', 'installed → agent connected (docker pull, compose up)').default('20s..40s').helpGroup('Simulation:'),
    )
    .addOption(
      new Option(
        '--image-agent-start-delay <DELAY>',
        'the same for servers booted from a baked image (--timewebcloud-image-id): compose up only',
      )
        .default('5s..10s')
        .helpGroup('Simulation:'),
    )
    .addOption(new Option('--never-boot-rate <SHARE>', 'share of servers that never finish installing (0..1)').default('0').helpGroup('Simulation:'))
    .addOption(new Option('--agent-death-rate <SHARE>', 'share of agents that die some time after connecting (0..1)').default('0').helpGroup('Simulation:'))
    .addOption(
      new Option('--price-per-hour <RUB>', "price of one server-hour instead of the preset's price").helpGroup('Simulation:'),
    );
  addSandboxOptions(cmd, specs);

  cmd.action(async () => {
    const r = resolveIo(io);
    const flags = cmd.opts<SimulateFlags>();
    const values = resolveSandboxValues(cmd, specs, r);
    const seed = Number(flags.seed);
    if (!Number.isSafeInteger(seed)) throw new ConfigError(`invalid value for --seed: ${JSON.stringify(flags.seed)} is not an integer`);
    let workload;
    try {
      workload = loadWorkload(flags.workload, {
        seed,
        ...(flags.span !== undefined ? { span: duration('span', flags.span) } : {}),
        readFile: r.readFile,
      });
    } catch (e) {
      if (e instanceof WorkloadError) throw new ConfigError(e.message);
      throw e;
    }
    if (workload.items.length === 0) throw new ConfigError(`the workload ${flags.workload} has no workflows`);
    let pricePerHour: number | undefined;
    if (flags.pricePerHour !== undefined) {
      pricePerHour = Number(flags.pricePerHour);
      if (!(pricePerHour >= 0)) throw new ConfigError(`invalid value for --price-per-hour: ${JSON.stringify(flags.pricePerHour)}`);
    }
    const common = {
      workload,
      seed,
      tail: duration('tail', flags.tail),
      bootDelay: delay('boot-delay', flags.bootDelay),
      agentStartDelay: delay('agent-start-delay', flags.agentStartDelay),
      imageAgentStartDelay: delay('image-agent-start-delay', flags.imageAgentStartDelay),
      neverBootRate: rate('never-boot-rate', flags.neverBootRate),
      agentDeathRate: rate('agent-death-rate', flags.agentDeathRate),
      wallClock: () => performance.now(),
      ...(pricePerHour !== undefined ? { pricePerHour } : {}),
    };

    // With a pools file the first run is every pool of it; `--compare POLICY` is then one label-blind pool.
    const pools = typeof values.poolsFile === 'string' && values.poolsFile.trim() !== '' ? resolvePools(values, { readFile: r.readFile }) : undefined;
    const policy0 = String(values.policy ?? 'default');
    const runs: { label: string; values: OptionValues; labelBlind?: Policy }[] = [{ label: pools ? `pools (${policy0})` : policy0, values }];
    if (flags.compare !== undefined) {
      const c = flags.compare.trim();
      const policy = POLICIES.find((p) => p === c);
      if (policy && pools) {
        runs.push({ label: `label-blind (${policy})`, values, labelBlind: policy });
      } else if (policy) {
        runs.push({ label: policy, values: { ...values, policy } });
      } else {
        const over = valuesFromEnvFile(c, specs, r);
        if (pools) rejectShadowedSettings(c, over, String(values.poolsFile), pools, specs);
        runs.push({ label: basename(c), values: { ...values, ...over } });
      }
      if (runs[0]?.label === runs[1]?.label) {
        (runs[0] as { label: string }).label += ' (1)';
        (runs[1] as { label: string }).label += ' (2)';
      }
    }

    const results: SimulationResult[] = [];
    for (const run of runs) {
      r.stderr.write(`simulating ${workload.name} (${workload.items.length} workflows) with ${run.label}…\n`);
      results.push(
        await simulate({ ...common, label: run.label, values: run.values, ...(run.labelBlind ? { labelBlind: run.labelBlind } : {}) }),
      );
    }
    if (flags.json) r.stdout.write(`${formatJson(results)}\n`);
    else r.stdout.write(`${formatTable(results)}\n`);
    if (flags.html !== undefined) {
      r.writeFile(flags.html, renderHtml(results));
      r.stderr.write(`wrote ${flags.html}\n`);
    }
  });
  program.addCommand(cmd);
  return cmd;
}
