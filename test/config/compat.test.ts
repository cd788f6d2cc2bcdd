import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coreOptions } from '../../src/config/core-options.js';
import { engineConfigFrom, toCoreConfig } from '../../src/config/core-config.js';
import { parseGrpcAddr } from '../../src/config/grpc-addr.js';
import { resolveOptions, valueSource } from '../../src/config/resolve.js';
import type { CliValues } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/types.js';

const BROKEN = '#cloud-config\nruncmd:\n  - {{ .Image \n';
const GOOD = '#cloud-config\nruncmd:\n  - echo {{ .Image }}\n';

function core(env: Record<string, string>, cli: CliValues = {}, files: Record<string, string> = {}) {
  const values = resolveOptions(coreOptions, {
    cli,
    env: { WOODPECKER_TOKEN: 't', ...env },
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error('ENOENT');
      return f;
    },
  });
  return toCoreConfig(values);
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('Go autoscaler 1.5.0 names', () => {
  it('WOODPECKER_PROVIDER_USERDATA, its _FILE and --provider-user-data set the user-data template', () => {
    assert.equal(core({ WOODPECKER_PROVIDER_USERDATA: GOOD }).cloudinitTemplate, GOOD);
    assert.equal(core({ WOODPECKER_PROVIDER_USERDATA_FILE: '/t' }, {}, { '/t': `${GOOD}\n` }).cloudinitTemplate, GOOD);
    assert.equal(core({}, { 'provider-user-data': GOOD }).cloudinitTemplate, GOOD);
    assert.equal(core({ WOODPECKER_CLOUDINIT_TEMPLATE: GOOD }).cloudinitTemplate, GOOD);
    // The same template under both names (a migration in progress) is fine.
    assert.equal(core({ WOODPECKER_CLOUDINIT_TEMPLATE: GOOD, WOODPECKER_PROVIDER_USERDATA: GOOD }).cloudinitTemplate, GOOD);
  });

  it('a broken template is reported under the variable that was actually set', () => {
    const cases: Array<[Record<string, string>, CliValues, string]> = [
      [{ WOODPECKER_PROVIDER_USERDATA: BROKEN }, {}, 'invalid value for --provider-user-data (WOODPECKER_PROVIDER_USERDATA): '],
      [{ WOODPECKER_PROVIDER_USERDATA_FILE: '/t' }, {}, 'invalid value for --provider-user-data (WOODPECKER_PROVIDER_USERDATA_FILE): '],
      [{}, { 'provider-user-data': BROKEN }, 'invalid value for --provider-user-data (WOODPECKER_PROVIDER_USERDATA, WOODPECKER_PROVIDER_USERDATA_FILE): '],
      [{ WOODPECKER_CLOUDINIT_TEMPLATE: BROKEN }, {}, 'invalid value for --cloudinit-template (WOODPECKER_CLOUDINIT_TEMPLATE): '],
    ];
    for (const [env, cli, prefix] of cases) {
      const msg = configError(() => core(env, cli, { '/t': BROKEN }));
      assert.ok(msg.startsWith(prefix), msg);
      if (!prefix.includes('cloudinit')) assert.doesNotMatch(msg, /CLOUDINIT/);
    }
  });

  it('two different templates under both names are an error naming both', () => {
    const msg = configError(() => core({ WOODPECKER_CLOUDINIT_TEMPLATE: GOOD, WOODPECKER_PROVIDER_USERDATA: `${GOOD}# x\n` }));
    assert.match(msg, /WOODPECKER_CLOUDINIT_TEMPLATE and WOODPECKER_PROVIDER_USERDATA are set, to different templates/);
  });

  it('WOODPECKER_FILTER_LABELS / --filter-labels: one key=value cut at the first "=", untrimmed', () => {
    assert.equal(core({}).filterLabels, undefined);
    assert.deepEqual(core({ WOODPECKER_FILTER_LABELS: 'platform=linux/arm64' }).filterLabels, { key: 'platform', value: 'linux/arm64' });
    assert.deepEqual(core({}, { 'filter-labels': 'a=b=c' }).filterLabels, { key: 'a', value: 'b=c' });
    assert.deepEqual(core({ WOODPECKER_FILTER_LABELS: 'gpu=' }).filterLabels, { key: 'gpu', value: '' });
    const c = core({ WOODPECKER_FILTER_LABELS: 'region=spb' });
    assert.deepEqual(engineConfigFrom(c, 'hourly').filterLabels, { key: 'region', value: 'spb' });
    assert.equal('filterLabels' in engineConfigFrom(core({}), 'hourly'), false);
  });

  it('a filter without "=" is the start-up error "invalid labels filter"', () => {
    const msg = configError(() => core({ WOODPECKER_FILTER_LABELS: 'linux' }));
    assert.ok(msg.startsWith('invalid value for --filter-labels (WOODPECKER_FILTER_LABELS): invalid labels filter: linux'), msg);
  });

  it('errors name the legacy alias when it supplied the value', () => {
    const msg = configError(() => core({ WOODPECKER_AGENT_ALLOWED_STARTUP_TIME: '10' }));
    assert.ok(msg.startsWith('invalid value for --agent-inactivity-timeout (WOODPECKER_AGENT_ALLOWED_STARTUP_TIME): '), msg);
    const values = resolveOptions(coreOptions, { cli: { 'pool-id': '2' }, env: { WOODPECKER_AGENT_ALLOWED_STARTUP_TIME: '5m' } });
    assert.equal(valueSource(values, 'agentInactivityTimeout'), 'WOODPECKER_AGENT_ALLOWED_STARTUP_TIME');
    assert.equal(valueSource(values, 'poolId'), '--pool-id');
    assert.equal(valueSource(values, 'minAgents'), undefined);
  });
});

