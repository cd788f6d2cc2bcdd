import type { BillingModel } from '../providers/types.js';
import type { CoreConfig } from './core-config.js';
import { coreOptions } from './core-options.js';
import { formatDuration } from './duration.js';
import { optionLabel, valueSource } from './resolve.js';
import type { OptionValues } from './types.js';

function label(values: OptionValues, key: string): string {
  const spec = coreOptions.find((s) => s.key === key);
  return spec === undefined ? key : optionLabel(spec, valueSource(values, key));
}

function given(values: OptionValues, key: string): boolean {
  return valueSource(values, key) !== undefined;
}

/**
 * Settings the user gave that change nothing in this configuration, each as one sentence for a start-up warning:
 * the idle timeout under hourly billing (the Go autoscaler's main ignores it there too, without a word), the
 * teardown margin under per-second billing, the queue poll under the upstream policy, the HTTP token with the
 * listener off, and TLS verification switches for agents that do not use TLS. Pure; values from `resolveOptions`.
 */
export function ineffectiveSettings(values: OptionValues, core: CoreConfig, billing: BillingModel): string[] {
  const out: string[] = [];
  if (billing === 'hourly' && given(values, 'agentIdleTimeout')) {
    out.push(
      `${label(values, 'agentIdleTimeout')} has no effect with hourly billing: a surplus agent is removed in the last ` +
        `${formatDuration(core.agentBillingTeardownMargin + core.reconciliationInterval)} before its next paid hour ` +
        '(--agent-billing-teardown-margin + --reconciliation-interval), however long it has been idle. ' +
        'Per-second billing (WOODPECKER_TIMEWEBCLOUD_BILLING=per-second) uses the idle timeout',
    );
  }
  if (billing === 'per-second' && given(values, 'agentBillingTeardownMargin')) {
    out.push(
      `${label(values, 'agentBillingTeardownMargin')} has no effect with per-second billing: ` +
        '--agent-idle-timeout decides when a surplus agent goes',
    );
  }
  if (core.policy === 'upstream' && given(values, 'queuePollInterval')) {
    out.push(`${label(values, 'queuePollInterval')} has no effect with --policy upstream (it reads the queue once per reconcile)`);
  }
  if (core.policy === 'upstream') {
    const warm = ['minIdleSlots', 'schedule', 'forecast', 'bootTime'].filter((k) => given(values, k)).map((k) => label(values, k));
    if (warm.length > 0) {
      out.push(`${warm.join(', ')} ha${warm.length > 1 ? 've' : 's'} no effect with --policy upstream: warm capacity is the default policy's`);
    }
  }
  if (core.httpAddr === undefined && core.httpToken !== undefined) {
    out.push(`${label(values, 'httpToken')} has no effect: the HTTP listener is off (--http-addr off)`);
  }
  if (!core.grpcSecure) {
    const tls = Object.keys(core.agentEnv).filter((k) => k === 'WOODPECKER_GRPC_VERIFY' || k === 'WOODPECKER_GRPC_SKIP_VERIFY');
    if (tls.length > 0) {
      out.push(
        `${tls.join(' and ')} in ${label(values, 'agentEnv')} ha${tls.length > 1 ? 've' : 's'} no effect: the agents ` +
          'do not use TLS (--grpc-secure, WOODPECKER_GRPC_SECURE is false)',
      );
    }
  }
  return out;
}
