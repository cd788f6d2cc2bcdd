import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineConfigFrom, toCoreConfig } from '../../src/config/core-config.js';
import { POOL_SCOPED_FLAGS, parsePoolsFile, resolvePools, singlePool } from '../../src/config/pools-file.js';
import { resolveOptions } from '../../src/config/resolve.js';
import { allOptionSpecs } from '../../src/config/sections.js';
import { closestName, ordinal } from '../../src/config/suggest.js';
import { ConfigError } from '../../src/config/types.js';
import type { OptionValues } from '../../src/config/types.js';

const globalsFrom = (env: Record<string, string> = {}): OptionValues =>
  resolveOptions(allOptionSpecs(), { cli: {}, env: { WOODPECKER_TOKEN: 't', ...env } });

const parse = (text: string, env: Record<string, string> = {}) => parsePoolsFile(text, 'pools.yaml', globalsFrom(env));

describe('pools file: parsing', () => {
  const text = [
    'pools:',
    '  - id: cpu',
    '    max-agents: 5',
    '    agent-labels: type=cpu,size=small',
    '  - id: gpu',
    '    min-agents: "0"',
    '    max-agents: 2',
    '    agent-idle-timeout: 90s',
    '    agent-labels: { type: gpu }',
    '    agent-env: [A=1, "B=x=y"]',
    '    timewebcloud-preset-id: [4795, "2453:spb-3"]',
    '    timewebcloud-public-ip: false',
    '    cloudinit-template: |',
    '      #cloud-config',
    '      runcmd: []',
  ].join('\n');

  it('reads each pool with the same parsing as flags and env', () => {
    const [cpu, gpu] = parse(text);
    assert.ok(cpu && gpu);
    assert.equal(cpu.id, 'cpu');
    assert.equal(cpu.core.poolId, 'cpu');
    assert.equal(cpu.core.maxAgents, 5);
    assert.deepEqual(cpu.core.agentLabels, { type: 'cpu', size: 'small' });
    assert.deepEqual(cpu.overrides, ['max-agents', 'agent-labels']);
    assert.equal(cpu.origin, 'pools.yaml: pool "cpu" (1st)');

    assert.equal(gpu.core.minAgents, 0);
    assert.equal(gpu.core.maxAgents, 2);
    assert.equal(gpu.core.agentIdleTimeout, 90_000);
    assert.deepEqual(gpu.core.agentLabels, { type: 'gpu' });
    assert.deepEqual(gpu.core.agentEnv, { A: '1', B: 'x=y' });
    assert.deepEqual(gpu.values.timewebcloudPresetId, ['4795', '2453:spb-3']);
    assert.equal(gpu.values.timewebcloudPublicIp, false);
    assert.equal(gpu.core.cloudinitTemplate, '#cloud-config\nruncmd: []\n');
  });

  it('takes every setting a pool does not give from the flags/env values', () => {
    const [cpu, gpu] = parse(text, { WOODPECKER_MIN_AGENTS: '2', WOODPECKER_AGENT_IMAGE: 'img:1', WOODPECKER_TIMEWEBCLOUD_PUBLIC_IP: 'true' });
    assert.ok(cpu && gpu);
    assert.equal(cpu.core.minAgents, 2);
    assert.equal(gpu.core.minAgents, 0, 'the pool value wins');
    assert.equal(cpu.core.agentImage, 'img:1');
    assert.equal(gpu.core.agentImage, 'img:1');
    assert.equal(cpu.values.timewebcloudPublicIp, true);
    assert.equal(gpu.values.timewebcloudPublicIp, false);
  });

  it('a pool value replaces a global list; an empty value clears a global string', () => {
    const [p] = parse('pools:\n  - id: a\n    agent-labels: [x=1]\n    timewebcloud-configuration: ""\n    timewebcloud-preset-id: 2453\n', {
      WOODPECKER_AGENT_LABELS: 'y=2',
      WOODPECKER_TIMEWEBCLOUD_CONFIGURATION: 'cpu=2,ram=4096,disk=51200',
    });
    assert.deepEqual(p?.core.agentLabels, { x: '1' });
  });
});

