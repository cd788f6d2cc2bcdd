import { Option } from 'commander';
import type { Command } from 'commander';
import { formatOptionValue } from './format.js';
import { parseBool } from './resolve.js';
import type { CliValues } from './resolve.js';
import type { OptionSpec } from './types.js';

const DEFAULT_PLACEHOLDER: Readonly<Record<OptionSpec['type'], string>> = {
  string: 'VALUE',
  int: 'N',
  float: 'NUMBER',
  bool: 'BOOL',
  duration: 'DURATION',
  list: 'VALUE',
};

/** Help text of one option: description, then default, env vars and file env vars. */
export function optionHelpText(spec: OptionSpec): string {
  const notes: string[] = [];
  const d = spec.default;
  if (d !== undefined && d !== '' && !(Array.isArray(d) && d.length === 0) && !spec.secret) {
    notes.push(`default: ${formatOptionValue(spec, d)}`);
  }
  if (spec.env.length > 0) notes.push(`env: ${spec.env.join(', ')}`);
  if (spec.fileEnv !== undefined && spec.fileEnv.length > 0) notes.push(`file: ${spec.fileEnv.join(', ')}`);
  if (spec.type === 'list') notes.push('repeatable');
  return notes.length === 0 ? spec.description : `${spec.description} (${notes.join('; ')})`;
}

/** Commander `Option` for a spec: `--flag <PLACEHOLDER>`, bools `--flag [BOOL]`, lists repeatable. No default. */
export function toCommanderOption(spec: OptionSpec): Option {
  const placeholder = spec.placeholder ?? DEFAULT_PLACEHOLDER[spec.type];
  const flags = spec.type === 'bool' ? `--${spec.flag} [${placeholder}]` : `--${spec.flag} <${placeholder}>`;
  const option = new Option(flags, optionHelpText(spec)).helpGroup(`${spec.category}:`);
  if (spec.type === 'list') {
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  }
  return option;
}

const boolFlagsOf = new WeakMap<Command, Set<string>>();

/**
 * For Go-style bool flags: a bare `--flag` followed by something that is not a bool literal becomes
 * `--flag=true`, so commander does not take the next argument (`--dry-run demo`) as the flag's value.
 * `--flag=false`, `--flag false` and `--flag` alone keep working. Stops at `--`.
 */
export function rewriteBoolArgs(args: readonly string[], boolFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (arg.startsWith('--') && boolFlags.has(arg.slice(2)) && next !== undefined && parseBool(next) === undefined) {
      out.push(`${arg}=true`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Adds one option per spec to `cmd` (grouped in help by `spec.category`). Defaults are not given to commander
 * (they come from the spec table in `resolveOptions`), only shown in the help text. Returns `cmd`.
 */
export function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  let boolFlags = boolFlagsOf.get(cmd);
  if (boolFlags === undefined) {
    const flags = new Set<string>();
    boolFlags = flags;
    boolFlagsOf.set(cmd, flags);
    const original = cmd.parseOptions.bind(cmd);
    cmd.parseOptions = (argv: string[]) => original(rewriteBoolArgs(argv, flags));
  }
  for (const spec of specs) {
    cmd.addOption(toCommanderOption(spec));
    if (spec.type === 'bool') boolFlags.add(spec.flag);
  }
  return cmd;
}

/**
 * The `cli` source for `resolveOptions`: values of the flags the user actually gave on the command line
 * (commander value source `cli`), keyed by flag name. Call after `cmd.parse…`.
 */
export function cliValues(cmd: Command, specs: readonly OptionSpec[]): CliValues {
  const out: CliValues = {};
  for (const spec of specs) {
    const option = cmd.options.find((o) => o.long === `--${spec.flag}`);
    if (option === undefined) continue;
    const attr = option.attributeName();
    if (cmd.getOptionValueSource(attr) !== 'cli') continue;
    const value: unknown = cmd.getOptionValue(attr);
    if (typeof value === 'string' || typeof value === 'boolean') out[spec.flag] = value;
    else if (Array.isArray(value)) out[spec.flag] = value.map(String);
  }
  return out;
}
