import { formatDuration } from './duration.js';
import type { OptionSpec, OptionValue, OptionValues } from './types.js';

/** Text form of a value as a user would write it: durations `1m30s`, lists `a,b`, bools `true`. Not redacted. */
export function formatOptionValue(spec: OptionSpec, value: OptionValue): string {
  if (spec.type === 'duration' && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/**
 * Effective values by flag name, safe to log or show: secrets that are set become `[redacted]`,
 * unset values are left out.
 */
export function printableValues(specs: readonly OptionSpec[], values: OptionValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const value = values[spec.key];
    if (value === undefined) continue;
    out[spec.flag] = spec.secret ? (value === '' ? '' : '[redacted]') : formatOptionValue(spec, value);
  }
  return out;
}
