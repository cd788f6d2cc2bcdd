import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coreOptions } from '../../src/config/core-options.js';
import { toCoreConfig } from '../../src/config/core-config.js';
import { ineffectiveSettings } from '../../src/config/no-effect.js';
import { resolveOptions } from '../../src/config/resolve.js';
import type { BillingModel } from '../../src/providers/types.js';

function warnings(env: Record<string, string>, billing: BillingModel): string[] {
  const values = resolveOptions(coreOptions, { cli: {}, env: { WOODPECKER_TOKEN: 't', ...env } });
  return ineffectiveSettings(values, toCoreConfig(values), billing);
}

describe('ineffectiveSettings: settings that change nothing are named at start-up', () => {
  const cases: Array<{ name: string; env: Record<string, string>; billing: BillingModel; want: RegExp[] }> = [
    { name: 'defaults: nothing', env: {}, billing: 'hourly', want: [] },
    { name: 'defaults, per-second: nothing', env: {}, billing: 'per-second', want: [] },
    {
      name: 'idle timeout set under hourly billing',
      env: { WOODPECKER_AGENT_IDLE_TIMEOUT: '30m' },
      billing: 'hourly',
      want: [/^--agent-idle-timeout \(WOODPECKER_AGENT_IDLE_TIMEOUT\) has no effect with hourly billing: a surplus agent is removed in the last 3m/],
    },
    { name: 'idle timeout set under per-second billing: used', env: { WOODPECKER_AGENT_IDLE_TIMEOUT: '30m' }, billing: 'per-second', want: [] },
    {
      name: 'teardown margin set under per-second billing',
      env: { WOODPECKER_AGENT_BILLING_TEARDOWN_MARGIN: '5m' },
      billing: 'per-second',
      want: [/^--agent-billing-teardown-margin \(WOODPECKER_AGENT_BILLING_TEARDOWN_MARGIN\) has no effect with per-second billing/],
    },
    {
      name: 'queue poll with the upstream policy',
      env: { WOODPECKER_SCALING_POLICY: 'upstream', WOODPECKER_QUEUE_POLL_INTERVAL: '2s' },
      billing: 'hourly',
      want: [/^--queue-poll-interval \(WOODPECKER_QUEUE_POLL_INTERVAL\) has no effect with --policy upstream/],
    },
    {
      name: 'warm capacity with the upstream policy',
      env: { WOODPECKER_SCALING_POLICY: 'upstream', WOODPECKER_MIN_IDLE_SLOTS: '2', WOODPECKER_FORECAST: 'true' },
      billing: 'hourly',
      want: [/^--min-idle-slots \(WOODPECKER_MIN_IDLE_SLOTS\), --forecast \(WOODPECKER_FORECAST\) have no effect with --policy upstream/],
    },
    { name: 'upstream policy, warm capacity left at its defaults: nothing', env: { WOODPECKER_SCALING_POLICY: 'upstream' }, billing: 'hourly', want: [] },
    {
      name: 'HTTP token with the listener off',
      env: { WOODPECKER_HTTP_ADDR: 'off', WOODPECKER_HTTP_TOKEN: 'x' },
      billing: 'hourly',
      want: [/^--http-token \(WOODPECKER_HTTP_TOKEN\) has no effect: the HTTP listener is off/],
    },
    {
      name: 'agent TLS verification switches without --grpc-secure',
      env: { WOODPECKER_AGENT_ENV: 'WOODPECKER_GRPC_VERIFY=false,WOODPECKER_GRPC_SKIP_VERIFY=false' },
      billing: 'hourly',
      want: [/^WOODPECKER_GRPC_VERIFY and WOODPECKER_GRPC_SKIP_VERIFY in --agent-env \(WOODPECKER_AGENT_ENV\) have no effect/],
    },
    {
      name: 'the same switches with --grpc-secure: used',
      env: { WOODPECKER_AGENT_ENV: 'WOODPECKER_GRPC_VERIFY=false', WOODPECKER_GRPC_SECURE: 'true' },
      billing: 'hourly',
      want: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = warnings(c.env, c.billing);
      assert.equal(got.length, c.want.length, got.join('\n'));
      c.want.forEach((re, i) => assert.match(got[i] ?? '', re));
    });
  }
});