describe('pools file: without it, the single pool of today', () => {
  it('resolvePools gives exactly the flags/env configuration as one pool', () => {
    const globals = globalsFrom({ WOODPECKER_POOL_ID: 'main', WOODPECKER_MAX_AGENTS: '4', WOODPECKER_AGENT_LABELS: 'type=cpu' });
    const pools = resolvePools(globals, { readFile: () => assert.fail('no file is read') });
    assert.equal(pools.length, 1);
    assert.deepEqual(pools[0], singlePool(globals));
    assert.equal(pools[0]?.id, 'main');
    assert.deepEqual(pools[0]?.core, toCoreConfig(globals, { requireServer: false }));
    assert.equal(pools[0]?.values, globals);
  });

  it('a file with one pool and no settings is the same configuration under its id', () => {
    const globals = globalsFrom({ WOODPECKER_MAX_AGENTS: '4', WOODPECKER_AGENT_LABELS: 'type=cpu' });
    const [fromFile] = parsePoolsFile('pools:\n  - id: "1"\n', 'p.yaml', globals);
    assert.deepEqual(fromFile?.core, singlePool(globals).core);
  });

  it('resolvePools reads the file named by --pools-file', () => {
    const globals = globalsFrom({ WOODPECKER_POOLS_FILE: '/etc/pools.yaml' });
    const read: string[] = [];
    const pools = resolvePools(globals, {
      readFile: (p) => {
        read.push(p);
        return 'pools:\n  - id: a\n  - id: b\n';
      },
    });
    assert.deepEqual(read, ['/etc/pools.yaml']);
    assert.deepEqual(pools.map((p) => p.id), ['a', 'b']);
  });

  it('an unreadable file is a configuration error naming it', () => {
    const globals = globalsFrom({ WOODPECKER_POOLS_FILE: '/nope.yaml' });
    assert.throws(
      () => resolvePools(globals, { readFile: () => { throw new Error('ENOENT: no such file'); } }),
      (e: unknown) => e instanceof ConfigError && e.message === 'cannot read the pools file "/nope.yaml" (--pools-file): ENOENT: no such file',
    );
  });
});

