import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './types.js';
import type { OptionSpec, OptionValue, OptionValues } from './types.js';
import { parseGoDuration } from './duration.js';

/** Values given on the command line, keyed by flag name (`min-agents`); only flags the user actually gave. */
export type CliValues = Record<string, string | string[] | boolean | undefined>;

/** Reads a file as UTF-8 text (injected so tests need no files). */
export type ReadFileFn = (path: string) => string;

/** Where option values come from. */
export interface ConfigSources {
  cli: CliValues;
  env: Record<string, string | undefined>;
  /** Reads `*_FILE` targets; default `fs.readFileSync(path, 'utf8')`. */
  readFile?: ReadFileFn;
}

const defaultReadFile: ReadFileFn = (path) => readFileSync(path, 'utf8');

/**
 * `--server-token (WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE)`: the flag and every env var that can set it; with the
 * env var that actually supplied the value (`source`, see {@link valueSource}), only that one:
 * `--cloudinit-template (WOODPECKER_CLOUDINIT_TEMPLATE_FILE)`.
 */
export function optionLabel(spec: OptionSpec, source?: string): string {
  const all = [...spec.env, ...(spec.fileEnv ?? [])];
  const names = source !== undefined && all.includes(source) ? [source] : all;
  return names.length === 0 ? `--${spec.flag}` : `--${spec.flag} (${names.join(', ')})`;
}

/** `invalid value for --min-agents (WOODPECKER_MIN_AGENTS): <reason>`; `source` as in {@link optionLabel}. */
export function optionError(spec: OptionSpec, reason: string, source?: string): ConfigError {
  return new ConfigError(`invalid value for ${optionLabel(spec, source)}: ${reason}`);
}

/** Which flag (`--name`) or env var supplied each resolved value, per values object from {@link resolveOptions}. */
const sourcesOf = new WeakMap<OptionValues, ReadonlyMap<string, string>>();

/**
 * The flag (`--pool-id`) or env var (`WOODPECKER_PROVIDER_USERDATA`, `WOODPECKER_TOKEN_FILE`) that supplied
 * `values[key]`, or undefined when the value is the default (or `values` did not come from `resolveOptions`).
 */
export function valueSource(values: OptionValues, key: string): string | undefined {
  return sourcesOf.get(values)?.get(key);
}

/** `missing value for --server-token (WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE): <reason>` */
export function missingOptionError(spec: OptionSpec, reason: string): ConfigError {
  return new ConfigError(`missing value for ${optionLabel(spec)}: ${reason}`);
}

const TRUE_FORMS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_FORMS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go `strconv.ParseBool`: `1 t T TRUE true True` / `0 f F FALSE false False`; anything else is undefined. */
export function parseBool(s: string): boolean | undefined {
  if (TRUE_FORMS.has(s)) return true;
  if (FALSE_FORMS.has(s)) return false;
  return undefined;
}

/** Splits a list value on `,`, trims every element and drops empty ones. */
export function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/**
 * Parses one raw text value by the spec's type (list values are split). Does not run `spec.validate`.
 * @throws ConfigError naming the flag and its env vars.
 */
export function parseOptionValue(spec: OptionSpec, raw: string, source?: string): OptionValue {
  const shown = spec.secret ? 'the value' : JSON.stringify(raw);
  switch (spec.type) {
    case 'string':
      return raw;
    case 'list':
      return splitList(raw);
    case 'bool': {
      const b = parseBool(raw);
      if (b === undefined) throw optionError(spec, `${shown} is not a boolean (use true or false)`, source);
      return b;
    }
    case 'int': {
      const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw optionError(spec, `${shown} is not an integer`, source);
      return n;
    }
    case 'float': {
      const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw optionError(spec, `${shown} is not a number`, source);
      return n;
    }
    case 'duration':
      try {
        return parseGoDuration(raw);
      } catch (err) {
        throw optionError(spec, spec.secret ? 'not a valid duration' : (err as Error).message, source);
      }
  }
}

