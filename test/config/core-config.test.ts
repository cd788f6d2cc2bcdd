import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coreOptions } from '../../src/config/core-options.js';
import { engineConfigFrom, isLoopbackAddr, parseHostPort, toCoreConfig } from '../../src/config/core-config.js';
import { resolveOptions } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/types.js';
import { deriveInstallationId } from '../../src/engine/identity.js';
import type { OptionValue } from '../../src/config/types.js';

function valuesFrom(env: Record<string, string>) {
  return resolveOptions(coreOptions, { cli: {}, env: { WOODPECKER_TOKEN: 'tok', ...env } });
}

describe('toCoreConfig', () => {
  it('builds the typed config from defaults', () => {
    const c = toCoreConfig(valuesFrom({}));
    assert.deepEqual(c, {
      logLevel: 'info',
      logFormat: 'auto',
      reconciliationInterval: 60_000,
      poolId: '1',
      installationId: deriveInstallationId('http://localhost:8000', '1'),
      installationIdSource: 'derived from --server-url and --pool-id',
      minAgents: 1,
      maxAgents: 10,
      agentInactivityTimeout: 600_000,
      agentIdleTimeout: 600_000,
      agentBillingTeardownMargin: 120_000,
      workflowsPerAgent: 2,
      serverUrl: 'http://localhost:8000',
      serverToken: 'tok',
      grpcAddr: 'woodpecker-server:9000',
      grpcSecure: false,
      provider: '',
      cloudinitTemplate: '',
      filterLabels: undefined,
      agentImage: 'woodpeckerci/woodpecker-agent:v3',
      agentEnv: {},
      agentLabels: {},
      policy: 'default',
      queuePollInterval: 2000,
      eventStream: true,
      minIdleSlots: 0,
      forecast: true,
      bootTime: 120_000,
      schedules: [],
      timeZone: 'UTC',
      budgetDaily: undefined,
      budgetMonthly: undefined,
      stateFile: undefined,
      danglingGrace: 120_000,
      requestTimeout: 30_000,
      httpAddr: '127.0.0.1:8080',
      httpToken: undefined,
      dryRun: false,
      once: false,
    });
  });

  it('missing keys fall back to the table defaults', () => {
    const c = toCoreConfig({ serverToken: 'x', minAgents: 0, maxAgents: 3 });
    assert.equal(c.minAgents, 0);
    assert.equal(c.maxAgents, 3);
    assert.equal(c.workflowsPerAgent, 2);
  });

  it('parses agent-env and agent-labels at the first "=", trimming key and value', () => {
    const c = toCoreConfig(
      valuesFrom({
        WOODPECKER_AGENT_ENV: 'A=1,B = x=y ,A=2',
        WOODPECKER_AGENT_LABELS: 'arch=amd64, gpu = no',
      }),
    );
    assert.deepEqual(c.agentEnv, { A: '2', B: 'x=y' });
    assert.deepEqual(c.agentLabels, { arch: 'amd64', gpu: 'no' });
  });

  it('strips trailing slashes from server-url but keeps the path prefix', () => {
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_SERVER: 'https://ci.example.com/' })).serverUrl, 'https://ci.example.com');
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_SERVER: 'https://x.io/ci//' })).serverUrl, 'https://x.io/ci');
  });

  it('resolves dangling-grace 0 to 2 × interval and keeps an explicit value', () => {
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_RECONCILIATION_INTERVAL: '30s' })).danglingGrace, 60_000);
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_DANGLING_GRACE: '7m' })).danglingGrace, 420_000);
  });

  it('http-addr off or empty disables the listener; http-token empty is undefined', () => {
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_ADDR: 'off' })).httpAddr, undefined);
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_ADDR: '' })).httpAddr, undefined);
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_ADDR: '0.0.0.0:9000' })).httpAddr, '0.0.0.0:9000');
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_TOKEN: '' })).httpToken, undefined);
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_TOKEN: 'h' })).httpToken, 'h');
  });

  it('a non-loopback http-addr without http-token is allowed', () => {
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_HTTP_ADDR: ':8080' })).httpAddr, ':8080');
  });

  it('log level: case-insensitive, panic is fatal', () => {
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_LOG_LEVEL: 'DEBUG' })).logLevel, 'debug');
    assert.equal(toCoreConfig(valuesFrom({ WOODPECKER_LOG_LEVEL: 'panic' })).logLevel, 'fatal');
  });

  it('requireServer: false accepts a missing token and server URL', () => {
    const c = toCoreConfig(resolveOptions(coreOptions, { cli: {}, env: { WOODPECKER_SERVER: '' } }), { requireServer: false });
    assert.equal(c.serverToken, '');
    assert.equal(c.serverUrl, '');
  });

  const errors: [string, Record<string, OptionValue | undefined>, string[]][] = [
    ['workflows-per-agent 0', { workflowsPerAgent: 0 }, ['--workflows-per-agent', 'WOODPECKER_WORKFLOWS_PER_AGENT', 'at least 1']],
    ['min-agents -1', { minAgents: -1 }, ['--min-agents', 'WOODPECKER_MIN_AGENTS', '0 or more']],
    ['max-agents 0', { maxAgents: 0, minAgents: 0 }, ['--max-agents', 'WOODPECKER_MAX_AGENTS', 'at least 1']],
    ['min > max', { minAgents: 5, maxAgents: 2 }, ['--min-agents', 'WOODPECKER_MIN_AGENTS', '--max-agents', 'WOODPECKER_MAX_AGENTS']],
    ['interval 0', { reconciliationInterval: 0 }, ['--reconciliation-interval', 'WOODPECKER_RECONCILIATION_INTERVAL', 'greater than 0']],
    ['negative idle timeout', { agentIdleTimeout: -1 }, ['--agent-idle-timeout', 'WOODPECKER_AGENT_IDLE_TIMEOUT', '0 or more']],
    [
      'negative inactivity timeout',
      { agentInactivityTimeout: -1000 },
      ['--agent-inactivity-timeout', 'WOODPECKER_AGENT_INACTIVITY_TIMEOUT', 'WOODPECKER_AGENT_ALLOWED_STARTUP_TIME'],
    ],
    ['negative margin', { agentBillingTeardownMargin: -1 }, ['--agent-billing-teardown-margin', 'WOODPECKER_AGENT_BILLING_TEARDOWN_MARGIN']],
    ['negative queue poll', { queuePollInterval: -1 }, ['--queue-poll-interval', 'WOODPECKER_QUEUE_POLL_INTERVAL']],
    ['negative dangling grace', { danglingGrace: -1 }, ['--dangling-grace', 'WOODPECKER_DANGLING_GRACE']],
    ['request-timeout 0', { requestTimeout: 0 }, ['--request-timeout', 'WOODPECKER_REQUEST_TIMEOUT', 'greater than 0']],
    ['empty server-url', { serverUrl: '' }, ['--server-url', 'WOODPECKER_SERVER', 'please provide the woodpecker server address']],
    ['server-url not a URL', { serverUrl: 'ci.example.com' }, ['--server-url', 'WOODPECKER_SERVER', 'not a URL']],
    ['server-url ftp', { serverUrl: 'ftp://ci.example.com' }, ['--server-url', 'WOODPECKER_SERVER', 'http:// or https://']],
    ['server-url with query', { serverUrl: 'https://ci.example.com/?a=1' }, ['--server-url', 'query']],
    ['missing token', { serverToken: undefined }, ['--server-token', 'WOODPECKER_TOKEN', 'WOODPECKER_TOKEN_FILE', 'please provide a woodpecker access token']],
    ['empty token', { serverToken: '' }, ['--server-token', 'WOODPECKER_TOKEN', 'access token']],
    ['unknown log level', { logLevel: 'verbose' }, ['--log-level', 'WOODPECKER_LOG_LEVEL', 'unknown log level "verbose"']],
    ['unknown log format', { logFormat: 'xml' }, ['--log-format', 'WOODPECKER_LOG_FORMAT', '"xml"']],
    ['unknown policy', { policy: 'fast' }, ['--policy', 'WOODPECKER_SCALING_POLICY', '"fast" is not one of default, upstream']],
    ['agent-env without =', { agentEnv: ['FOO'] }, ['--agent-env', 'WOODPECKER_AGENT_ENV', 'invalid agent environment variable: "FOO"']],
    ['agent-env empty value', { agentEnv: ['FOO='] }, ['--agent-env', 'WOODPECKER_AGENT_ENV', 'invalid agent environment variable: "FOO="']],
    ['agent-env empty key', { agentEnv: [' =x'] }, ['--agent-env', 'WOODPECKER_AGENT_ENV', 'invalid agent environment variable']],
    [
      'agent-env sets WOODPECKER_AGENT_LABELS',
      { agentEnv: ['WOODPECKER_AGENT_LABELS=a=b'] },
      ['--agent-env', `'WOODPECKER_AGENT_ENV' has forbidden env var set: "WOODPECKER_AGENT_LABELS"`],
    ],
    ['agent-labels without =', { agentLabels: ['gpu'] }, ['--agent-labels', 'WOODPECKER_AGENT_LABELS', 'invalid agent labels variable: "gpu"']],
    ['http-addr without port', { httpAddr: 'localhost' }, ['--http-addr', 'WOODPECKER_HTTP_ADDR', 'missing port']],
    ['http-addr bad port', { httpAddr: '127.0.0.1:99999' }, ['--http-addr', 'WOODPECKER_HTTP_ADDR', 'invalid port']],
    ['http-addr bare IPv6', { httpAddr: '::1:8080' }, ['--http-addr', 'WOODPECKER_HTTP_ADDR', '[addr]:port']],
    ['empty pool-id', { poolId: '' }, ['--pool-id', 'WOODPECKER_POOL_ID', 'not a valid pool ID']],
    ['pool-id with regex characters', { poolId: 'a.*' }, ['--pool-id', 'WOODPECKER_POOL_ID']],
    ['wrong value type', { minAgents: 'x' }, ['--min-agents', 'expected a number']],
  ];
  const base = valuesFrom({});
  for (const [name, override, parts] of errors) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => toCoreConfig({ ...base, ...override }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
          for (const p of parts) assert.ok(err.message.includes(p), `${JSON.stringify(err.message)} lacks ${JSON.stringify(p)}`);
          return true;
        },
      );
    });
  }
});