describe('pools file: errors name the file, the pool and the setting', () => {
  const pool2 = (lines: string): string => `pools:\n  - id: cpu\n  - id: gpu\n${lines}`;
  const cases: { what: string; text: string; env?: Record<string, string>; message: string | RegExp }[] = [
    { what: 'a value below the minimum', text: pool2('    max-agents: 0\n'), message: 'pools.yaml: pool "gpu" (2nd): max-agents: must be at least 1, got 0' },
    { what: 'not an integer', text: pool2('    max-agents: five\n'), message: 'pools.yaml: pool "gpu" (2nd): max-agents: "five" is not an integer' },
    { what: 'an empty value', text: pool2('    max-agents:\n'), message: 'pools.yaml: pool "gpu" (2nd): max-agents: "" is not an integer' },
    { what: 'a duration without unit', text: pool2('    agent-idle-timeout: 600\n'), message: /^pools\.yaml: pool "gpu" \(2nd\): agent-idle-timeout: .*unit/ },
    { what: 'a YAML boolean that Go does not read', text: pool2('    timewebcloud-public-ip: yes\n'), message: 'pools.yaml: pool "gpu" (2nd): timewebcloud-public-ip: "yes" is not a boolean (use true or false)' },
    { what: 'min above max', text: pool2('    min-agents: 3\n    max-agents: 2\n'), message: 'pools.yaml: pool "gpu" (2nd): min-agents: 3 is greater than max-agents 2' },
    { what: 'min above the global max', text: pool2('    min-agents: 3\n'), env: { WOODPECKER_MAX_AGENTS: '2' }, message: 'pools.yaml: pool "gpu" (2nd): min-agents: 3 is greater than max-agents 2' },
    { what: 'a provider validator', text: pool2('    timewebcloud-bandwidth: 150\n'), message: 'pools.yaml: pool "gpu" (2nd): timewebcloud-bandwidth: 150 is not 100–1000 in steps of 100' },
    {
      what: 'a provider validator across settings (pool preset, global configuration)',
      text: pool2('    timewebcloud-preset-id: 2453\n'),
      env: { WOODPECKER_TIMEWEBCLOUD_CONFIGURATION: 'cpu=2,ram=4096,disk=51200' },
      message: 'pools.yaml: pool "gpu" (2nd): timewebcloud-configuration: use either --timewebcloud-preset-id or --timewebcloud-configuration, not both',
    },
    { what: 'a bad agent label', text: pool2('    agent-labels: [type]\n'), message: 'pools.yaml: pool "gpu" (2nd): agent-labels: invalid agent labels variable: "type" (expected KEY=VALUE)' },
    { what: 'an empty label value in a mapping', text: pool2('    agent-labels: { type: }\n'), message: 'pools.yaml: pool "gpu" (2nd): agent-labels: invalid agent labels variable: "type=" (expected KEY=VALUE)' },
    {
      what: 'WOODPECKER_AGENT_LABELS through agent-env',
      text: pool2('    agent-env: { WOODPECKER_AGENT_LABELS: a=b }\n'),
      message: `pools.yaml: pool "gpu" (2nd): agent-env: 'WOODPECKER_AGENT_ENV' has forbidden env var set: "WOODPECKER_AGENT_LABELS" (use --agent-labels)`,
    },
    { what: 'a list for a single value', text: pool2('    max-agents: [1, 2]\n'), message: 'pools.yaml: pool "gpu" (2nd): max-agents: expected a single value, got a list' },
    { what: 'a mapping for a list', text: pool2('    timewebcloud-preset-id: { a: b }\n'), message: 'pools.yaml: pool "gpu" (2nd): timewebcloud-preset-id: expected a list or a value, got a mapping' },
    { what: 'a nested list item', text: pool2('    agent-labels: [[a=b]]\n'), message: 'pools.yaml: pool "gpu" (2nd): agent-labels: list items must be plain values' },
    { what: 'an unknown setting, close to a pool setting', text: pool2('    max-agent: 2\n'), message: 'pools.yaml: pool "gpu" (2nd): max-agent: unknown setting (did you mean max-agents?)' },
    { what: 'a short name for a provider setting', text: pool2('    timewebcloud-zone: spb-3\n'), message: 'pools.yaml: pool "gpu" (2nd): timewebcloud-zone: unknown setting (did you mean timewebcloud-availability-zone?)' },
    { what: 'an unknown setting far from any', text: pool2('    colour: blue\n'), message: 'pools.yaml: pool "gpu" (2nd): colour: unknown setting' },
    { what: 'a global setting', text: pool2('    server-url: https://x\n'), message: 'pools.yaml: pool "gpu" (2nd): server-url: not a pool setting: it is one value for all pools, set with --server-url (WOODPECKER_SERVER)' },
    { what: 'pool-id instead of id', text: pool2('    pool-id: x\n'), message: 'pools.yaml: pool "gpu" (2nd): pool-id: not a pool setting: the pool id is `id`' },
    { what: 'filter-labels in a pool', text: pool2('    filter-labels: a=b\n'), message: 'pools.yaml: pool "gpu" (2nd): filter-labels: not a pool setting: a pool counts the work its `agent-labels` match' },
    { what: 'a time zone in a pool', text: pool2('    timezone: Europe/Moscow\n'), message: 'pools.yaml: pool "gpu" (2nd): timezone: not a pool setting: it is one value for all pools, set with --timezone (WOODPECKER_TIMEZONE)' },
    { what: 'a bad schedule', text: pool2('    schedule: "* 25 * * * min-idle-slots=1"\n'), message: /^pools\.yaml: pool "gpu" \(2nd\): schedule: .*25/ },
    { what: 'negative idle slots', text: pool2('    min-idle-slots: -1\n'), message: 'pools.yaml: pool "gpu" (2nd): min-idle-slots: must be 0 or more' },
    { what: 'a zero pool budget', text: pool2('    budget-daily: 0\n'), message: 'pools.yaml: pool "gpu" (2nd): budget-daily: must be an amount greater than 0' },
    { what: 'a missing id', text: 'pools:\n  - max-agents: 2\n', message: 'pools.yaml: 1st pool: id: missing (every pool needs an id)' },
    { what: 'an id that is a list', text: 'pools:\n  - id: [a]\n', message: 'pools.yaml: 1st pool: id: expected a single value' },
    { what: 'an invalid id', text: 'pools:\n  - id: a b\n', message: /^pools\.yaml: pool "a b" \(1st\): id: "a b" is not a valid pool ID/ },
    { what: 'a duplicate id', text: 'pools:\n  - id: a\n  - id: b\n  - id: a\n', message: 'pools.yaml: pool "a" (3rd): id: "a" is already the id of the 1st pool (ids must differ, also in letter case)' },
    { what: 'ids differing only in case', text: 'pools:\n  - id: gpu\n  - id: GPU\n', message: 'pools.yaml: pool "GPU" (2nd): id: "GPU" is already the id of the 1st pool (ids must differ, also in letter case)' },
    { what: 'a pool that is not a mapping', text: 'pools:\n  - gpu\n', message: 'pools.yaml: 1st pool: expected a mapping with an id and pool settings' },
    { what: 'an empty file', text: '', message: 'pools.yaml: expected a mapping with a `pools:` list' },
    { what: 'a bare list', text: '- id: a\n', message: 'pools.yaml: expected a mapping with a `pools:` list' },
    { what: 'no pools', text: 'pools: []\n', message: 'pools.yaml: pools: expected a list of at least one pool (each with an id)' },
    { what: 'pools not a list', text: 'pools: a\n', message: 'pools.yaml: pools: expected a list of at least one pool (each with an id)' },
    { what: 'an unknown top-level key', text: 'pool:\n  - id: a\n', message: 'pools.yaml: pool: unknown setting (the file has only `pools:`, a list of pools)' },
    { what: 'a YAML syntax error', text: 'pools: [\n', message: /^pools\.yaml: line 2, column 1: / },
    { what: 'a key given twice in a pool', text: 'pools:\n  - id: a\n    max-agents: 1\n    max-agents: 2\n', message: /^pools\.yaml: line 4, column 5: Map keys must be unique$/ },
  ];
  for (const c of cases) {
    it(c.what, () => {
      assert.throws(
        () => parse(c.text, c.env),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          if (typeof c.message === 'string') assert.equal(e.message, c.message);
          else assert.match(e.message, c.message);
          return true;
        },
      );
    });
  }
});

