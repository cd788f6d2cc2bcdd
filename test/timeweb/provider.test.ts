import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/types.js';
import type { OptionValues } from '../../src/config/types.js';
import type { TimewebProvider } from '../../src/providers/timeweb/provider.js';
import {
  TimewebDeletePermissionError,
  createTimewebProvider,
  serverState,
  timewebCloudProvider,
} from '../../src/providers/timeweb/provider.js';
import { findProvider } from '../../src/providers/registry.js';
import { RateLimitedError } from '../../src/providers/types.js';
import {
  floatingIpComment,
  legacyFloatingIpComment,
  legacyServerComment,
  serverComment,
} from '../../src/providers/timeweb/ownership.js';
import type { FakeTimeweb, FakeTimewebOptions } from '../../src/sandbox/fake-timeweb.js';
import type { TwServer } from '../../src/providers/timeweb/types.js';
import { FOREIGN_SERVER_IDS, INSTALLATION, OWNER, captureLogger, makeEnv, providerCtx } from './helpers.js';
import type { Env } from './helpers.js';

const USER_DATA = '#cloud-config\nwrite_files:\n- content: WOODPECKER_AGENT_SECRET=agent-secret-XYZ123\n';

interface Setup extends Env {
  provider: TimewebProvider;
  logs: () => string;
  foreign: TwServer[];
  foreignIps: ReturnType<FakeTimeweb['floatingIps']>;
}

async function setup(values: Record<string, OptionValues[string]> = {}, fakeOpts: Partial<FakeTimewebOptions> = {}): Promise<Setup> {
  const env = makeEnv(fakeOpts);
  const foreign = env.fake.servers().filter((s) => FOREIGN_SERVER_IDS.includes(s.id));
  const foreignIps = env.fake.floatingIps();
  const { logger, text } = captureLogger();
  const provider = await createTimewebProvider(providerCtx(env, values, logger), { ambiguousCreateSettleMs: 2000 });
  return { ...env, provider, logs: text, foreign, foreignIps };
}

/** Foreign servers are still there, unchanged, and nothing foreign was ever deleted or patched. */
function assertForeignIntact(s: Setup): void {
  for (const before of s.foreign) {
    const now = s.fake.server(before.id);
    assert.ok(now, `foreign server ${before.name} (${before.id}) must survive`);
    assert.equal(now.name, before.name);
    assert.equal(now.comment, before.comment);
    assert.equal(now.status, before.status);
  }
  const ipsNow = new Map(s.fake.floatingIps().map((ip) => [ip.id, ip]));
  for (const ip of s.foreignIps) {
    const now = ipsNow.get(ip.id);
    assert.ok(now, `foreign floating IP ${ip.ip} must survive`);
    assert.equal(now.comment, ip.comment);
  }
  const foreignIds = new Set(s.foreign.map((x) => String(x.id)));
  const foreignIpIds = new Set(s.foreignIps.map((x) => x.id));
  for (const r of s.fake.requests()) {
    if (r.method !== 'DELETE' && r.method !== 'PATCH') continue;
    const id = r.path.split('?')[0]?.split('/').pop() ?? '';
    assert.ok(!foreignIds.has(id) && !foreignIpIds.has(id), `${r.method} ${r.path} touched a foreign resource`);
  }
}

function assertNoSecretsLogged(s: Setup): void {
  const text = s.logs();
  assert.doesNotMatch(text, /agent-secret-XYZ123/, 'user-data leaked into the logs');
  assert.ok(!text.includes(s.fake.token), 'API token leaked into the logs');
  for (const srv of s.fake.servers()) {
    if (srv.root_pass) assert.ok(!text.includes(srv.root_pass), 'root_pass leaked');
    if (srv.vnc_pass) assert.ok(!text.includes(srv.vnc_pass), 'vnc_pass leaked');
  }
}

const agent = (name: string, id = 7) => ({ agent: { id, name, token: 'agent-secret-XYZ123' }, userData: USER_DATA });

test('registered as "timewebcloud" with its options in the "Timeweb Cloud" category', () => {
  assert.equal(findProvider('timewebcloud'), timewebCloudProvider);
  const flags = timewebCloudProvider.options.map((o) => o.flag);
  for (const f of [
    'timewebcloud-api-token',
    'timewebcloud-api-url',
    'timewebcloud-os-id',
    'timewebcloud-image-id',
    'timewebcloud-preset-id',
    'timewebcloud-configuration',
    'timewebcloud-availability-zone',
    'timewebcloud-ssh-key-id',
    'timewebcloud-hostname-prefix',
    'timewebcloud-project-id',
    'timewebcloud-public-ip',
    'timewebcloud-bandwidth',
    'timewebcloud-billing',
    'timewebcloud-min-cpu',
    'timewebcloud-min-ram',
    'timewebcloud-location',
  ]) {
    assert.ok(flags.includes(f), `missing --${f}`);
  }
  for (const o of timewebCloudProvider.options) {
    assert.equal(o.category, 'Timeweb Cloud');
    assert.ok(o.env.every((e) => e.startsWith('WOODPECKER_TIMEWEBCLOUD_')));
  }
  const token = timewebCloudProvider.options.find((o) => o.flag === 'timewebcloud-api-token');
  assert.equal(token?.secret, true);
  assert.deepEqual(token?.fileEnv, ['WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE']);
});

test('start-up resolution: defaults pick ubuntu-24.04 and the cheapest preset with ≥ 2 CPU / 4 GB, logged with its price', async () => {
  const s = await setup();
  assert.equal(s.provider.settings.os?.id, 99);
  assert.equal(s.provider.settings.osDescription, 'ubuntu-24.04 (99)');
  assert.deepEqual(s.provider.settings.candidates.map((c) => c.preset?.id), [2453]);
  assert.equal(s.provider.billingModel, 'hourly');
  assert.match(s.logs(), /chose the cheapest preset with ≥ 2 CPU and ≥ 4096 MB RAM: preset 2453 \(ru-1, 2 CPU \/ 4 GB RAM \/ 50 GB disk, 1000 RUB\/month\), about 1\.37 RUB\/hour/);
  const price = s.provider.price();
  assert.ok(price);
  assert.equal(price.currency, 'RUB');
  // the preset, plus the public IPv4 at what the account pays for a floating IP (the fake's 150 RUB/month)
  assert.ok(Math.abs(price.perHour - (1000 + 150) / 730) < 1e-9);
  assert.deepEqual(s.provider.preExec, ['ip -4 route add blackhole 169.254.169.254/32']);
  assertNoSecretsLogged(s);
});

