import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toCoreConfig } from '../../src/config/core-config.js';
import { coreOptions } from '../../src/config/core-options.js';
import { resolveOptions } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/types.js';
import { base32, deriveInstallationId, nameTag, normalizeServerUrl } from '../../src/engine/identity.js';
import { agentNameFor, isOurAgentName, newAgentName, poolNamePattern } from '../../src/engine/pool.js';
import { seededRandom } from '../../src/util/clock.js';

function core(env: Record<string, string>): ReturnType<typeof toCoreConfig> {
  return toCoreConfig(resolveOptions(coreOptions, { cli: {}, env: { WOODPECKER_TOKEN: 'tok', ...env } }));
}

describe('installation identity', () => {
  it('derives 10 base32 characters from the normalized server URL and the pool id', () => {
    const id = deriveInstallationId('https://ci.example.com', '1');
    assert.match(id, /^[a-z2-7]{10}$/);
    // The same installation, however the URL is spelled.
    for (const same of ['https://CI.Example.com', 'https://ci.example.com/', 'https://ci.example.com:443', 'HTTPS://ci.example.com//']) {
      assert.equal(deriveInstallationId(same, '1'), id, same);
    }
    // Another installation: another pool, host, scheme, port or path prefix.
    const others = [
      ['https://ci.example.com', '2'],
      ['https://ci2.example.com', '1'],
      ['http://ci.example.com', '1'],
      ['https://ci.example.com:8443', '1'],
      ['https://ci.example.com/team-a', '1'],
    ] as const;
    const ids = new Set([id, ...others.map(([u, p]) => deriveInstallationId(u, p))]);
    assert.equal(ids.size, others.length + 1);
    assert.equal(normalizeServerUrl('https://CI.example.com:443/ci/'), 'https://ci.example.com/ci');
    assert.equal(normalizeServerUrl('http://h:80/?q=1#x'), 'http://h');
  });

  it('base32 is RFC 4648 (lowercase, unpadded)', () => {
    assert.equal(base32(new TextEncoder().encode('foobar')), 'mzxw6ytboi');
    assert.equal(base32(new Uint8Array([])), '');
  });

  it('the daemon config: explicit id wins, else derived; a bad id names the flag', () => {
    const derived = core({ WOODPECKER_SERVER: 'https://ci.example.com/', WOODPECKER_POOL_ID: '7' });
    assert.equal(derived.installationId, deriveInstallationId('https://ci.example.com', '7'));
    assert.equal(core({ WOODPECKER_INSTALLATION_ID: 'prod-ci-1' }).installationId, 'prod-ci-1');
    for (const bad of ['Prod', 'a_b', 'a.b', 'x'.repeat(33), 'ä']) {
      assert.throws(
        () => core({ WOODPECKER_INSTALLATION_ID: bad }),
        (e: unknown) => e instanceof ConfigError && /--installation-id/.test(e.message) && /WOODPECKER_INSTALLATION_ID/.test(e.message),
        bad,
      );
    }
  });
});

describe('agent names prove the installation', () => {
  const A = { poolId: '1', installationId: 'inst-a' };
  const B = { poolId: '1', installationId: 'inst-b' };

  it('verify/forge table', () => {
    const ours = agentNameFor(A, 'k3x9q0');
    const table: [string, string, boolean][] = [
      ['a name A made', ours, true],
      ['a person\'s agent', 'pool-1-agent-manual', false],
      ["the Go autoscaler's agent (4 random letters)", 'pool-1-agent-AbCd', false],
      ["installation B's valid-looking name (another key)", agentNameFor(B, 'k3x9q0'), false],
      ['the right nonce with a guessed tag', `pool-1-agent-k3x9q0${'a'.repeat(6)}`, ours.endsWith('aaaaaa')],
      ['upper case of our name', ours.toUpperCase(), false],
      ['another pool with our tag', ours.replace('pool-1-', 'pool-2-'), false],
      ['our name with a suffix', `${ours}x`, false],
      ['a prefix of our name', ours.slice(0, -1), false],
    ];
    for (const [what, name, verified] of table) assert.equal(isOurAgentName(name, A), verified, what);
    assert.ok(poolNamePattern('1').test(ours), 'still the pool pattern (a Timeweb server gets the same name)');
    assert.ok(isOurAgentName(agentNameFor(B, 'k3x9q0'), B));
    assert.notEqual(nameTag('inst-a', '1', 'k3x9q0'), nameTag('inst-a', '2', 'k3x9q0'), 'the pool is part of the message');
  });

  it('random names of one installation never verify for another (1000 names)', () => {
    const random = seededRandom(3);
    for (let i = 0; i < 1000; i++) {
      const name = newAgentName(A, random, new Set());
      assert.ok(isOurAgentName(name, A));
      assert.ok(!isOurAgentName(name, B), name);
    }
  });
});