describe('engineConfigFrom', () => {
  it('copies the engine fields and the billing model', () => {
    const core = toCoreConfig(valuesFrom({ WOODPECKER_SCALING_POLICY: 'upstream', WOODPECKER_POOL_ID: 'p' }));
    assert.deepEqual(engineConfigFrom(core, 'hourly'), {
      policy: 'upstream',
      poolId: 'p',
      installationId: deriveInstallationId('http://localhost:8000', 'p'),
      minAgents: 1,
      maxAgents: 10,
      workflowsPerAgent: 2,
      reconciliationInterval: 60_000,
      agentInactivityTimeout: 600_000,
      agentIdleTimeout: 600_000,
      agentBillingTeardownMargin: 120_000,
      danglingGrace: 120_000,
      billingModel: 'hourly',
    });
  });
});

describe('parseHostPort / isLoopbackAddr', () => {
  it('parses host:port forms', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseHostPort('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseHostPort(':9000'), { host: '', port: 9000 });
    assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 });
    for (const bad of ['8080', 'host:', 'host:port', '[::1]8080', 'a b:80', 'h:-1']) {
      assert.throws(() => parseHostPort(bad), Error, bad);
    }
  });
  const table: [string, boolean][] = [
    ['127.0.0.1:8080', true],
    ['127.1.2.3:80', true],
    ['localhost:8080', true],
    ['LOCALHOST:1', true],
    ['[::1]:8080', true],
    ['::1', true],
    ['127.0.0.1', true],
    [':8080', false],
    ['0.0.0.0:8080', false],
    ['[::]:8080', false],
    ['10.0.0.1:8080', false],
    ['127.0.0.1.example.com:80', false],
    ['127.999.0.1:80', false],
  ];
  for (const [addr, expected] of table) {
    it(`isLoopbackAddr(${addr}) = ${expected}`, () => assert.equal(isLoopbackAddr(addr), expected));
  }
});