test('the price per server includes its public IPv4: the option, else the account\'s floating IP cost, else 150 RUB', async (t) => {
  const cases: {
    name: string;
    values?: Record<string, OptionValues[string]>;
    fake?: Partial<FakeTimewebOptions>;
    ipv4?: number;
    source?: RegExp;
  }[] = [
    { name: 'from the account (services/cost)', fake: { floatingIpPrice: 210 }, ipv4: 210, source: /account/ },
    { name: 'the option wins', values: { timewebcloudIpv4Price: 99.5 }, fake: { floatingIpPrice: 210 }, ipv4: 99.5, source: /--timewebcloud-ipv4-price/ },
    { name: 'no IP on the account: the documented default', fake: { seedForeign: false }, ipv4: 150, source: /default/ },
    { name: 'no public IP: nothing added', values: { timewebcloudPublicIp: false }, fake: { floatingIpPrice: 210 } },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = await setup(c.values ?? {}, c.fake ?? {});
      const price = s.provider.price();
      assert.ok(price);
      const ip = (c.ipv4 ?? 0) / 730;
      assert.ok(Math.abs(price.perHour - (1000 / 730 + ip)) < 1e-9, `${price.perHour}`);
      if (c.ipv4 === undefined) {
        assert.equal(price.parts, undefined);
        assert.doesNotMatch(price.description, /IPv4/);
      } else {
        assert.deepEqual(price.parts?.map((x) => x.label), ['server', 'public IPv4']);
        assert.ok(Math.abs((price.parts?.[1]?.perHour ?? 0) - ip) < 1e-9);
        assert.match(price.description, new RegExp(`public IPv4 ${c.ipv4} RUB/month`));
        assert.match(price.description, c.source ?? /./);
      }
    });
  }
});

test('balance(): read from the account; below --timewebcloud-balance-warn it is low and a warning is logged', async () => {
  const s = await setup({ timewebcloudBalanceWarn: 1000 }, { balance: 5000 });
  const ok = await s.provider.balance();
  assert.equal(ok.amount, 5000);
  assert.equal(ok.currency, 'RUB');
  assert.equal(ok.low, false);
  assert.equal(ok.warnBelow, 1000);
  assert.doesNotMatch(s.logs(), /below --timewebcloud-balance-warn/);
  s.fake.setBalance(420);
  const low = await s.provider.balance();
  assert.equal(low.low, true);
  assert.equal(typeof low.hoursLeft, 'number');
  assert.match(s.logs(), /the account balance 420 RUB is below --timewebcloud-balance-warn 1000 \(about \d+ h of service left\)/);
  // 0 turns the warning off
  const off = await setup({ timewebcloudBalanceWarn: 0 }, { balance: 1 });
  assert.equal((await off.provider.balance()).low, false);
  // the start-up line warns too
  const startLow = await setup({}, { balance: 300 });
  assert.match(startLow.logs(), /account balance 300 RUB is below --timewebcloud-balance-warn 500/);
});

test('start-up resolution: values that resolve', async (t) => {
  const cases: { name: string; values: Record<string, OptionValues[string]>; check: (p: TimewebProvider) => void }[] = [
    {
      name: 'os by numeric id',
      values: { timewebcloudOsId: '79' },
      check: (p) => assert.equal(p.settings.os?.id, 79),
    },
    {
      name: 'os "Debian 12" (case and separator tolerant)',
      values: { timewebcloudOsId: 'Debian 12' },
      check: (p) => assert.equal(p.settings.os?.id, 93),
    },
    {
      name: 'image instead of os',
      values: { timewebcloudImageId: '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f' },
      check: (p) => {
        assert.equal(p.settings.os, undefined);
        assert.equal(p.settings.imageId, '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f');
      },
    },
    {
      name: 'image by name',
      values: { timewebcloudImageId: 'ci-agent-golden' },
      check: (p) => {
        assert.equal(p.settings.os, undefined);
        assert.equal(p.settings.imageId, '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f');
        assert.match(p.settings.osDescription, /^image ci-agent-golden \(5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f, ru-1\)$/);
      },
    },
    {
      name: 'automatic choice inside --timewebcloud-location nl-1',
      values: { timewebcloudLocation: 'nl-1' },
      check: (p) => assert.deepEqual(p.settings.candidates.map((c) => c.preset?.id), [4795]),
    },
    {
      name: 'automatic choice follows the zone msk-1 → ru-3',
      values: { timewebcloudAvailabilityZone: 'msk-1' },
      check: (p) => {
        assert.deepEqual(p.settings.candidates.map((c) => [c.preset?.id, c.zone]), [[4801, 'msk-1']]);
      },
    },
    {
      name: 'min-cpu 4 / min-ram 8192',
      values: { timewebcloudMinCpu: 4, timewebcloudMinRam: 8192 },
      check: (p) => assert.deepEqual(p.settings.candidates.map((c) => c.preset?.id), [2455]),
    },
    {
      name: 'preset candidates with zones, in order',
      values: { timewebcloudPresetId: ['2453:spb-1', '4795'], timewebcloudAvailabilityZone: undefined },
      check: (p) =>
        assert.deepEqual(
          p.settings.candidates.map((c) => [c.preset?.id, c.zone, c.bandwidth]),
          [
            [2453, 'spb-1', 200],
            [4795, undefined, 200],
          ],
        ),
    },
    {
      name: 'configuration with an automatic configurator and its minimum bandwidth',
      values: { timewebcloudConfiguration: 'cpu=2,ram=4096,disk=51200', timewebcloudLocation: 'nl-1' },
      check: (p) => {
        const c = p.settings.candidates[0];
        assert.deepEqual(c?.configuration, { configurator_id: 15, cpu: 2, ram: 4096, disk: 51200 });
        assert.equal(c?.bandwidth, 100);
        assert.equal(p.price(), undefined, 'configurator prices are unknown');
      },
    },
    {
      name: 'ssh keys by name and id, project by name, per-second billing',
      values: {
        timewebcloudSshKeyId: ['ci-admin', '502'],
        timewebcloudProjectId: 'woodpecker-agents',
        timewebcloudBilling: 'per-second',
      },
      check: (p) => {
        assert.deepEqual(p.settings.sshKeyIds, [501, 502]);
        assert.equal(p.settings.projectId, 2);
        assert.equal(p.billingModel, 'per-second');
      },
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = await setup(c.values);
      c.check(s.provider);
    });
  }
});

