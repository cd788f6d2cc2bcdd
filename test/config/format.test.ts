import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coreOptions } from '../../src/config/core-options.js';
import { printableValues } from '../../src/config/format.js';
import { resolveOptions } from '../../src/config/resolve.js';

describe('printableValues', () => {
  it('formats durations and lists, redacts secrets, leaves out unset values', () => {
    const values = resolveOptions(coreOptions, {
      cli: { 'agent-env': ['A=1', 'B=2'] },
      env: { WOODPECKER_TOKEN: 'supersecret', WOODPECKER_HTTP_TOKEN: '' },
    });
    const p = printableValues(coreOptions, values);
    assert.equal(p['reconciliation-interval'], '1m');
    assert.equal(p['agent-env'], 'A=1,B=2');
    assert.equal(p['server-token'], '[redacted]');
    assert.equal(p['http-token'], '');
    assert.equal(p['grpc-secure'], 'false');
    assert.equal('agent-labels' in p, false);
    assert.ok(!JSON.stringify(p).includes('supersecret'));
  });
});