describe('warm capacity and budget options', () => {
  const env = (e: Record<string, string>) => resolveOptions(coreOptions, { cli: {}, env: e });
  it('reads several schedule periods separated by ";" (cron fields keep their commas)', () => {
    const c = toCoreConfig(
      env({ WOODPECKER_TOKEN: 't', WOODPECKER_SCHEDULE: '* 8-18 * * mon,tue,fri min-idle-slots=2; * * 25 12 * min-agents=0' }),
    );
    assert.deepEqual(
      c.schedules.map((s) => [s.text, s.settings]),
      [
        ['* 8-18 * * mon,tue,fri min-idle-slots=2', { minIdleSlots: 2 }],
        ['* * 25 12 * min-agents=0', { minAgents: 0 }],
      ],
    );
  });
  const bad: [Record<string, string>, RegExp][] = [
    [{ WOODPECKER_SCHEDULE: '* 8-18 * * mon-fri' }, /--schedule.*WOODPECKER_SCHEDULE.*5 cron range fields/s],
    [{ WOODPECKER_TIMEZONE: 'Moscow' }, /--timezone.*WOODPECKER_TIMEZONE.*unknown time zone "Moscow"/s],
    [{ WOODPECKER_BUDGET_DAILY: '0' }, /--budget-daily.*WOODPECKER_BUDGET_DAILY.*greater than 0/s],
    [{ WOODPECKER_BUDGET_MONTHLY: 'lots' }, /--budget-monthly.*not a number/s],
    [{ WOODPECKER_MIN_IDLE_SLOTS: '-2' }, /--min-idle-slots.*0 or more/s],
  ];
  for (const [e, re] of bad) {
    it(`rejects ${JSON.stringify(e)} naming the flag`, () => {
      assert.throws(() => env(e), (err: unknown) => err instanceof ConfigError && re.test(err.message));
    });
  }
});