test('start-up resolution: every wrong value fails with a ConfigError naming the flag and the valid choices', async (t) => {
  const cases: { name: string; values: Record<string, OptionValues[string]>; fake?: Partial<FakeTimewebOptions>; error: RegExp }[] = [
    {
      name: 'missing token',
      values: { timewebcloudApiToken: undefined },
      error: /^--timewebcloud-api-token \(WOODPECKER_TIMEWEBCLOUD_API_TOKEN, WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE\): required/,
    },
    {
      name: 'rejected token (401)',
      values: { timewebcloudApiToken: 'wrong-token-value' },
      error: /^--timewebcloud-api-token \(.*\): the API token was rejected while reading the presets \(HTTP 401: invalid or expired\)$/,
    },
    {
      name: 'unknown os name',
      values: { timewebcloudOsId: 'ubuntu-25.04' },
      error: /^--timewebcloud-os-id \(WOODPECKER_TIMEWEBCLOUD_OS_ID\): os ubuntu-25\.04 not found; available: debian-12 \(93\), ubuntu-20\.04 \(47\), ubuntu-22\.04 \(79\), ubuntu-24\.04 \(99\), windows-2012 \(65\)$/,
    },
    {
      name: 'unknown os id',
      values: { timewebcloudOsId: '12345' },
      error: /^--timewebcloud-os-id \(WOODPECKER_TIMEWEBCLOUD_OS_ID\): os 12345 not found; available: .*ubuntu-24\.04 \(99\)/,
    },
    {
      name: 'ambiguous os name',
      values: { timewebcloudOsId: 'ubuntu' },
      error: /os ubuntu is ambiguous: add the version, one of ubuntu-20\.04 \(47\), ubuntu-22\.04 \(79\), ubuntu-24\.04 \(99\)/,
    },
    {
      name: 'image that is neither an id nor a name on the account',
      values: { timewebcloudImageId: 'my-image' },
      error: /^--timewebcloud-image-id \(WOODPECKER_TIMEWEBCLOUD_IMAGE_ID\): image my-image not found; available: ci-agent-golden \(5f7a1c2e-/,
    },
    {
      name: 'unknown image id',
      values: { timewebcloudImageId: '00000000-0000-4000-a000-000000000000' },
      error: /^--timewebcloud-image-id \(WOODPECKER_TIMEWEBCLOUD_IMAGE_ID\): image 00000000-0000-4000-a000-000000000000 not found/,
    },
    {
      name: 'image still being created',
      fake: { catalog: { images: [{ id: '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f', name: 'half-baked', status: 'new' }] } },
      values: { timewebcloudImageId: 'half-baked' },
      error: /^--timewebcloud-image-id \(WOODPECKER_TIMEWEBCLOUD_IMAGE_ID\): image half-baked is not ready to boot servers \(status "new", 0%\)/,
    },
    {
      name: 'unknown preset',
      values: { timewebcloudPresetId: ['9999'] },
      error: /^--timewebcloud-preset-id \(WOODPECKER_TIMEWEBCLOUD_PRESET_ID\): preset 9999 not found; available: 2447 \(ru-1, 1 CPU\/1 GB\/15 GB, 300 RUB\/mo\), /,
    },
    {
      name: 'preset syntax',
      values: { timewebcloudPresetId: ['cx11:nbg1'] },
      error: /^--timewebcloud-preset-id \(.*\): "cx11:nbg1" is not "PRESET_ID\[:ZONE\]"/,
    },
    {
      name: 'preset zone outside its location',
      values: { timewebcloudPresetId: ['2453:ams-1'] },
      error: /^--timewebcloud-preset-id \(.*\): zone ams-1 is not in location ru-1 of preset 2453; zones of ru-1: spb-1, spb-3, spb-4$/,
    },
    {
      name: 'unknown zone',
      values: { timewebcloudAvailabilityZone: 'spb-9' },
      error: /^--timewebcloud-availability-zone \(WOODPECKER_TIMEWEBCLOUD_AVAILABILITY_ZONE\): zone spb-9 not found; available: spb-1 \(ru-1\), spb-3 \(ru-1\)/,
    },
    {
      name: 'zone outside the explicit preset location',
      values: { timewebcloudPresetId: ['4795'], timewebcloudAvailabilityZone: 'spb-3' },
      error: /^--timewebcloud-availability-zone \(.*\): zone spb-3 is not in location nl-1 of preset 4795; zones of nl-1: ams-1$/,
    },
    {
      name: 'unknown location',
      values: { timewebcloudLocation: 'us-1' },
      error: /^--timewebcloud-location \(WOODPECKER_TIMEWEBCLOUD_LOCATION\): location us-1 not found; available: ru-1, ru-2, ru-3, kz-1, nl-1, de-1$/,
    },
    {
      name: 'zone not in the location',
      values: { timewebcloudLocation: 'nl-1', timewebcloudAvailabilityZone: 'spb-3' },
      error: /zone spb-3 is in ru-1, not in --timewebcloud-location nl-1; zones of nl-1: ams-1/,
    },
    {
      name: 'no preset big enough',
      values: { timewebcloudMinCpu: 64 },
      error: /^timewebcloud: no preset has at least 64 CPU and 4096 MB RAM and meets the requirements of ubuntu-24\.04 \(99\); lower --timewebcloud-min-cpu/,
    },
    {
      name: 'no preset in a location without presets',
      values: { timewebcloudLocation: 'kz-1' },
      error: /no preset in kz-1 has at least 2 CPU/,
    },
    {
      name: 'min-ram given in GB',
      values: { timewebcloudMinRam: 4 },
      error: /^--timewebcloud-min-ram \(WOODPECKER_TIMEWEBCLOUD_MIN_RAM\): the value is in MB, not GB: did you mean 4096\?$/,
    },
    {
      name: 'unknown ssh key',
      values: { timewebcloudSshKeyId: ['ci-admin', 'nope'] },
      error: /^--timewebcloud-ssh-key-id \(WOODPECKER_TIMEWEBCLOUD_SSH_KEY_ID\): ssh key nope not found; available: ci-admin \(501\), laptop \(502\)$/,
    },
    {
      name: 'unknown project',
      values: { timewebcloudProjectId: '77' },
      error: /^--timewebcloud-project-id \(WOODPECKER_TIMEWEBCLOUD_PROJECT_ID\): project 77 not found; available: Общий проект \(1\), woodpecker-agents \(2\)$/,
    },
    {
      name: 'preset and configuration together',
      values: { timewebcloudPresetId: ['2453'], timewebcloudConfiguration: 'cpu=2,ram=4096,disk=51200' },
      error: /^--timewebcloud-configuration \(.*\): use either --timewebcloud-preset-id or --timewebcloud-configuration, not both$/,
    },
    {
      name: 'configuration syntax',
      values: { timewebcloudConfiguration: 'cpu=2,ram=4,disk=51200' },
      error: /ram=4 is in MB: did you mean ram=4096\?/,
    },
    {
      name: 'configuration outside the configurator limits',
      values: { timewebcloudConfiguration: 'cpu=2,ram=4096,disk=50000,configurator=15', timewebcloudBandwidth: 100 },
      error: /^--timewebcloud-configuration \(.*\): disk=50000 is not 15360 plus a multiple of 5120 for configurator 15/,
    },
    {
      name: 'unknown configurator',
      values: { timewebcloudConfiguration: 'cpu=2,ram=4096,disk=15360,configurator=99' },
      error: /configurator 99 not found; available: 11 \(ru-1, nvme: cpu 1–16/,
    },
    {
      name: 'no configurator fits',
      values: { timewebcloudConfiguration: 'cpu=32,ram=4096,disk=15360' },
      error: /no configurator accepts cpu=32,ram=4096,disk=15360; configurators: 11 \(ru-1.*\): cpu=32 is outside 1–16/,
    },
    {
      name: 'bandwidth syntax',
      values: { timewebcloudBandwidth: 150 },
      error: /^--timewebcloud-bandwidth \(WOODPECKER_TIMEWEBCLOUD_BANDWIDTH\): 150 is not 100–1000 in steps of 100$/,
    },
    {
      name: 'billing',
      values: { timewebcloudBilling: 'monthly' },
      error: /^--timewebcloud-billing \(WOODPECKER_TIMEWEBCLOUD_BILLING\): "monthly" is not hourly or per-second$/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const env = makeEnv(c.fake);
      const { logger } = captureLogger();
      const ctx = providerCtx(env, c.values, logger);
      if ('timewebcloudApiToken' in c.values) {
        ctx.values = { ...ctx.values, timewebcloudApiToken: c.values.timewebcloudApiToken };
      }
      await assert.rejects(createTimewebProvider(ctx), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        assert.match(err.message, c.error);
        assert.ok(!err.message.includes(env.fake.token));
        return true;
      });
      assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], undefined, 'nothing created');
    });
  }
});

