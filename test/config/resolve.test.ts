import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coreOptions } from '../../src/config/core-options.js';
import { loadDotEnv, parseBool, resolveOptions } from '../../src/config/resolve.js';
import type { ConfigSources } from '../../src/config/resolve.js';
import { ConfigError } from '../../src/config/types.js';
import type { OptionSpec } from '../../src/config/types.js';

const specs: OptionSpec[] = [
  { key: 'name', flag: 'name', env: ['APP_NAME', 'APP_LEGACY_NAME'], type: 'string', default: 'dflt', description: 'd', category: 'c' },
  {
    key: 'token',
    flag: 'token',
    env: ['APP_TOKEN'],
    fileEnv: ['APP_TOKEN_FILE', 'APP_OLD_TOKEN_FILE'],
    type: 'string',
    secret: true,
    description: 'd',
    category: 'c',
  },
  { key: 'count', flag: 'count', env: ['APP_COUNT'], type: 'int', default: 1, description: 'd', category: 'c' },
  { key: 'ratio', flag: 'ratio', env: ['APP_RATIO'], type: 'float', default: 0.5, description: 'd', category: 'c' },
  { key: 'on', flag: 'on', env: ['APP_ON'], type: 'bool', default: false, description: 'd', category: 'c' },
  { key: 'wait', flag: 'wait', env: ['APP_WAIT'], type: 'duration', default: 60_000, description: 'd', category: 'c' },
  { key: 'items', flag: 'items', env: ['APP_ITEMS'], type: 'list', default: ['x'], description: 'd', category: 'c' },
];

function resolve(src: Partial<ConfigSources>) {
  return resolveOptions(specs, { cli: {}, env: {}, ...src });
}

