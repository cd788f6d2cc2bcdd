import { providers as registeredProviders } from '../providers/registry.js';
import type { ProviderDefinition } from '../providers/types.js';
import { coreOptions } from './core-options.js';
import type { DocSection } from './docs.js';
import type { OptionSpec } from './types.js';

/** Docs sections: the core options, then one section per provider (in registry order). */
export function configSections(providers: readonly ProviderDefinition[] = registeredProviders): DocSection[] {
  return [
    { title: 'Core options', specs: coreOptions },
    ...providers.map((p) => ({ title: `Provider: ${p.name}`, intro: p.description, specs: p.options })),
  ];
}

/** Every option: core, then each provider's (for the CLI's flags). */
export function allOptionSpecs(providers: readonly ProviderDefinition[] = registeredProviders): OptionSpec[] {
  return [...coreOptions, ...providers.flatMap((p) => p.options)];
}

/**
 * Problems in a spec table: duplicate keys, flags or env var names, env names that are not upper-case,
 * defaults of the wrong type. Empty when the table is sound.
 */
export function specTableProblems(specs: readonly OptionSpec[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const claim = (what: string, owner: string): void => {
    const prev = seen.get(what);
    if (prev !== undefined) problems.push(`${what} is used by both --${prev} and --${owner}`);
    else seen.set(what, owner);
  };
  for (const s of specs) {
    claim(`key ${s.key}`, s.flag);
    claim(`flag --${s.flag}`, s.flag);
    for (const e of [...s.env, ...(s.fileEnv ?? [])]) {
      claim(`env ${e}`, s.flag);
      if (!/^[A-Z][A-Z0-9_]*$/.test(e)) problems.push(`--${s.flag}: env name ${e} is not UPPER_SNAKE_CASE`);
    }
    if (!/^[a-z][a-z0-9-]*$/.test(s.flag)) problems.push(`--${s.flag}: flag is not lower-kebab-case`);
    const d = s.default;
    if (d !== undefined) {
      const ok =
        s.type === 'list'
          ? Array.isArray(d)
          : s.type === 'bool'
            ? typeof d === 'boolean'
            : s.type === 'string'
              ? typeof d === 'string'
              : typeof d === 'number';
      if (!ok) problems.push(`--${s.flag}: default ${JSON.stringify(d)} does not match type ${s.type}`);
    }
  }
  return problems;
}