test('a network failure at start-up is an Error (not a ConfigError) that says what could not be read', async () => {
  const env = makeEnv();
  env.fake.failNext('GET /api/v1/presets/servers', 500, { times: 10 });
  const { logger } = captureLogger();
  await assert.rejects(createTimewebProvider(providerCtx(env, {}, logger)), (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof ConfigError));
    assert.match(err.message, /^timewebcloud: cannot read the presets at start-up: Timeweb API GET \/api\/v1\/presets\/servers: HTTP 500/);
    return true;
  });
});

test('the client uses the context\'s request timeout (--request-timeout) and reports every request (metrics)', async () => {
  const env = makeEnv();
  env.fake.hangNext('GET /api/v1/presets/servers');
  const { logger } = captureLogger();
  const seen: { endpoint: string; status: number; durationMs: number }[] = [];
  const ctx = { ...providerCtx(env, {}, logger), requestTimeout: 7_000, onRequest: (e: (typeof seen)[number]) => seen.push(e) };
  await createTimewebProvider(ctx);
  const presets = seen.filter((e) => e.endpoint === 'GET /api/v1/presets/servers');
  assert.deepEqual(
    presets.map((e) => [e.status, e.durationMs]),
    [
      [0, 7_000],
      [200, 0],
    ],
    'the hung request times out after 7 s, then the retry answers',
  );
  assert.ok(seen.some((e) => e.endpoint === 'GET /api/v1/os/servers' && e.status === 200));
});

test('deploy sends exactly the expected create request (cloud_init included) and returns a booting server', async () => {
  const s = await setup({
    timewebcloudPresetId: ['2453:spb-1'],
    timewebcloudSshKeyId: ['ci-admin'],
    timewebcloudProjectId: '2',
    timewebcloudHostnamePrefix: 'CI-',
  });
  const server = await s.provider.deploy(agent('pool-1-agent-AbCd', 42));
  const posts = s.fake.requests().filter((r) => r.route === 'POST /api/v1/servers');
  assert.equal(posts.length, 1);
  assert.deepEqual(posts[0]?.body, {
    name: 'pool-1-agent-AbCd',
    comment: 'twcloud-scaler:inst=inst-a;pool=1;agent=42',
    hostname: 'ci-pool-1-agent-abcd',
    cloud_init: USER_DATA,
    preset_id: 2453,
    bandwidth: 200,
    os_id: 99,
    availability_zone: 'spb-1',
    ssh_keys_ids: [501],
    is_root_password_required: false,
    project_id: 2,
    network: { floating_ip: 'create_ip' },
  });
  assert.equal(server.name, 'pool-1-agent-AbCd');
  assert.equal(server.state, 'booting');
  assert.equal(server.status, 'installing');
  assert.equal(server.publicIpv4, undefined);
  assert.equal(server.createdAt, s.clock.now());
  // the fake stored the user-data as the real API does (the simulator parses it)
  const created = s.fake.server(Number(server.id));
  assert.equal(created?.cloud_init, USER_DATA);
  assertForeignIntact(s);
  assertNoSecretsLogged(s);
});

test('deploy with a configuration, an image and without a public IP', async () => {
  const s = await setup({
    timewebcloudConfiguration: 'cpu=4,ram=8192,disk=81920,configurator=11',
    timewebcloudImageId: '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f',
    timewebcloudPublicIp: false,
    timewebcloudBandwidth: 300,
  });
  await s.provider.deploy(agent('pool-1-agent-Conf'));
  const body = s.fake.requests().find((r) => r.route === 'POST /api/v1/servers')?.body;
  assert.deepEqual(body, {
    name: 'pool-1-agent-Conf',
    comment: 'twcloud-scaler:inst=inst-a;pool=1;agent=7',
    hostname: 'pool-1-agent-conf',
    cloud_init: USER_DATA,
    configuration: { configurator_id: 11, cpu: 4, ram: 8192, disk: 81920 },
    bandwidth: 300,
    image_id: '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f',
  });
  await s.clock.advance(61_000);
  const [listed] = await s.provider.list();
  assert.equal(listed?.state, 'running');
  assert.equal(listed?.publicIpv4, undefined);
  assertForeignIntact(s);
});

test('deploy refuses a name outside the pool pattern (it could never be recognised as ours)', async () => {
  const s = await setup();
  await assert.rejects(s.provider.deploy(agent('pool-2-agent-Abcd')), /does not match the pool's pattern/);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], undefined);
});

test('ambiguous create: server created but 500 answered → adopted, exactly one server', async () => {
  const s = await setup();
  s.fake.ambiguousCreate('error');
  const server = await s.provider.deploy(agent('pool-1-agent-Ambi'));
  assert.equal(s.fake.serverByName('pool-1-agent-Ambi').length, 1);
  assert.equal(server.id, String(s.fake.serverByName('pool-1-agent-Ambi')[0]?.id));
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 1, 'never created again');
  assertForeignIntact(s);
});