describe('resolveOptions: sources and precedence', () => {
  it('uses defaults when nothing is set; undefined when there is no default', () => {
    const v = resolve({});
    assert.deepEqual(v, { name: 'dflt', token: undefined, count: 1, ratio: 0.5, on: false, wait: 60_000, items: ['x'] });
  });

  it('CLI beats env', () => {
    assert.equal(resolve({ cli: { name: 'cli' }, env: { APP_NAME: 'env' } }).name, 'cli');
    assert.equal(resolve({ cli: { count: '7' }, env: { APP_COUNT: '3' } }).count, 7);
  });

  it('first set env var wins; a later alias is used when the first is unset', () => {
    assert.equal(resolve({ env: { APP_NAME: 'first', APP_LEGACY_NAME: 'second' } }).name, 'first');
    assert.equal(resolve({ env: { APP_LEGACY_NAME: 'second' } }).name, 'second');
  });

  it('a string env var set to empty overrides the default with ""', () => {
    assert.equal(resolve({ env: { APP_NAME: '' } }).name, '');
    // and it counts as set: the alias is not consulted
    assert.equal(resolve({ env: { APP_NAME: '', APP_LEGACY_NAME: 'x' } }).name, '');
  });

  it('env beats *_FILE; *_FILE is read with one trailing newline trimmed', () => {
    const files: Record<string, string> = { '/run/tok': 'secret\n\n', '/run/crlf': 'abc\r\n', '/run/old': 'old\n' };
    const readFile = (p: string): string => {
      const c = files[p];
      if (c === undefined) throw new Error(`ENOENT: ${p}`);
      return c;
    };
    assert.equal(resolve({ env: { APP_TOKEN: 'direct', APP_TOKEN_FILE: '/run/tok' }, readFile }).token, 'direct');
    assert.equal(resolve({ env: { APP_TOKEN_FILE: '/run/tok' }, readFile }).token, 'secret\n');
    assert.equal(resolve({ env: { APP_TOKEN_FILE: '/run/crlf' }, readFile }).token, 'abc');
    assert.equal(resolve({ env: { APP_OLD_TOKEN_FILE: '/run/old' }, readFile }).token, 'old');
    assert.equal(resolve({ env: { APP_TOKEN_FILE: '', APP_OLD_TOKEN_FILE: '/run/old' }, readFile }).token, 'old');
    assert.equal(resolve({ cli: { token: 'c' }, env: { APP_TOKEN_FILE: '/run/tok' }, readFile }).token, 'c');
  });

  it('an unreadable *_FILE is a ConfigError naming the flag and the file env var that was set', () => {
    const readFile = (): string => {
      throw new Error('ENOENT: no such file');
    };
    assert.throws(
      () => resolve({ env: { APP_TOKEN_FILE: '/nope' }, readFile }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.startsWith('invalid value for --token (APP_TOKEN_FILE):') &&
        err.message.includes('APP_TOKEN_FILE ("/nope")'),
    );
  });
});

describe('resolveOptions: empty secret files', () => {
  const secretSpecs: OptionSpec[] = [
    { key: 'token', flag: 'token', env: ['APP_TOKEN'], fileEnv: ['APP_TOKEN_FILE'], type: 'string', secret: true, description: '', category: 'x' },
    { key: 'tmpl', flag: 'tmpl', env: ['APP_TMPL'], fileEnv: ['APP_TMPL_FILE'], type: 'string', description: '', category: 'x' },
  ];
  for (const content of ['', '\n', '  \r\n']) {
    it(`a secret's *_FILE holding ${JSON.stringify(content)} is a ConfigError naming the variable and the path`, () => {
      assert.throws(
        () => resolveOptions(secretSpecs, { cli: {}, env: { APP_TOKEN_FILE: '/run/secrets/token' }, readFile: () => content }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message === 'invalid value for --token (APP_TOKEN_FILE): the file named by APP_TOKEN_FILE ("/run/secrets/token") is empty',
      );
    });
  }
  it('an empty non-secret file is still an empty value', () => {
    assert.equal(resolveOptions(secretSpecs, { cli: {}, env: { APP_TMPL_FILE: '/t' }, readFile: () => '' }).tmpl, '');
  });
});

describe('resolveOptions: lists', () => {
  it('splits env lists on commas and trims each element', () => {
    assert.deepEqual(resolve({ env: { APP_ITEMS: ' a=1 , b = 2,c' } }).items, ['a=1', 'b = 2', 'c']);
  });
  it('drops empty elements', () => {
    assert.deepEqual(resolve({ env: { APP_ITEMS: 'a,,b,' } }).items, ['a', 'b']);
  });
  it('an empty list env var keeps the default', () => {
    assert.deepEqual(resolve({ env: { APP_ITEMS: '' } }).items, ['x']);
    assert.deepEqual(resolve({ env: { APP_ITEMS: ' , ' } }).items, ['x']);
  });
  it('repeated CLI flags append, each split on commas; CLI replaces env', () => {
    const v = resolve({ cli: { items: ['a', 'b, c'] }, env: { APP_ITEMS: 'e' } });
    assert.deepEqual(v.items, ['a', 'b', 'c']);
    assert.deepEqual(resolve({ cli: { items: 'p,q' } }).items, ['p', 'q']);
  });
});

describe('resolveOptions: typed values', () => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
    it(`bool ${s} is true`, () => assert.equal(resolve({ env: { APP_ON: s } }).on, true));
  }
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
    it(`bool ${s} is false`, () => assert.equal(resolve({ env: { APP_ON: s }, cli: {} }).on, false));
  }
  it('parseBool rejects other forms', () => {
    for (const s of ['yes', 'no', 'on', 'tRuE', '', ' true']) assert.equal(parseBool(s), undefined, s);
  });
  it('CLI bool: bare flag (true) or a value', () => {
    assert.equal(resolve({ cli: { on: true } }).on, true);
    assert.equal(resolve({ cli: { on: 'false' }, env: { APP_ON: 'true' } }).on, false);
  });

  const bad: [Partial<ConfigSources>, string][] = [
    [{ env: { APP_COUNT: 'abc' } }, 'invalid value for --count (APP_COUNT): "abc" is not an integer'],
    [{ env: { APP_COUNT: '1.5' } }, 'invalid value for --count (APP_COUNT): "1.5" is not an integer'],
    [{ env: { APP_COUNT: '' } }, 'invalid value for --count (APP_COUNT): "" is not an integer'],
    [{ env: { APP_COUNT: '0x10' } }, 'invalid value for --count (APP_COUNT): "0x10" is not an integer'],
    [{ cli: { count: ' 3' } }, 'invalid value for --count (APP_COUNT): " 3" is not an integer'],
    [{ env: { APP_RATIO: '1,5' } }, 'invalid value for --ratio (APP_RATIO): "1,5" is not a number'],
    [{ env: { APP_ON: 'yes' } }, 'invalid value for --on (APP_ON): "yes" is not a boolean'],
    [{ cli: { on: 'demo' } }, 'invalid value for --on (APP_ON): "demo" is not a boolean'],
    [{ env: { APP_WAIT: '60' } }, 'invalid value for --wait (APP_WAIT): missing unit in duration "60"'],
    [{ env: { APP_WAIT: '1d' } }, 'invalid value for --wait (APP_WAIT): unknown unit "d" in duration "1d"'],
    [{ cli: { count: true } }, 'invalid value for --count (APP_COUNT): a value is required'],
  ];
  for (const [src, message] of bad) {
    it(`rejects ${JSON.stringify(src)}`, () => {
      assert.throws(
        () => resolve(src),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith(message),
      );
    });
  }

  it('parses ints, floats and durations', () => {
    const v = resolve({ env: { APP_COUNT: '-4', APP_RATIO: '2.5e1', APP_WAIT: '1h30m' } });
    assert.equal(v.count, -4);
    assert.equal(v.ratio, 25);
    assert.equal(v.wait, 5_400_000);
  });
});