describe('pools file: warm capacity and budget per pool', () => {
  const text = [
    'pools:',
    '  - id: cpu',
    '    min-idle-slots: 2',
    '    schedule: "* 8-18 * * mon-fri min-idle-slots=4; * * 24-26 12 * min-idle-slots=0"',
    '    forecast: true',
    '    boot-time: 90s',
    '    budget-daily: 100',
    '  - id: gpu',
    '    budget-monthly: 2000.5',
    '    forecast: false',
  ].join('\n');

  it("a pool's warm settings are its own; the rest come from the flags/env", () => {
    const [cpu, gpu] = parse(text, { WOODPECKER_MIN_IDLE_SLOTS: '1', WOODPECKER_TIMEZONE: 'Europe/Moscow' });
    assert.ok(cpu && gpu);
    assert.equal(cpu.core.minIdleSlots, 2);
    assert.equal(cpu.core.schedules.length, 2);
    assert.equal(cpu.core.forecast, true);
    assert.equal(cpu.core.bootTime, 90_000);
    assert.equal(gpu.core.minIdleSlots, 1, 'the global value');
    assert.deepEqual(gpu.core.schedules, []);
    assert.equal(gpu.core.forecast, false);
    assert.equal(gpu.core.bootTime, 120_000);
    assert.deepEqual([cpu.core.timeZone, gpu.core.timeZone], ['Europe/Moscow', 'Europe/Moscow'], 'one time zone for the daemon');
  });

  it("a pool's budget is its own cap; the flag stays the cap of the whole daemon in every pool", () => {
    const [cpu, gpu] = parse(text, { WOODPECKER_BUDGET_DAILY: '150' });
    assert.ok(cpu && gpu);
    assert.deepEqual([cpu.core.budgetDaily, gpu.core.budgetDaily], [150, 150], 'not replaced by the pool cap');
    assert.deepEqual(cpu.core.poolBudget, { daily: 100 });
    assert.deepEqual(gpu.core.poolBudget, { monthly: 2000.5 });
    assert.deepEqual(cpu.overrides, ['min-idle-slots', 'schedule', 'forecast', 'boot-time', 'budget-daily']);
    const [plain] = parse('pools:\n  - id: a\n', { WOODPECKER_BUDGET_DAILY: '150' });
    assert.equal(plain?.core.poolBudget, undefined);
  });

  it('engineConfigFrom: the daemon caps and the pool caps, both in the budget settings', () => {
    const [cpu] = parse(text, { WOODPECKER_BUDGET_MONTHLY: '3000' });
    assert.ok(cpu);
    const e = engineConfigFrom(cpu.core, 'hourly', { perHour: 2, currency: 'RUB' });
    assert.deepEqual(e.budget, { monthly: 3000, pool: { daily: 100 }, timeZone: 'UTC', perHour: 2, currency: 'RUB' });
    assert.throws(() => engineConfigFrom(cpu.core, 'hourly'), /--budget-daily .*needs the price/);
  });

  it('a template in a pool replaces a global one given under its 1.1-1.5 name', () => {
    const [p] = parse('pools:\n  - id: a\n    cloudinit-template: "#cloud-config\\n"\n', { WOODPECKER_PROVIDER_USERDATA: '#cloud-config\nruncmd: []\n' });
    assert.equal(p?.core.cloudinitTemplate, '#cloud-config\n');
  });
});

