import { closestName } from './suggest.js';
import type { CliValues } from './resolve.js';
import type { OptionSpec } from './types.js';

/**
 * Start-up warnings about how the configuration was given (the daemon logs each once). Pure functions of the option
 * table, the command-line flags and the environment; values are never part of a message.
 */

/**
 * Woodpecker server variables that may sit in the same `.env` as ours: docker-compose.yml hands the whole file to
 * the autoscaler container (`env_file: .env`), and .env.example documents them as the server's. Exact names, and
 * prefixes followed by `_` (the forges' and the database's settings). Not warned about.
 */
export const WOODPECKER_SERVER_VARIABLES: readonly string[] = [
  'WOODPECKER_HOST',
  'WOODPECKER_ADMIN',
  'WOODPECKER_OPEN',
  'WOODPECKER_ORGS',
  'WOODPECKER_AGENT_SECRET',
  // docker-compose.yml's name for the server's WOODPECKER_LOG_LEVEL
  'WOODPECKER_SERVER_LOG_LEVEL',
];
export const WOODPECKER_SERVER_PREFIXES: readonly string[] = [
  'WOODPECKER_FORGEJO',
  'WOODPECKER_GITEA',
  'WOODPECKER_GITHUB',
  'WOODPECKER_GITLAB',
  'WOODPECKER_BITBUCKET',
  'WOODPECKER_DATABASE',
];

function isServerVariable(name: string): boolean {
  return (
    WOODPECKER_SERVER_VARIABLES.includes(name) ||
    WOODPECKER_SERVER_PREFIXES.some((p) => name === p || name.startsWith(`${p}_`))
  );
}

/** The env var names (`WOODPECKER_TOKEN`, `WOODPECKER_TOKEN_FILE`…) of every option in the table. */
export function envNamesOf(specs: readonly OptionSpec[]): string[] {
  return specs.flatMap((s) => [...s.env, ...(s.fileEnv ?? [])]);
}

/**
 * One warning per `WOODPECKER_*` variable in `env` that no option reads (a typo such as `WOODPECKER_MIN_AGENT` would
 * otherwise be silently ignored), naming the closest known variable. The Woodpecker server's own variables
 * ({@link WOODPECKER_SERVER_VARIABLES}) are left alone.
 */
export function unknownEnvWarnings(specs: readonly OptionSpec[], env: Readonly<Record<string, string | undefined>>): string[] {
  const known = envNamesOf(specs);
  const knownSet = new Set(known);
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('WOODPECKER_') || env[name] === undefined || knownSet.has(name) || isServerVariable(name)) continue;
    const guess = closestName(name, known);
    out.push(`${name} is not a twcloud-scaler setting and is ignored${guess ? `; did you mean ${guess}?` : ''}`);
  }
  return out;
}

/**
 * One warning per secret option (`secret: true` in the table) given as a command-line flag: any local user can read
 * a process's arguments (`ps`, `/proc/PID/cmdline`). Names the env var and `*_FILE` alternatives, never the value.
 */
export function secretFlagWarnings(specs: readonly OptionSpec[], cli: CliValues): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    if (spec.secret !== true || cli[spec.flag] === undefined) continue;
    const alternatives = [...spec.env, ...(spec.fileEnv ?? [])];
    const instead = alternatives.length > 0 ? `; set ${alternatives.join(' or ')} instead` : '';
    out.push(
      `--${spec.flag} was given on the command line, where any local user can read it (ps, /proc/PID/cmdline)${instead}`,
    );
  }
  return out;
}