test('ambiguous create: server created but the answer never comes (timeout) → adopted, exactly one server', async () => {
  const s = await setup();
  s.fake.ambiguousCreate('hang');
  const server = await s.provider.deploy(agent('pool-1-agent-Tout'));
  assert.equal(server.name, 'pool-1-agent-Tout');
  assert.equal(s.fake.serverByName('pool-1-agent-Tout').length, 1);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 1);
  assertForeignIntact(s);
});

test('ambiguous create that did NOT go through → one more create, still exactly one server', async () => {
  const s = await setup();
  s.fake.failNext('POST /api/v1/servers', 503);
  const server = await s.provider.deploy(agent('pool-1-agent-Once'));
  assert.equal(server.state, 'booting');
  assert.equal(s.fake.serverByName('pool-1-agent-Once').length, 1);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 2);
  // it looked before creating again
  const routes = s.fake.requests().map((r) => r.route);
  const firstPost = routes.indexOf('POST /api/v1/servers');
  const secondPost = routes.lastIndexOf('POST /api/v1/servers');
  assert.ok(routes.slice(firstPost, secondPost).includes('GET /api/v1/servers'));
});

test('ambiguous failures twice → error after at most two creates, no server; a failing listing stops the retry', async () => {
  const s = await setup();
  s.fake.failNext('POST /api/v1/servers', 500, { times: 5 });
  await assert.rejects(s.provider.deploy(agent('pool-1-agent-Twic')), /failed twice without a clear answer/);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 2);
  assert.equal(s.fake.serverByName('pool-1-agent-Twic').length, 0);

  const s2 = await setup();
  s2.fake.ambiguousCreate('error');
  s2.fake.failNext('GET /api/v1/servers', 500, { times: 20 });
  await assert.rejects(s2.provider.deploy(agent('pool-1-agent-Lost')), /GET \/api\/v1\/servers: HTTP 500/);
  assert.equal(s2.fake.requestCounts()['POST /api/v1/servers'], 1, 'no second create without a successful look');
  assert.equal(s2.fake.serverByName('pool-1-agent-Lost').length, 1);
});

test('429 on create → RateLimitedError with Retry-After (seconds, HTTP date, absent → 60 s); no retry, no server', async () => {
  const cases: Array<{ header: (now: number) => string | undefined; ms: number }> = [
    { header: () => '120', ms: 120_000 },
    { header: (now) => new Date(now + 45_000).toUTCString(), ms: 45_000 },
    { header: () => undefined, ms: 60_000 },
    { header: () => 'soon', ms: 60_000 },
  ];
  for (const c of cases) {
    const s = await setup();
    const value = c.header(s.clock.now());
    s.fake.injectFault((req) => {
      if (req.route !== 'POST /api/v1/servers') return undefined;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (value !== undefined) headers['retry-after'] = value;
      return new Response(JSON.stringify({ status_code: 429, error_code: 'too_many_requests', message: 'Too Many Requests' }), {
        status: 429,
        headers,
      });
    });
    const err: unknown = await s.provider.deploy(agent('pool-1-agent-Rate')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RateLimitedError, `Retry-After ${String(value)}: ${String(err)}`);
    assert.equal(err.retryAfterMs, c.ms, `Retry-After ${String(value)}`);
    assert.match(err.message, /rate limit refused the create of pool-1-agent-Rate/);
    assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 1, 'never retried');
    assert.equal(s.fake.serverByName('pool-1-agent-Rate').length, 0);
  }
});

test('preset fallback: an unavailable preset moves on to the next candidate', async () => {
  const s = await setup({ timewebcloudPresetId: ['2453:spb-1', '2453:spb-3', '4795'] });
  s.fake.setPresetUnavailable(2453, 'spb-1');
  s.fake.setPresetUnavailable(2453, 'spb-3');
  await s.provider.deploy(agent('pool-1-agent-Fall'));
  const bodies = s.fake.requests().filter((r) => r.route === 'POST /api/v1/servers').map((r) => r.body as Record<string, unknown>);
  assert.deepEqual(bodies.map((b) => [b.preset_id, b.availability_zone]), [
    [2453, 'spb-1'],
    [2453, 'spb-3'],
    [4795, undefined],
  ]);
  const servers = s.fake.serverByName('pool-1-agent-Fall');
  assert.equal(servers.length, 1);
  assert.equal(servers[0]?.preset_id, 4795);
  assert.match(s.logs(), /preset 2453 .* in spb-1 is unavailable/);

  s.fake.setPresetUnavailable(4795);
  await assert.rejects(s.provider.deploy(agent('pool-1-agent-None')), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, /^timewebcloud: no candidate could create server pool-1-agent-None: preset 2453/);
    assert.match(err.message, /preset 4795 .*temporarily unavailable/);
    return true;
  });
  assert.equal(s.fake.serverByName('pool-1-agent-None').length, 0);
});

test('insufficient balance → a clear error, no fallback loop', async () => {
  const s = await setup({ timewebcloudPresetId: ['2453', '4795'] });
  s.fake.setBalance(0);
  await assert.rejects(s.provider.deploy(agent('pool-1-agent-Poor')), /insufficient balance on the Timeweb Cloud account: top up/);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 1);
});

test('other 4xx on create → an error with the API message (no retry, no fallback)', async () => {
  const s = await setup({ timewebcloudPresetId: ['2453', '4795'] });
  s.fake.rejectCreate({ match: () => true, status: 400, errorCode: 'bad_request', message: ['cloud_init is too long'], times: 1 });
  await assert.rejects(s.provider.deploy(agent('pool-1-agent-Long')), /creating server pool-1-agent-Long from preset 2453 .* failed: .*HTTP 400 bad_request: cloud_init is too long/);
  assert.equal(s.fake.requestCounts()['POST /api/v1/servers'], 1);
});

test('a create error that echoes the agent token alone never carries it (the provider names the token as a secret)', async () => {
  const s = await setup();
  // A custom template may put the token anywhere: the client cannot find it in the user-data by itself.
  const userData = '#cloud-config\nenv:\n  WOODPECKER_AGENT_SECRET: "agent-secret-XYZ123"\n';
  s.fake.rejectCreate({ match: () => true, status: 400, errorCode: 'bad_request', message: ['token agent-secret-XYZ123 is not valid'], times: 1 });
  const err = await s.provider.deploy({ ...agent('pool-1-agent-Echo'), userData }).then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error);
  assert.match(err.message, /HTTP 400 bad_request: token \[redacted\] is not valid/);
  assertNoSecretsLogged(s);
});

