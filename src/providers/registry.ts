import type { ProviderDefinition } from './types.js';
import { timewebCloudProvider } from './timeweb/provider.js';

/** Every provider `--provider` can select. Each provider's options join the one configuration table. */
export const providers: readonly ProviderDefinition[] = [timewebCloudProvider];

export function findProvider(name: string): ProviderDefinition | undefined {
  return providers.find((p) => p.name === name);
}

/** The error for an unknown `--provider`, listing the known ones. */
export function unknownProviderMessage(name: string): string {
  const known = providers.map((p) => p.name).join(', ');
  return name === ''
    ? `please select a provider with --provider (WOODPECKER_PROVIDER); known: ${known}`
    : `unknown provider: ${name}; known: ${known}`;
}
