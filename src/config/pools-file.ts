import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { toCoreConfig } from './core-config.js';
import type { CoreConfig, ToCoreConfigOptions } from './core-config.js';
import { closestName, ordinal } from './suggest.js';
import { optionLabel, parseOptionValue, splitList, valueSource } from './resolve.js';
import type { ReadFileFn } from './resolve.js';
import { allOptionSpecs } from './sections.js';
import { errorMessage } from '../util/guards.js';
import { ConfigError } from './types.js';
import type { OptionSpec, OptionValue, OptionValues } from './types.js';

/**
 * The pools file (`--pools-file`): several pools in one daemon, each with an `id` and its own pool settings,
 * named like the flags. Values are text parsed and validated exactly like flags and env vars; settings a pool
 * does not give come from the flags/env (the global settings). See docs/pools.md.
 *
 *     pools:
 *       - id: cpu
 *         max-agents: 5
 *       - id: gpu
 *         max-agents: 2
 *         agent-labels: { type: gpu }
 *         timewebcloud-preset-id: [4795]
 */

/** The settings a pool may give itself (flag names). Everything else is one value for the whole daemon. */
export const POOL_SCOPED_FLAGS: readonly string[] = [
  'min-agents',
  'max-agents',
  'workflows-per-agent',
  'agent-inactivity-timeout',
  'agent-idle-timeout',
  'agent-billing-teardown-margin',
  'agent-image',
  'agent-env',
  'agent-labels',
  'cloudinit-template',
  'timewebcloud-os-id',
  'timewebcloud-image-id',
  'timewebcloud-preset-id',
  'timewebcloud-configuration',
  'timewebcloud-availability-zone',
  'timewebcloud-location',
  'timewebcloud-ssh-key-id',
  'timewebcloud-hostname-prefix',
  'timewebcloud-project-id',
  'timewebcloud-public-ip',
  'timewebcloud-bandwidth',
  'timewebcloud-billing',
  'timewebcloud-min-cpu',
  'timewebcloud-min-ram',
  // Warm capacity: each pool keeps its own idle slots, schedule and forecast (of its own share of the queue).
  'min-idle-slots',
  'schedule',
  'forecast',
  'boot-time',
  // A pool's own spend cap, in addition to the daemon-wide --budget-daily / --budget-monthly (all pools together).
  'budget-daily',
  'budget-monthly',
];

/** Pool settings that do not replace the global value: the global one is the cap of the whole daemon. */
const POOL_BUDGET_FLAGS: Readonly<Record<string, 'daily' | 'monthly'>> = { 'budget-daily': 'daily', 'budget-monthly': 'monthly' };

/**
 * Global settings that make no sense beside a pools file, with what to do instead: each pool has its own `id`, and
 * each pool counts only the work its `agent-labels` match (Woodpecker's own matching), which replaces the Go
 * autoscaler 1.5.0's one-label queue filter.
 */
const NOT_WITH_POOLS_FILE: Readonly<Record<string, string>> = {
  poolId:
    'every pool has its own `id` in the file; unset it (to keep the servers and agents of the single pool ' +
    'it named, give one pool that id)',
  filterLabels:
    'each pool is scaled only by the queued work its `agent-labels` match; give the pools `agent-labels` ' +
    '(e.g. `agent-labels: { platform: linux/arm64 }`) and unset it',
};

/** List settings whose entries are KEY=VALUE: in the file they may also be a mapping. */
const KEY_VALUE_FLAGS = new Set(['agent-env', 'agent-labels']);

/** One pool, ready for the engine. */
export interface PoolConfig {
  id: string;
  /** Where it comes from, for messages: `pools.yaml: pool "gpu" (2nd)`, or `flags and environment`. */
  origin: string;
  /** The global values with this pool's settings over them (keys as from `resolveOptions`; `poolId` = `id`). */
  values: OptionValues;
  /** The validated core configuration of this pool. */
  core: CoreConfig;
  /** Flags this pool sets itself, in file order (the rest are the global values). */
  overrides: string[];
}

export interface LoadPoolsOptions {
  /** Reads the pools file; default `fs.readFileSync(path, 'utf8')`. */
  readFile?: ReadFileFn;
  /** Every option spec (core + providers); default `allOptionSpecs()`. */
  specs?: readonly OptionSpec[];
  /** Passed to `toCoreConfig` for every pool; default `{ requireServer: false }`. */
  core?: ToCoreConfigOptions;
}

/** Without a pools file: today's single pool from the flags/env values, unchanged. */
export function singlePool(globals: OptionValues, opts: LoadPoolsOptions = {}): PoolConfig {
  const core = toCoreConfig(globals, opts.core ?? { requireServer: false });
  return { id: core.poolId, origin: 'flags and environment', values: globals, core, overrides: [] };
}