test('list: our booting servers are listed, foreign ones never; boot → running with the public IPv4', async () => {
  const s = await setup();
  await s.provider.deploy(agent('pool-1-agent-Aaaa', 1));
  await s.clock.advance(30_000);
  await s.provider.deploy(agent('pool-1-agent-Bbbb', 2));
  let list = await s.provider.list();
  assert.deepEqual(
    list.map((x) => [x.name, x.state, x.status, x.publicIpv4]),
    [
      ['pool-1-agent-Aaaa', 'booting', 'installing', undefined],
      ['pool-1-agent-Bbbb', 'booting', 'installing', undefined],
    ],
  );
  await s.clock.advance(31_000);
  list = await s.provider.list();
  assert.deepEqual(list.map((x) => [x.name, x.state]), [
    ['pool-1-agent-Aaaa', 'running'],
    ['pool-1-agent-Bbbb', 'booting'],
  ]);
  const ip = list[0]?.publicIpv4;
  assert.match(ip ?? '', /^185\./);
  assert.equal(list[0]?.createdAt, Date.parse(s.fake.serverByName('pool-1-agent-Aaaa')[0]?.created_at ?? ''));
  // list() only reads (a dry run lists too); tend() after the tick's actions marks the floating IPs
  assert.deepEqual(s.fake.requests().filter((r) => r.method !== 'GET' && r.path.includes('floating')), []);
  await s.provider.tend();
  // the floating IPs got our marker comment
  for (const name of ['pool-1-agent-Aaaa', 'pool-1-agent-Bbbb']) {
    const srv = s.fake.serverByName(name)[0];
    const fip = s.fake.floatingIps().find((x) => x.resource_id === srv?.id);
    assert.equal(fip?.comment, floatingIpComment(OWNER, name));
  }
  // the marking happens once per server
  const patches = s.fake.requestCounts()['PATCH /api/v1/floating-ips/:id'];
  await s.provider.list();
  await s.provider.tend();
  assert.equal(s.fake.requestCounts()['PATCH /api/v1/floating-ips/:id'], patches);
  assertForeignIntact(s);
  assertNoSecretsLogged(s);
});

test('list reports failed servers (no_paid, blocked, never-booting stays booting)', async () => {
  const s = await setup();
  s.fake.setBootOutcome((srv) => (srv.name.endsWith('Npd') ? 'no_paid' : srv.name.endsWith('Blk') ? 'blocked' : 'installing'));
  await s.provider.deploy(agent('pool-1-agent-Npd'));
  await s.provider.deploy(agent('pool-1-agent-Blk'));
  await s.provider.deploy(agent('pool-1-agent-Slow'));
  await s.clock.advance(3_600_000);
  const list = await s.provider.list();
  assert.deepEqual(
    list.map((x) => [x.name, x.state, x.status]),
    [
      ['pool-1-agent-Npd', 'failed', 'no_paid'],
      ['pool-1-agent-Blk', 'failed', 'blocked'],
      ['pool-1-agent-Slow', 'booting', 'installing'],
    ],
  );
  assertForeignIntact(s);
});

test('status → state mapping', () => {
  const table: [string, string][] = [
    ['installing', 'booting'],
    ['software_install', 'booting'],
    ['configuring', 'booting'],
    ['reinstalling', 'booting'],
    ['cloning', 'booting'],
    ['transfer', 'booting'],
    ['turning_on', 'booting'],
    ['rebooting', 'booting'],
    ['hard_rebooting', 'booting'],
    ['some_new_status', 'booting'],
    ['on', 'running'],
    ['blocked', 'failed'],
    ['no_paid', 'failed'],
    ['permanent_blocked', 'failed'],
    ['off', 'failed'],
    ['removing', 'deleting'],
    ['removed', 'deleting'],
    ['turning_off', 'deleting'],
    ['hard_turning_off', 'deleting'],
  ];
  for (const [status, state] of table) assert.equal(serverState(status), state, status);
});

test('remove deletes the server AND its floating IP (booted, and still installing)', async () => {
  const s = await setup();
  await s.provider.deploy(agent('pool-1-agent-Rmv1', 1));
  await s.clock.advance(61_000);
  await s.provider.deploy(agent('pool-1-agent-Rmv2', 2)); // still installing: IP allocated, not shown yet
  const ipsBefore = s.fake.floatingIps().length;
  assert.equal(await s.provider.remove('pool-1-agent-Rmv1'), 'removed');
  assert.equal(await s.provider.remove('pool-1-agent-Rmv2'), 'removed');
  assert.equal(s.fake.serverByName('pool-1-agent-Rmv1').length, 0);
  assert.equal(s.fake.serverByName('pool-1-agent-Rmv2').length, 0);
  assert.equal(s.fake.floatingIps().length, ipsBefore - 2, 'both IPs deleted');
  assert.deepEqual(
    s.fake.floatingIps().map((x) => x.id).sort(),
    s.foreignIps.map((x) => x.id).sort(),
    'only foreign IPs are left',
  );
  assert.deepEqual(await s.provider.list(), []);
  // idempotent
  assert.equal(await s.provider.remove('pool-1-agent-Rmv1'), 'not-found');
  assertForeignIntact(s);
  assertNoSecretsLogged(s);
});

test('remove never touches a same-name server without our marker (pool-1-agent-AbCd), nor another pool\'s', async () => {
  const s = await setup();
  assert.equal(await s.provider.remove('pool-1-agent-AbCd'), 'not-found');
  assert.equal(await s.provider.remove('pool-2-agent-XyZw'), 'not-found');
  assert.equal(await s.provider.remove('pool-1-builder'), 'not-found');
  assert.equal(await s.provider.remove('woodpecker-server'), 'not-found');
  assert.equal(s.fake.requestCounts()['DELETE /api/v1/servers/:id'], undefined);
  assert.match(s.logs(), /a server named pool-1-agent-AbCd exists without our marker: left alone/);
  // and they are not counted as ours
  assert.deepEqual(await s.provider.list(), []);

  // our own server with the same name as the foreign one: only ours goes
  await s.provider.deploy(agent('pool-1-agent-AbCd', 9));
  assert.equal(s.fake.serverByName('pool-1-agent-AbCd').length, 2);
  assert.deepEqual((await s.provider.list()).map((x) => x.name), ['pool-1-agent-AbCd']);
  assert.equal(await s.provider.remove('pool-1-agent-AbCd'), 'removed');
  const left = s.fake.serverByName('pool-1-agent-AbCd');
  assert.deepEqual(left.map((x) => x.id), [1002]);
  assertForeignIntact(s);
});