function fromCli(spec: OptionSpec, given: string | string[] | boolean): OptionValue {
  if (typeof given === 'boolean') {
    if (spec.type === 'bool') return given;
    throw optionError(spec, 'a value is required');
  }
  if (spec.type === 'list') {
    const items = typeof given === 'string' ? [given] : given;
    return items.flatMap(splitList);
  }
  const raw = typeof given === 'string' ? given : given[given.length - 1];
  if (raw === undefined) throw optionError(spec, 'a value is required');
  return parseOptionValue(spec, raw);
}

/** One option's value and where it came from (first source that has it), or undefined (the default applies). */
function resolveOne(spec: OptionSpec, sources: ConfigSources): { value: OptionValue; source: string } | undefined {
  const given = sources.cli[spec.flag];
  if (given !== undefined) return { value: fromCli(spec, given), source: `--${spec.flag}` };

  for (const name of spec.env) {
    const raw = sources.env[name];
    if (raw === undefined) continue;
    if (spec.type === 'list') {
      const items = splitList(raw);
      if (items.length === 0) continue; // an empty list env var keeps the default
      return { value: items, source: name };
    }
    return { value: parseOptionValue(spec, raw, name), source: name };
  }

  for (const name of spec.fileEnv ?? []) {
    const path = sources.env[name];
    if (path === undefined || path === '') continue;
    let content: string;
    try {
      content = (sources.readFile ?? defaultReadFile)(path);
    } catch (err) {
      throw optionError(spec, `cannot read the file named by ${name} (${JSON.stringify(path)}): ${(err as Error).message}`, name);
    }
    // Deliberate difference from the Go autoscaler: one trailing newline is dropped (editors and `echo` add it).
    const value = content.replace(/\r?\n$/, '');
    // An empty token file is a broken deployment (a secret not mounted or not written yet), not "no value".
    if (spec.secret === true && value.trim() === '') {
      throw optionError(spec, `the file named by ${name} (${JSON.stringify(path)}) is empty`, name);
    }
    return { value: parseOptionValue(spec, value, name), source: name };
  }
  return undefined;
}

/**
 * Resolves every spec: CLI flag, else the first env var that is set, else the first `*_FILE` env var that is set
 * (file content, one trailing newline trimmed; for a secret an empty or blank file is an error naming the `*_FILE`
 * variable), else
 * the spec's default. A string env var set to `""` gives `""`;
 * a list env var that is empty keeps looking (so ends at the default). Repeated CLI list flags append. After
 * parsing, each spec's `validate` runs with all values.
 * @returns values keyed by `spec.key` (undefined = unset).
 * @throws ConfigError naming the flag and its env vars on the first bad value.
 */
export function resolveOptions(specs: readonly OptionSpec[], sources: ConfigSources): OptionValues {
  const out: Record<string, OptionValue | undefined> = {};
  const from = new Map<string, string>();
  for (const spec of specs) {
    const found = resolveOne(spec, sources);
    out[spec.key] = found === undefined ? spec.default : found.value;
    if (found !== undefined) from.set(spec.key, found.source);
  }
  for (const spec of specs) {
    const value = out[spec.key];
    if (spec.validate === undefined || value === undefined) continue;
    const problem = spec.validate(value, out);
    if (problem !== undefined) throw optionError(spec, problem, from.get(spec.key));
  }
  sourcesOf.set(out, from);
  return out;
}

/**
 * Reads `.env` from `cwd` (when it exists) and returns a new env in which the file's values fill only the
 * variables that are not already set; `env` itself is not changed. Syntax: `node:util` `parseEnv`.
 * @throws ConfigError when `.env` exists but cannot be read.
 */
export function loadDotEnv(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  readFile: ReadFileFn = defaultReadFile,
): Record<string, string | undefined> {
  const path = join(cwd, '.env');
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...env };
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const out: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (out[name] === undefined && value !== undefined) out[name] = value;
  }
  return out;
}
