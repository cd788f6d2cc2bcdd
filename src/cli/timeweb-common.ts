import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { CoreConfig } from '../config/core-config.js';
import { ConfigError } from '../config/types.js';
import { createLogger } from '../observability/logger.js';
import { TimewebApiError, TimewebClient } from '../providers/timeweb/client.js';
import type { TimewebOptionValues } from '../providers/timeweb/options.js';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { WoodpeckerApiError } from '../woodpecker/client.js';

/** Shared plumbing of the `timeweb` tools: I/O, loggers, the API client, error messages for humans. */

/** What the list and test commands share once the I/O defaults are applied. */
export interface ToolDeps {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  out: (s: string) => void;
  stderr: ((s: string) => void) | undefined;
  fetch: FetchFn;
  clock: Clock;
  random: RandomFn;
  readFile: (path: string) => string;
  onInterrupt: (handler: (signal: string) => void) => () => void;
}


/** A pino logger for provider messages (`info` with --verbose, else only warnings). */
export function toolLogger(deps: ToolDeps, level: string): Logger {
  const write = deps.stderr;
  if (write === undefined) return createLogger({ level });
  const destination = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      write(String(chunk));
      cb();
    },
  });
  return createLogger({ level, destination });
}

export function makeClient(
  t: TimewebOptionValues,
  core: Pick<CoreConfig, 'requestTimeout'>,
  deps: Pick<ToolDeps, 'fetch' | 'clock' | 'random'>,
): TimewebClient {
  return new TimewebClient({
    baseUrl: t.apiUrl,
    token: t.apiToken,
    fetch: deps.fetch,
    clock: deps.clock,
    random: deps.random,
    timeoutMs: core.requestTimeout,
  });
}


const TOKEN_HELP =
  'Set a valid token with --timewebcloud-api-token or WOODPECKER_TIMEWEBCLOUD_API_TOKEN ' +
  '(or a file named by WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE). Create one in the Timeweb Cloud panel, ' +
  'section "API и Terraform" (https://timeweb.cloud/my/api-keys), with delete permission.';

/** A message a new user can act on, and the exit code (2 = configuration, 1 = anything else). */
export function describeToolError(err: unknown, apiUrl?: string): { message: string; exitCode: number } {
  if (err instanceof TimewebApiError) {
    if (err.status === 401) {
      return { message: `Timeweb Cloud rejected the API token (HTTP 401: invalid or expired). ${TOKEN_HELP}`, exitCode: 1 };
    }
    if (err.status === 403) {
      return {
        message: `the API token may not do this (HTTP 403, ${err.endpoint}): give the token access to cloud servers. ${err.message}`,
        exitCode: 1,
      };
    }
    if (err.kind === 'network' || err.kind === 'timeout') {
      return {
        message:
          `${err.message}. Check --timewebcloud-api-url (WOODPECKER_TIMEWEBCLOUD_API_URL${apiUrl ? `, now ${apiUrl}` : ''}) ` +
          'and the network.',
        exitCode: 1,
      };
    }
    return { message: err.message, exitCode: 1 };
  }
  if (err instanceof ConfigError) {
    // The provider's start-up check turns a 401 into a ConfigError naming the token flag: add where to get one.
    const extra = /HTTP 401/.test(err.message) ? ` ${TOKEN_HELP}` : '';
    return { message: `configuration error: ${err.message}${extra}`, exitCode: 2 };
  }
  if (err instanceof WoodpeckerApiError) {
    const hint =
      err.status === 401 || err.status === 403
        ? ' Check --server-token (WOODPECKER_TOKEN): it must be a personal access token of a Woodpecker admin.'
        : err.status === 0
          ? ' Check --server-url (WOODPECKER_SERVER).'
          : '';
    return { message: `Woodpecker server: ${err.message}.${hint}`, exitCode: 1 };
  }
  if (err instanceof Error) return { message: err.message, exitCode: 1 };
  return { message: String(err), exitCode: 1 };
}