test('DELETE answered 200 with a hash → clear configuration error; server and IP still there', async () => {
  const s = await setup();
  await s.provider.deploy(agent('pool-1-agent-Hash'));
  await s.clock.advance(61_000);
  await s.provider.list();
  s.fake.setDeleteMode('confirm');
  await assert.rejects(s.provider.remove('pool-1-agent-Hash'), (err: unknown) => {
    assert.ok(err instanceof TimewebDeletePermissionError);
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /the API token lacks delete permission or Telegram delete confirmation is on/);
    return true;
  });
  const srv = s.fake.serverByName('pool-1-agent-Hash')[0];
  assert.ok(srv, 'server still there');
  assert.ok(s.fake.floatingIps().some((ip) => ip.resource_id === srv.id), 'its IP still there');
  assert.equal(s.fake.requestCounts()['DELETE /api/v1/floating-ips/:id'], undefined);

  s.fake.setDeleteMode('locked');
  await assert.rejects(s.provider.remove('pool-1-agent-Hash'), /cannot delete server pool-1-agent-Hash .*server deletion is locked/);
  s.fake.setDeleteMode('quarantine');
  assert.equal(await s.provider.remove('pool-1-agent-Hash'), 'removed');
  assert.equal(s.fake.serverByName('pool-1-agent-Hash').length, 0);
  assertForeignIntact(s);
});

test('an IP with a foreign comment or another pool\'s marker on our server is never marked, deleted or swept', async () => {
  const s = await setup();
  const srv = await s.provider.deploy(agent('pool-1-agent-Fips', 1));
  await s.clock.advance(61_000);
  const id = Number(srv.id);
  const vpn = s.fake.seedFloatingIp({ resource_id: id, resource_type: 'server', comment: 'office VPN — keep' });
  const other = s.fake.seedFloatingIp({ resource_id: id, resource_type: 'server', comment: floatingIpComment({ poolId: '10', installationId: INSTALLATION }, 'x') });
  const prefixed = s.fake.seedFloatingIp({ resource_id: id, resource_type: 'server', comment: `my-${floatingIpComment(OWNER, 'x')}` });
  await s.provider.list();
  await s.provider.tend(); // marks the server's own IP
  assert.equal(await s.provider.remove('pool-1-agent-Fips'), 'removed');
  await s.provider.sweep();
  const now = new Map(s.fake.floatingIps().map((ip) => [ip.id, ip]));
  for (const ip of [vpn, other, prefixed]) {
    assert.equal(now.get(ip.id)?.comment, ip.comment, `${ip.comment} must survive unchanged`);
    const touched = s.fake.requests().filter((r) => r.method !== 'GET' && r.path.includes(ip.id));
    assert.deepEqual(touched.map((r) => `${r.method} ${r.path}`), [], `${ip.comment} was touched`);
  }
  assert.match(s.logs(), /has a foreign comment; keeping it/);
  assertForeignIntact(s);
});

test('sweep deletes only our unattached floating IPs', async () => {
  const s = await setup();
  // another pool's leftover and a foreign in-use IP with our pool's marker text must survive
  const otherPool = s.fake.seedFloatingIp({ comment: floatingIpComment({ poolId: '2', installationId: INSTALLATION }, 'pool-2-agent-Gone') });
  const inUse = s.fake.floatingIps().find((ip) => ip.resource_id === 1001);
  assert.ok(inUse);
  // our leftover: deleting the IP fails during remove, so it stays behind (marked)
  await s.provider.deploy(agent('pool-1-agent-Left'));
  await s.clock.advance(61_000);
  await s.provider.list();
  s.fake.failNext('DELETE /api/v1/floating-ips/:id', 500, { times: 5 });
  assert.equal(await s.provider.remove('pool-1-agent-Left'), 'removed');
  const leftover = s.fake.floatingIps().filter((ip) => ip.comment === floatingIpComment(OWNER, 'pool-1-agent-Left'));
  assert.equal(leftover.length, 1);
  assert.equal(leftover[0]?.resource_id, null);

  const result = await s.provider.sweep();
  assert.deepEqual(result.deleted, [`floating-ip ${leftover[0]?.ip}`]);
  assert.equal(s.fake.floatingIps().filter((ip) => ip.id === leftover[0]?.id).length, 0);
  assert.ok(s.fake.floatingIps().some((ip) => ip.id === otherPool.id), "another pool's IP survives");
  assert.deepEqual(await s.provider.sweep(), { deleted: [] });
  assertForeignIntact(s);
});

test('an IP whose delete failed before marking is still found by the sweep (marked before the server goes)', async () => {
  const s = await setup();
  await s.provider.deploy(agent('pool-1-agent-Unmk'));
  // no list() in between: the IP is not marked yet when remove runs
  s.fake.failNext('DELETE /api/v1/floating-ips/:id', 500, { times: 5 });
  assert.equal(await s.provider.remove('pool-1-agent-Unmk'), 'removed');
  const swept = await s.provider.sweep();
  assert.equal(swept.deleted.length, 1);
  assert.deepEqual(
    s.fake.floatingIps().map((x) => x.id).sort(),
    s.foreignIps.map((x) => x.id).sort(),
  );
  assertForeignIntact(s);
});

test('a full lifecycle under faults and 429 pressure leaves no server and no IP of ours, and every foreign one', async () => {
  const s = await setup({ timewebcloudPresetId: ['2453', '4795'] });
  s.fake.failNext('GET /api/v1/servers', 502, { times: 2 });
  s.fake.failNext('DELETE /api/v1/servers/:id', 500, { times: 1 });
  const names = Array.from({ length: 12 }, (_, i) => `pool-1-agent-L${String.fromCharCode(97 + i)}`);
  await Promise.all(names.map((n, i) => s.provider.deploy(agent(n, i + 1))));
  await s.clock.advance(61_000);
  const listed = await s.provider.list();
  assert.equal(listed.length, 12);
  assert.ok(listed.every((x) => x.state === 'running' && x.publicIpv4));
  const results = await Promise.all(names.map((n) => s.provider.remove(n)));
  assert.ok(results.every((r) => r === 'removed'));
  await s.provider.sweep();
  assert.deepEqual(await s.provider.list(), []);
  assert.deepEqual(
    s.fake.floatingIps().map((x) => x.id).sort(),
    s.foreignIps.map((x) => x.id).sort(),
  );
  assert.deepEqual(
    s.fake.servers().map((x) => x.id),
    FOREIGN_SERVER_IDS,
  );
  assertForeignIntact(s);
  assertNoSecretsLogged(s);
});

