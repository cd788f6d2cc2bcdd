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
    assert.equal(p['agent-env'], 'A=[redacted],B=[redacted]');
    assert.equal(p['server-token'], '[redacted]');
    assert.equal(p['http-token'], '');
    assert.equal(p['grpc-secure'], 'false');
    assert.equal('agent-labels' in p, false);
    assert.ok(!JSON.stringify(p).includes('supersecret'));
  });

  it('never prints what goes into the user-data (agent env values, a custom template) nor URL credentials', () => {
    const values = resolveOptions(coreOptions, {
      cli: { 'agent-env': ['WOODPECKER_AGENT_SECRET=shared-agent-secret', 'REGISTRY_PASSWORD=hunter2hunter2', 'NOEQUALS'] },
      env: {
        WOODPECKER_CLOUDINIT_TEMPLATE: '#cloud-config\nruncmd:\n  - echo template-secret-value\n',
        WOODPECKER_SERVER: 'https://admin:basic-auth-pass@ci.example.com/ci',
      },
    });
    const p = printableValues(coreOptions, values);
    assert.equal(p['agent-env'], 'WOODPECKER_AGENT_SECRET=[redacted],REGISTRY_PASSWORD=[redacted],[redacted]');
    assert.match(p['cloudinit-template'] ?? '', /^\[redacted\] \(\d+ characters\)$/);
    assert.equal(p['server-url'], 'https://[redacted]@ci.example.com/ci');
    const text = JSON.stringify(p);
    for (const secret of ['shared-agent-secret', 'hunter2hunter2', 'template-secret-value', 'basic-auth-pass']) {
      assert.ok(!text.includes(secret), `${secret} is printed`);
    }
    assert.equal(printableValues(coreOptions, resolveOptions(coreOptions, { cli: {}, env: {} }))['cloudinit-template'], '');
  });
});