describe('--grpc-addr', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /it is empty/],
    ['   ', /it is empty/],
    ['https://ci.example.com:9000', /has a scheme \(https:\/\/\)/],
    ['grpc://ci.example.com:9000', /has a scheme/],
    ['ci.example.com', /has no port/],
    [':9000', /has no host/],
    ['ci.example.com:0', /invalid port/],
    ['ci.example.com:65536', /invalid port/],
    ['ci.example.com:90a', /invalid port/],
    ['ci.example.com:9000/path', /invalid port/],
    ['ci_example.com:9000', /invalid host name/],
    ['::1:9000', /write IPv6 as \[addr\]:port/],
    ['[zz::1]:9000', /invalid IPv6/],
    ['unix://run/wp.sock', /unix:\/\/\/absolute\/path/],
  ];
  for (const [addr, why] of bad) {
    it(`${JSON.stringify(addr)} stops the start, naming the variable`, () => {
      const msg = configError(() => core({ WOODPECKER_GRPC_ADDR: addr }));
      assert.ok(msg.startsWith('invalid value for --grpc-addr (WOODPECKER_GRPC_ADDR): '), msg);
      assert.match(msg, why);
    });
  }
  it('accepts host:port, IPs, [ipv6]:port and unix:///path', () => {
    assert.deepEqual(parseGrpcAddr('ci.example.com:9000'), { kind: 'tcp', host: 'ci.example.com', port: 9000 });
    assert.deepEqual(parseGrpcAddr('203.0.113.7:443'), { kind: 'tcp', host: '203.0.113.7', port: 443 });
    assert.deepEqual(parseGrpcAddr('[2001:db8::1]:9000'), { kind: 'tcp', host: '2001:db8::1', port: 9000 });
    assert.deepEqual(parseGrpcAddr('unix:///run/woodpecker.sock'), { kind: 'unix', path: '/run/woodpecker.sock' });
    assert.deepEqual(parseGrpcAddr('woodpecker-server:9000'), { kind: 'tcp', host: 'woodpecker-server', port: 9000 });
    assert.equal(core({ WOODPECKER_GRPC_ADDR: ' ci.example.com:65535 ' }).grpcAddr, 'ci.example.com:65535');
  });
  it('the flag is named when the flag supplied the value', () => {
    const msg = configError(() => core({}, { 'grpc-addr': 'http://x:1' }));
    assert.ok(msg.startsWith('invalid value for --grpc-addr (WOODPECKER_GRPC_ADDR): '), msg);
  });
});
