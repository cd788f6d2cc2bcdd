import { formatDuration } from './duration.js';
import type { OptionSpec, OptionValue, OptionValues } from './types.js';

/** Text form of a value as a user would write it: durations `1m30s`, lists `a,b`, bools `true`. Not redacted. */
export function formatOptionValue(spec: OptionSpec, value: OptionValue): string {
  if (spec.type === 'duration' && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/**
 * Options whose values end up in the agents' user-data, so they may hold credentials (a shared
 * `WOODPECKER_AGENT_SECRET` in `--agent-env`, registry passwords, keys written by a custom template): their values
 * are never printed. `KEY=VALUE` lists keep their keys.
 */
const USER_DATA_KEYS: ReadonlySet<string> = new Set(['agentEnv', 'cloudinitTemplate']);

const REDACTED = '[redacted]';

function userDataValue(value: OptionValue): string {
  if (Array.isArray(value)) {
    return value.map((item) => (item.includes('=') ? `${item.slice(0, item.indexOf('='))}=${REDACTED}` : REDACTED)).join(',');
  }
  const text = String(value);
  return text === '' ? '' : `${REDACTED} (${text.length} characters)`;
}

/** `scheme://user:password@host` → `scheme://[redacted]@host`, anywhere in the text. */
function withoutUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, `$1${REDACTED}@`);
}

/**
 * Effective values by flag name, safe to log or show: secrets that are set become `[redacted]`, values that go
 * into the user-data are redacted (keys of `KEY=VALUE` lists kept), credentials in URLs are removed, and unset
 * values are left out.
 */
export function printableValues(specs: readonly OptionSpec[], values: OptionValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const value = values[spec.key];
    if (value === undefined) continue;
    if (spec.secret) out[spec.flag] = value === '' ? '' : REDACTED;
    else if (USER_DATA_KEYS.has(spec.key)) out[spec.flag] = userDataValue(value);
    else out[spec.flag] = withoutUrlCredentials(formatOptionValue(spec, value));
  }
  return out;
}
