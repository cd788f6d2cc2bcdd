/**
 * One row of the configuration table. The table drives CLI flags, env vars (first set wins, then `*_FILE`),
 * parsing, validation, `--help` and docs/configuration.md.
 */
export type OptionType = 'string' | 'int' | 'float' | 'bool' | 'duration' | 'list';

/** Parsed value: durations are milliseconds, lists are trimmed string arrays. */
export type OptionValue = string | number | boolean | string[];

export type OptionValues = Readonly<Record<string, OptionValue | undefined>>;

export interface OptionSpec {
  /** camelCase key of the parsed value, e.g. `poolId`. */
  key: string;
  /** Long flag without dashes, e.g. `pool-id`. */
  flag: string;
  /** Env vars, first set wins, e.g. [`WOODPECKER_POOL_ID`]. */
  env: readonly string[];
  /** Env vars naming a file whose content is the value (trailing newline trimmed); read after `env`. */
  fileEnv?: readonly string[];
  type: OptionType;
  /** Default value in parsed form (durations in ms). Undefined = unset. */
  default?: OptionValue;
  description: string;
  /** Help/docs section, e.g. `Scaling`, `Woodpecker server`, `Timeweb Cloud`. */
  category: string;
  /** Never print the value (tokens). */
  secret?: boolean;
  /**
   * The daemon cannot start without a non-empty value (a provider option: only with that provider). Start-up lists
   * every missing one at once.
   */
  required?: boolean;
  /** True when the Go autoscaler has the same flag (drop-in compatibility table). */
  upstream?: boolean;
  /** Extra validation; return an error message (without the flag name) or undefined. */
  validate?: (value: OptionValue, all: OptionValues) => string | undefined;
  /** Placeholder in help, e.g. `DURATION`. */
  placeholder?: string;
}

/** A start-up configuration error; the message names the flag and its env var. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
