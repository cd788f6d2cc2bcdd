import type { ProviderDefinition } from '../providers/types.js';
import { optionLabel } from './resolve.js';
import type { OptionSpec, OptionValues } from './types.js';

/**
 * The settings the daemon cannot start without (`required: true` in the table), each as `--flag (ENV, ENV_FILE)`,
 * all at once. A provider's required options count when that provider is chosen, and every provider's when none is
 * (marked `for --provider NAME`), so one run names everything still to set.
 */
export function missingSettings(
  values: OptionValues,
  coreSpecs: readonly OptionSpec[],
  providers: readonly ProviderDefinition[],
): string[] {
  const isMissing = (spec: OptionSpec): boolean => {
    const v = values[spec.key] ?? spec.default;
    return v === undefined || (typeof v === 'string' && v.trim() === '') || (Array.isArray(v) && v.length === 0);
  };
  const out: string[] = [];
  for (const spec of coreSpecs) {
    if (spec.required !== true || !isMissing(spec)) continue;
    const known = spec.key === 'provider' ? `: one of ${providers.map((p) => p.name).join(', ')}` : '';
    out.push(`${optionLabel(spec)}${known}`);
  }
  const chosen = typeof values.provider === 'string' ? values.provider.trim() : '';
  for (const p of chosen === '' ? providers : providers.filter((d) => d.name === chosen)) {
    for (const spec of p.options) {
      if (spec.required === true && isMissing(spec)) {
        out.push(`${optionLabel(spec)}${chosen === '' ? ` (for --provider ${p.name})` : ''}`);
      }
    }
  }
  return out;
}

/** The configuration error for {@link missingSettings}: one line per setting. */
export function missingSettingsMessage(missing: readonly string[]): string {
  return [
    `missing settings (give each as the flag or one of its environment variables):`,
    ...missing.map((m) => `  ${m}`),
    'Run `twcloud-scaler demo` for the sandbox demo, which needs none of them; --help lists every setting.',
  ].join('\n');
}