/** The pools: from `--pools-file` when it is set, else the single pool of {@link singlePool}. */
export function resolvePools(globals: OptionValues, opts: LoadPoolsOptions = {}): PoolConfig[] {
  const path = globals.poolsFile;
  if (typeof path !== 'string' || path.trim() === '') return [singlePool(globals, opts)];
  let text: string;
  try {
    text = (opts.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (err) {
    throw new ConfigError(`cannot read the pools file ${JSON.stringify(path)} (--pools-file): ${errorMessage(err)}`);
  }
  return parsePoolsFile(text, path, globals, opts);
}

const isText = (n: unknown): n is { value: string } => isScalar(n) && typeof n.value === 'string';

/** The raw text of a setting, as flags/env would give it. A message (no prefix) when the YAML shape is wrong. */
function rawValue(spec: OptionSpec, node: unknown): OptionValue | string[] | { problem: string } {
  if (isText(node)) return parseOptionValue(spec, node.value);
  if (isSeq(node)) {
    if (spec.type !== 'list') return { problem: 'expected a single value, got a list' };
    const items: string[] = [];
    for (const item of node.items) {
      if (!isText(item)) return { problem: 'list items must be plain values' };
      items.push(...splitList(item.value));
    }
    return items;
  }
  if (isMap(node)) {
    if (!KEY_VALUE_FLAGS.has(spec.flag)) return { problem: `expected ${spec.type === 'list' ? 'a list or a value' : 'a single value'}, got a mapping` };
    const items: string[] = [];
    for (const pair of node.items) {
      if (!isText(pair.key) || !(isText(pair.value) || pair.value === null)) return { problem: 'mapping entries must be KEY: VALUE' };
      items.push(`${pair.key.value}=${isText(pair.value) ? pair.value.value : ''}`);
    }
    return items;
  }
  return { problem: 'expected a value' };
}

/** A flag-named ConfigError reason without its `invalid value for --flag (ENV): ` prefix, with flags shown short. */
function reasonOf(err: ConfigError, specs: readonly OptionSpec[]): { spec: OptionSpec | undefined; reason: string } {
  let spec: OptionSpec | undefined;
  let reason = err.message;
  for (const s of specs) {
    for (const prefix of [`invalid value for ${optionLabel(s)}: `, `missing value for ${optionLabel(s)}: `]) {
      if (spec === undefined && reason.startsWith(prefix)) {
        spec = s;
        reason = reason.slice(prefix.length);
      }
    }
  }
  for (const s of specs) reason = reason.split(optionLabel(s)).join(s.flag);
  return { spec, reason };
}

interface PoolContext {
  file: string;
  name: string;
  specs: readonly OptionSpec[];
}

function fail(ctx: PoolContext, key: string | undefined, reason: string): ConfigError {
  return new ConfigError(`${ctx.file}: ${ctx.name}${key === undefined ? '' : `: ${key}`}: ${reason}`);
}

/** A setting name a pool may not use: why, with the closest pool setting when it is no flag at all. */
function unknownKeyReason(key: string, specs: readonly OptionSpec[]): string {
  if (key === 'pool-id') return 'not a pool setting: the pool id is `id`';
  if (key === 'filter-labels') return 'not a pool setting: a pool counts the work its `agent-labels` match';
  const global = specs.find((s) => s.flag === key);
  if (global !== undefined) {
    return `not a pool setting: it is one value for all pools, set with ${optionLabel(global)}`;
  }
  const near = closestName(key, ['id', ...POOL_SCOPED_FLAGS]);
  return `unknown setting${near === undefined ? '' : ` (did you mean ${near}?)`}`;
}

function parsePool(node: unknown, index: number, file: string, globals: OptionValues, opts: LoadPoolsOptions): PoolConfig {
  const specs = opts.specs ?? allOptionSpecs();
  const ctx: PoolContext = { file, name: `${ordinal(index + 1)} pool`, specs };
  if (!isMap(node)) throw fail(ctx, undefined, 'expected a mapping with an id and pool settings');
  const idNode = node.items.find((p) => isText(p.key) && p.key.value === 'id')?.value;
  if (idNode === undefined) throw fail(ctx, 'id', 'missing (every pool needs an id)');
  if (!isText(idNode)) throw fail(ctx, 'id', 'expected a single value');
  const id = idNode.value;
  ctx.name = `pool ${JSON.stringify(id)} (${ordinal(index + 1)})`;

  const values: Record<string, OptionValue | undefined> = { ...globals, poolId: id };
  const overrides: string[] = [];
  const poolBudget: { daily?: number; monthly?: number } = {};
  for (const pair of node.items) {
    const key = isText(pair.key) ? pair.key.value : String(pair.key);
    if (key === 'id') continue;
    const spec = POOL_SCOPED_FLAGS.includes(key) ? specs.find((s) => s.flag === key) : undefined;
    if (spec === undefined) throw fail(ctx, key, unknownKeyReason(key, specs));
    let raw: ReturnType<typeof rawValue>;
    try {
      raw = rawValue(spec, pair.value);
    } catch (err) {
      if (err instanceof ConfigError) throw fail(ctx, key, reasonOf(err, specs).reason);
      throw err;
    }
    if (typeof raw === 'object' && !Array.isArray(raw)) throw fail(ctx, key, raw.problem);
    overrides.push(key);
    const period = POOL_BUDGET_FLAGS[key];
    if (period === undefined) {
      // A template given in the pool replaces the global one under either of its two names.
      if (spec.key === 'cloudinitTemplate') values.providerUserData = '';
      values[spec.key] = raw;
      continue;
    }
    // The pool's own cap; the global value stays the cap of the whole daemon.
    const problem = spec.validate?.(raw, values);
    if (problem !== undefined) throw fail(ctx, key, reasonOf(new ConfigError(problem), specs).reason);
    if (typeof raw !== 'number') throw fail(ctx, key, 'expected an amount');
    poolBudget[period] = raw;
  }

  // The same checks as flags/env: every pool setting's own validator (with the merged values), then the core rules.
  for (const spec of specs) {
    if (!POOL_SCOPED_FLAGS.includes(spec.flag) || spec.validate === undefined) continue;
    const value = values[spec.key];
    if (value === undefined) continue;
    const problem = spec.validate(value, values);
    if (problem !== undefined) throw fail(ctx, spec.flag, reasonOf(new ConfigError(problem), specs).reason);
  }
  let core: CoreConfig;
  try {
    core = toCoreConfig(values, opts.core ?? { requireServer: false });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const { spec, reason } = reasonOf(err, specs);
    if (spec?.key === 'poolId') throw fail(ctx, 'id', reason);
    if (spec !== undefined && POOL_SCOPED_FLAGS.includes(spec.flag)) throw fail(ctx, spec.flag, reason);
    throw fail(ctx, undefined, err.message);
  }
  if (poolBudget.daily !== undefined || poolBudget.monthly !== undefined) core = { ...core, poolBudget };
  return { id, origin: `${file}: ${ctx.name}`, values, core, overrides };
}

/**
 * Global settings that would be silently ignored beside a pools file are a configuration error naming the flag or
 * variable that set them (an empty value is no setting).
 * @throws ConfigError
 */
function rejectBesidePoolsFile(globals: OptionValues, specs: readonly OptionSpec[] = allOptionSpecs()): void {
  const poolsFile = specs.find((s) => s.key === 'poolsFile');
  const poolsFileName = valueSource(globals, 'poolsFile') ?? (poolsFile ? `--${poolsFile.flag}` : '--pools-file');
  for (const [key, instead] of Object.entries(NOT_WITH_POOLS_FILE)) {
    const spec = specs.find((s) => s.key === key);
    const value = globals[key];
    if (spec === undefined || value === undefined || value === '') continue;
    const source = valueSource(globals, key);
    if (source === undefined && value === spec.default) continue;
    throw new ConfigError(`${source ?? optionLabel(spec)} is not used with ${poolsFileName}: ${instead}`);
  }
}

/**
 * Parses the text of a pools file (`file` is the name shown in messages). Every error names the file, the pool
 * (by id and position) and the setting.
 * @throws ConfigError
 */
export function parsePoolsFile(text: string, file: string, globals: OptionValues, opts: LoadPoolsOptions = {}): PoolConfig[] {
  rejectBesidePoolsFile(globals, opts.specs ?? allOptionSpecs());
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const first = doc.errors[0];
  if (first !== undefined) {
    const at = lines.linePos(first.pos[0]);
    throw new ConfigError(`${file}: line ${at.line}, column ${at.col}: ${first.message.split('\n')[0] ?? ''}`);
  }
  const root: Node | null = doc.contents;
  if (!isMap(root)) throw new ConfigError(`${file}: expected a mapping with a \`pools:\` list`);
  for (const pair of root.items) {
    const key = isText(pair.key) ? pair.key.value : String(pair.key);
    if (key !== 'pools') {
      throw new ConfigError(`${file}: ${key}: unknown setting (the file has only \`pools:\`, a list of pools)`);
    }
  }
  const list = root.get('pools', true);
  if (!isSeq(list) || list.items.length === 0) {
    throw new ConfigError(`${file}: pools: expected a list of at least one pool (each with an id)`);
  }
  const pools = list.items.map((node, i) => parsePool(node, i, file, globals, opts));
  const seen = new Map<string, number>();
  pools.forEach((p, i) => {
    const prev = seen.get(p.id.toLowerCase());
    if (prev !== undefined) {
      throw new ConfigError(
        `${p.origin}: id: ${JSON.stringify(p.id)} is already the id of the ${ordinal(prev + 1)} pool (ids must differ, also in letter case)`,
      );
    }
    seen.set(p.id.toLowerCase(), i);
  });
  return pools;
}
