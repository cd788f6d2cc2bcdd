import { readFileSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import { addOptions, cliValues } from '../config/commander.js';
import { loadDotEnv, resolveOptions } from '../config/resolve.js';
import { allOptionSpecs } from '../config/sections.js';
import type { OptionSpec, OptionValue, OptionValues } from '../config/types.js';
import { ConfigError } from '../config/types.js';

/** What the sandbox commands (`simulate`, `demo`) read and write; injected by tests, process defaults otherwise. */
export interface SandboxCliIo {
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  stdout?: { write(s: string): unknown; isTTY?: boolean; columns?: number; rows?: number };
  stderr?: { write(s: string): unknown };
  readFile?: (path: string) => string;
  writeFile?: (path: string, text: string) => void;
}

export interface ResolvedIo {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: NonNullable<SandboxCliIo['stdout']>;
  stderr: NonNullable<SandboxCliIo['stderr']>;
  readFile: (path: string) => string;
  writeFile: (path: string, text: string) => void;
}

export function resolveIo(io: SandboxCliIo): ResolvedIo {
  return {
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    readFile: io.readFile ?? ((p) => readFileSync(p, 'utf8')),
    writeFile: io.writeFile ?? ((p, t) => writeFileSync(p, t)),
  };
}

/**
 * Options the sandbox sets itself (the Woodpecker server, the provider and its API endpoint point at the simulated
 * world), so they are not offered as flags there.
 */
const SANDBOX_OWNED = new Set([
  'serverUrl',
  'serverToken',
  'provider',
  'timewebcloudApiToken',
  'timewebcloudApiUrl',
  'dryRun',
  'once',
]);

/**
 * The engine/provider option specs a sandbox command accepts. `exclude` drops more keys; `defaults` replaces the
 * defaults of some (the demo's short intervals), so they show in `--help` and apply unless a flag or env var is set.
 */
export function sandboxSpecs(
  exclude: readonly string[] = [],
  defaults: Readonly<Record<string, OptionValue>> = {},
): OptionSpec[] {
  const drop = new Set([...SANDBOX_OWNED, ...exclude]);
  return allOptionSpecs()
    .filter((s) => !drop.has(s.key))
    .map((s) => (s.key in defaults ? { ...s, default: defaults[s.key] } : s));
}

/** Adds the option specs to a command (grouped help, env vars listed). */
export function addSandboxOptions(cmd: Command, specs: readonly OptionSpec[]): void {
  addOptions(cmd, specs);
}

/** Option values from the command line, then env (and `.env` in the working directory), then defaults. */
export function resolveSandboxValues(cmd: Command, specs: readonly OptionSpec[], io: ResolvedIo): OptionValues {
  const env = loadDotEnv(io.env, io.cwd, io.readFile);
  return resolveOptions(specs, { cli: cliValues(cmd, specs), env, readFile: io.readFile });
}

/**
 * The values an env file (`.env` syntax, `WOODPECKER_*=…`) sets: only the options it names, parsed and validated
 * like the main configuration. Used by `simulate --compare FILE`.
 */
export function valuesFromEnvFile(path: string, specs: readonly OptionSpec[], io: ResolvedIo): Record<string, OptionValue> {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const vars = parseEnv(text);
  const resolved = resolveOptions(specs, { cli: {}, env: vars, readFile: io.readFile });
  const out: Record<string, OptionValue> = {};
  let known = 0;
  for (const s of specs) {
    if (!s.env.some((e) => vars[e] !== undefined) && !(s.fileEnv ?? []).some((e) => vars[e] !== undefined)) continue;
    const v = resolved[s.key];
    if (v !== undefined) {
      out[s.key] = v;
      known++;
    }
  }
  const unknown = Object.keys(vars).filter((k) => !specs.some((s) => s.env.includes(k) || (s.fileEnv ?? []).includes(k)));
  if (known === 0) {
    throw new ConfigError(
      `${path} sets no option the simulator knows (expected WOODPECKER_* lines like WOODPECKER_MAX_AGENTS=5)` +
        (unknown.length ? `; unknown: ${unknown.slice(0, 5).join(', ')}` : ''),
    );
  }
  return out;
}