describe('resolveOptions: spec validate hook', () => {
  const withValidate: OptionSpec[] = [
    {
      key: 'zone',
      flag: 'zone',
      env: ['APP_ZONE'],
      type: 'string',
      default: 'a',
      description: 'd',
      category: 'c',
      validate: (v, all) => (v === all['other'] ? 'must differ from --other' : undefined),
    },
    { key: 'other', flag: 'other', env: [], type: 'string', default: 'b', description: 'd', category: 'c' },
  ];
  it('runs with all values and reports flag and env', () => {
    assert.equal(resolveOptions(withValidate, { cli: {}, env: {} }).zone, 'a');
    assert.throws(
      () => resolveOptions(withValidate, { cli: { other: 'a' }, env: {} }),
      { name: 'ConfigError', message: 'invalid value for --zone (APP_ZONE): must differ from --other' },
    );
  });
});

describe('resolveOptions: core options', () => {
  it('reads the legacy inactivity alias and the Go 1.1-1.5 user-data name from its file variable', () => {
    const files: Record<string, string> = { '/t': 'tmpl\n' };
    const v = resolveOptions(coreOptions, {
      cli: {},
      env: {
        WOODPECKER_AGENT_ALLOWED_STARTUP_TIME: '15m',
        WOODPECKER_PROVIDER_USERDATA_FILE: '/t',
      },
      readFile: (p) => files[p] ?? '',
    });
    assert.equal(v['agentInactivityTimeout'], 900_000);
    assert.equal(v['providerUserData'], 'tmpl');
    assert.equal(v['cloudinitTemplate'], '');
    const w = resolveOptions(coreOptions, {
      cli: {},
      env: { WOODPECKER_AGENT_INACTIVITY_TIMEOUT: '5m', WOODPECKER_AGENT_ALLOWED_STARTUP_TIME: '15m' },
    });
    assert.equal(w['agentInactivityTimeout'], 300_000);
  });

  it('has the Go defaults', () => {
    const v = resolveOptions(coreOptions, { cli: {}, env: {} });
    assert.equal(v['logLevel'], 'info');
    assert.equal(v['reconciliationInterval'], 60_000);
    assert.equal(v['poolId'], '1');
    assert.equal(v['minAgents'], 1);
    assert.equal(v['maxAgents'], 10);
    assert.equal(v['agentInactivityTimeout'], 600_000);
    assert.equal(v['agentIdleTimeout'], 600_000);
    assert.equal(v['agentBillingTeardownMargin'], 120_000);
    assert.equal(v['workflowsPerAgent'], 2);
    assert.equal(v['serverUrl'], 'http://localhost:8000');
    assert.equal(v['serverToken'], undefined);
    assert.equal(v['grpcAddr'], 'woodpecker-server:9000');
    assert.equal(v['grpcSecure'], false);
    assert.equal(v['provider'], '');
    assert.equal(v['cloudinitTemplate'], '');
    assert.equal(v['agentImage'], 'woodpeckerci/woodpecker-agent:v3');
    assert.equal(v['agentEnv'], undefined);
    assert.equal(v['agentLabels'], undefined);
  });

  it('maps the Go env names', () => {
    const v = resolveOptions(coreOptions, {
      cli: {},
      env: { WOODPECKER_SERVER: 'https://ci.example.com', WOODPECKER_TOKEN: 't', WOODPECKER_SCALING_POLICY: 'upstream' },
    });
    assert.equal(v['serverUrl'], 'https://ci.example.com');
    assert.equal(v['serverToken'], 't');
    assert.equal(v['policy'], 'upstream');
  });
});

describe('loadDotEnv', () => {
  const files: Record<string, string> = {
    '/app/.env': 'WOODPECKER_MIN_AGENTS=5\nWOODPECKER_TOKEN="from file"\n# comment\nexport WOODPECKER_POOL_ID=p\nEMPTY_IN_PROCESS=x\n',
  };
  const readFile = (p: string): string => {
    const c = files[p];
    if (c === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return c;
  };

  it('fills only variables that are not already set, and does not change its input', () => {
    const env = { WOODPECKER_MIN_AGENTS: '2', EMPTY_IN_PROCESS: '' };
    const out = loadDotEnv(env, '/app', readFile);
    assert.equal(out['WOODPECKER_MIN_AGENTS'], '2');
    assert.equal(out['EMPTY_IN_PROCESS'], '');
    assert.equal(out['WOODPECKER_TOKEN'], 'from file');
    assert.equal(out['WOODPECKER_POOL_ID'], 'p');
    assert.deepEqual(env, { WOODPECKER_MIN_AGENTS: '2', EMPTY_IN_PROCESS: '' });
  });

  it('returns a copy of env when there is no .env', () => {
    const env = { A: '1' };
    const out = loadDotEnv(env, '/elsewhere', readFile);
    assert.deepEqual(out, env);
    assert.notEqual(out, env);
  });

  it('other read errors are ConfigErrors', () => {
    const denied = (): string => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    assert.throws(() => loadDotEnv({}, '/app', denied), ConfigError);
  });
});