test('created_at without a time zone is taken as UTC; a future one is clamped to now; garbage → first seen', async () => {
  const s = await setup();
  const comment = serverComment(OWNER, 3);
  const base = { comment, status: 'on', cpu: 2, ram: 4096, networks: [] };
  s.fake.injectFault((req) =>
    req.route === 'GET /api/v1/servers'
      ? new Response(
          JSON.stringify({
            servers: [
              { ...base, id: 1, name: 'pool-1-agent-Nozn', created_at: '2024-12-31T10:00:00.123456' },
              { ...base, id: 2, name: 'pool-1-agent-Offs', created_at: '2024-12-31T13:00:00+03:00' },
              { ...base, id: 3, name: 'pool-1-agent-Futr', created_at: '2030-01-01T00:00:00Z' },
              { ...base, id: 4, name: 'pool-1-agent-Garb', created_at: 'yesterday' },
            ],
            meta: { total: 4 },
          }),
          { status: 200, headers: { 'content-type': 'application/json' } },
        )
      : undefined,
  );
  const first = await s.provider.list();
  const seenAt = s.clock.now();
  assert.deepEqual(
    first.map((x) => [x.name, x.createdAt]),
    [
      ['pool-1-agent-Nozn', Date.UTC(2024, 11, 31, 10, 0, 0, 123)],
      ['pool-1-agent-Offs', Date.UTC(2024, 11, 31, 10, 0, 0)],
      ['pool-1-agent-Futr', seenAt],
      ['pool-1-agent-Garb', seenAt],
    ],
  );
  await s.clock.advance(60_000);
  const again = await s.provider.list();
  assert.equal(again.find((x) => x.name === 'pool-1-agent-Garb')?.createdAt, seenAt, 'first-seen time is kept');
});

test('an IP that cannot be marked keeps its server until the next attempt (no unmarked IP is ever orphaned)', async () => {
  const s = await setup();
  await s.provider.deploy(agent('pool-1-agent-Nomk'));
  // no list() in between: the IP is not marked yet when remove runs, and marking it fails
  s.fake.failNext('PATCH /api/v1/floating-ips/:id', 500, { times: 1 });
  await assert.rejects(s.provider.remove('pool-1-agent-Nomk'), /cannot mark floating IP .* the server is kept/);
  assert.equal(s.fake.serverByName('pool-1-agent-Nomk').length, 1, 'server kept');
  assert.equal(s.fake.requestCounts()['DELETE /api/v1/servers/:id'], undefined);
  // next attempt: marked, server and IP deleted
  assert.equal(await s.provider.remove('pool-1-agent-Nomk'), 'removed');
  assert.equal(s.fake.serverByName('pool-1-agent-Nomk').length, 0);
  assert.deepEqual(
    s.fake.floatingIps().map((x) => x.id).sort(),
    s.foreignIps.map((x) => x.id).sort(),
  );
  assertForeignIntact(s);
});

// ---- installations sharing one account (issue 9) ----------------------------------------------------------------------

const B_OWNER = { poolId: '1', installationId: 'inst-b' };

test("another installation's servers and IPs (same account, same pool id) are listed as foreign, never patched or deleted", async () => {
  const s = await setup();
  const theirs = s.fake.seedServer({ name: 'pool-1-agent-Thrs', comment: serverComment(B_OWNER, 5) });
  const theirIp = s.fake.seedFloatingIp({ resource_id: theirs.id, resource_type: 'server', comment: floatingIpComment(B_OWNER, theirs.name) });
  const theirLeftover = s.fake.seedFloatingIp({ comment: floatingIpComment(B_OWNER, 'pool-1-agent-Gone') });
  // Theirs is failed (off): before, the failed-server clean-up removed it with no grace.
  s.fake.setServerStatus(theirs.id, 'off');
  const inv = await s.provider.inventory();
  assert.deepEqual(inv.servers, []);
  assert.deepEqual(inv.legacy, []);
  assert.ok(inv.foreign.some((f) => f.name === theirs.name && /another installation \(inst-b\)/.test(f.why)));
  assert.equal(await s.provider.remove(theirs.name), 'not-found');
  await assert.rejects(s.provider.adopt(theirs.name, 5), /nothing adopted/);
  assert.deepEqual((await s.provider.sweep()).deleted, []);
  assert.equal(s.fake.server(theirs.id)?.comment, theirs.comment);
  const ips = new Map(s.fake.floatingIps().map((ip) => [ip.id, ip]));
  assert.equal(ips.get(theirIp.id)?.comment, theirIp.comment);
  assert.ok(ips.has(theirLeftover.id), "their unattached IP is not swept");
  const writes = s.fake.requests().filter((r) => r.method !== 'GET');
  assert.deepEqual(writes.map((r) => `${r.method} ${r.path}`), [], 'no write at all');
  assertForeignIntact(s);
});

test('a server of the current release is adopted only with its agent id; its marker and IP marker are upgraded', async () => {
  const s = await setup();
  const old = s.fake.seedServer({ name: 'pool-1-agent-Oldr', comment: `ops note ${legacyServerComment('1', 42)}` });
  const oldIp = s.fake.seedFloatingIp({ resource_id: old.id, resource_type: 'server', comment: legacyFloatingIpComment('1', old.name) });
  const inv = await s.provider.inventory();
  assert.deepEqual(inv.servers, []);
  assert.deepEqual(inv.legacy.map((x) => [x.name, x.agentId]), [[old.name, 42]]);
  // The wrong agent id proves nothing.
  await assert.rejects(s.provider.adopt(old.name, 43), /nothing adopted/);
  assert.equal(s.fake.server(old.id)?.comment, old.comment);
  await s.provider.adopt(old.name, 42);
  assert.equal(s.fake.server(old.id)?.comment, `ops note ${serverComment(OWNER, 42)}`);
  await s.provider.adopt(old.name, 42); // a retry after a lost answer is a no-op
  const after = await s.provider.inventory();
  assert.deepEqual(after.servers.map((x) => [x.name, x.agentId]), [[old.name, 42]]);
  await s.provider.tend(); // IPs are marked after a tick's actions
  assert.equal(s.fake.floatingIps().find((ip) => ip.id === oldIp.id)?.comment, floatingIpComment(OWNER, old.name));
  assert.equal(await s.provider.remove(old.name), 'removed');
  assert.equal(s.fake.server(old.id), undefined);
  assert.ok(!s.fake.floatingIps().some((ip) => ip.id === oldIp.id), 'its IP goes with it');
  assertForeignIntact(s);
});