describe('pools file: settings that make no sense beside it', () => {
  const file = 'pools:\n  - id: a\n';
  const cases: { what: string; env?: Record<string, string>; cli?: Record<string, string>; message?: string }[] = [
    {
      what: 'WOODPECKER_POOL_ID',
      env: { WOODPECKER_POOL_ID: 'main' },
      message:
        'WOODPECKER_POOL_ID is not used with WOODPECKER_POOLS_FILE: every pool has its own `id` in the file; unset it ' +
        '(to keep the servers and agents of the single pool it named, give one pool that id)',
    },
    { what: 'WOODPECKER_POOL_ID set to the default', env: { WOODPECKER_POOL_ID: '1' }, message: 'WOODPECKER_POOL_ID is not used with WOODPECKER_POOLS_FILE: every pool has its own `id` in the file; unset it (to keep the servers and agents of the single pool it named, give one pool that id)' },
    { what: '--pool-id', cli: { 'pool-id': 'main' }, message: '--pool-id is not used with WOODPECKER_POOLS_FILE: every pool has its own `id` in the file; unset it (to keep the servers and agents of the single pool it named, give one pool that id)' },
    {
      what: 'WOODPECKER_FILTER_LABELS',
      env: { WOODPECKER_FILTER_LABELS: 'platform=linux/arm64' },
      message:
        'WOODPECKER_FILTER_LABELS is not used with WOODPECKER_POOLS_FILE: each pool is scaled only by the queued work its ' +
        '`agent-labels` match; give the pools `agent-labels` (e.g. `agent-labels: { platform: linux/arm64 }`) and unset it',
    },
    { what: 'an empty WOODPECKER_FILTER_LABELS is no setting', env: { WOODPECKER_FILTER_LABELS: '' } },
    { what: 'neither set', env: {} },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const globals = resolveOptions(allOptionSpecs(), {
        cli: c.cli ?? {},
        env: { WOODPECKER_TOKEN: 't', WOODPECKER_POOLS_FILE: '/etc/pools.yaml', ...c.env },
      });
      const load = (): unknown => resolvePools(globals, { readFile: () => file });
      if (c.message === undefined) assert.equal(resolvePools(globals, { readFile: () => file }).length, 1);
      else assert.throws(load, (e: unknown) => e instanceof ConfigError && e.message === c.message);
    });
  }

  it('without a pools file they keep working as today', () => {
    const globals = globalsFrom({ WOODPECKER_POOL_ID: 'main', WOODPECKER_FILTER_LABELS: 'a=b' });
    const [p] = resolvePools(globals);
    assert.equal(p?.core.poolId, 'main');
    assert.deepEqual(p?.core.filterLabels, { key: 'a', value: 'b' });
  });
});

describe('pools file: the pool settings table', () => {
  it('every pool setting is a known flag (a renamed flag fails here)', () => {
    const flags = new Set(allOptionSpecs().map((s) => s.flag));
    for (const f of POOL_SCOPED_FLAGS) assert.ok(flags.has(f), f);
  });

  it('no secret, connection or daemon-wide setting is per pool', () => {
    const specs = allOptionSpecs().filter((s) => POOL_SCOPED_FLAGS.includes(s.flag));
    assert.deepEqual(specs.filter((s) => s.secret === true).map((s) => s.flag), []);
    for (const f of ['pool-id', 'server-url', 'grpc-addr', 'reconciliation-interval', 'policy', 'pools-file', 'timewebcloud-api-url']) {
      assert.ok(!POOL_SCOPED_FLAGS.includes(f), f);
    }
  });
});

describe('suggest helpers', () => {
  it('closestName', () => {
    const known = ['id', ...POOL_SCOPED_FLAGS];
    assert.equal(closestName('maxagents', known), 'max-agents');
    assert.equal(closestName('min_agents', known), 'min-agents');
    assert.equal(closestName('timewebcloud-preset', known), 'timewebcloud-preset-id');
    assert.equal(closestName('timewebcloud-os', known), 'timewebcloud-os-id');
    assert.equal(closestName('labels', known), 'agent-labels');
    assert.equal(closestName('colour', known), undefined);
  });

  it('ordinal', () => {
    assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal), ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd', '101st', '111th']);
  });
});
