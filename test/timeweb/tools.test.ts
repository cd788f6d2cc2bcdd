import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { addOptions } from '../../src/config/commander.js';
import { allOptionSpecs } from '../../src/config/sections.js';
import { parseRamFilter, registerTimewebCommands } from '../../src/cli/timeweb.js';
import type { TimewebCliIo } from '../../src/cli/timeweb.js';
import { classifyServer, serverComment } from '../../src/providers/timeweb/ownership.js';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import type { FakeTimeweb, FakeTimewebOptions } from '../../src/sandbox/fake-timeweb.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { serveFake } from '../../src/sandbox/serve.js';
import type { ServedFake } from '../../src/sandbox/serve.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';
import { FOREIGN_SERVER_IDS } from './helpers.js';

/**
 * The `timeweb list` and `timeweb test` tools against the fake Timeweb API served on 127.0.0.1 (real HTTP, real
 * time with short boot delays and a short poll interval).
 */

const POLL = ['--poll-interval', '50ms'];
const emptyDir = mkdtempSync(join(tmpdir(), 'twcloud-tools-'));
const open: ServedFake[] = [];
after(async () => {
  await Promise.all(open.map((s) => s.close()));
});

interface World {
  fake: FakeTimeweb;
  url: string;
  /** Foreign servers/IPs as seeded, to check they survive. */
  foreign: ReturnType<FakeTimeweb['servers']>;
  foreignIps: ReturnType<FakeTimeweb['floatingIps']>;
}

async function world(opts: Partial<FakeTimewebOptions> = {}): Promise<World> {
  const fake = createFakeTimeweb({ clock: systemClock, random: seededRandom(5), bootDelayMs: 250, ...opts });
  const served = await serveFake(fake.app);
  open.push(served);
  return {
    fake,
    url: served.url,
    foreign: fake.servers().filter((s) => FOREIGN_SERVER_IDS.includes(s.id)),
    foreignIps: fake.floatingIps(),
  };
}

interface RunResult {
  out: string;
  err: string;
  code: number;
}

async function run(w: World, args: string[], io: Partial<TimewebCliIo> = {}, program?: Command): Promise<RunResult> {
  let out = '';
  let err = '';
  const p = program ?? new Command('twcloud-scaler');
  p.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerTimewebCommands(p, {
    env: { WOODPECKER_TIMEWEBCLOUD_API_TOKEN: w.fake.token },
    cwd: emptyDir,
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    random: seededRandom(42),
    onInterrupt: () => () => undefined,
    ...io,
  });
  const full = program ? args : ['timeweb', ...args];
  try {
    await p.parseAsync(full, { from: 'user' });
    return { out, err, code: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, code: e.exitCode };
    throw e;
  }
}

/** `list <what> …` / `test …` with the URL flag after the subcommand. */
const list = (w: World, what: string, ...rest: string[]): Promise<RunResult> =>
  run(w, ['list', what, '--timewebcloud-api-url', w.url, ...rest]);
/** `timeweb test` stopping at "on" (`--no-wait-agent`); tests of the default (waiting for the agent) add `--wait-agent`. */
const test = (w: World, rest: string[], io: Partial<TimewebCliIo> = {}): Promise<RunResult> =>
  run(w, ['test', '--timewebcloud-api-url', w.url, ...POLL, ...(rest.includes('--wait-agent') ? [] : ['--no-wait-agent']), ...rest], io);

/** The table row that starts (after the mark column) with this id. */
function row(out: string, id: number | string): string {
  const line = out.split('\n').find((l) => new RegExp(`(^|\\s)${id}\\s{2,}`).test(l));
  assert.ok(line, `no row for ${id} in:\n${out}`);
  return line;
}

function ourServers(w: World): ReturnType<FakeTimeweb['servers']> {
  return w.fake.servers().filter((s) => !FOREIGN_SERVER_IDS.includes(s.id));
}

/** Foreign servers and IPs are unchanged, and no DELETE/PATCH ever named one of them. */
function assertForeignIntact(w: World): void {
  for (const before of w.foreign) {
    const now = w.fake.server(before.id);
    assert.ok(now, `foreign server ${before.name} must survive`);
    assert.equal(now.comment, before.comment);
    assert.equal(now.name, before.name);
  }
  const ips = new Map(w.fake.floatingIps().map((ip) => [ip.id, ip]));
  for (const ip of w.foreignIps) {
    assert.ok(ips.has(ip.id), `foreign floating IP ${ip.ip} must survive`);
    assert.equal(ips.get(ip.id)?.comment, ip.comment);
  }
  const foreign = new Set([...w.foreign.map((s) => String(s.id)), ...w.foreignIps.map((x) => x.id)]);
  for (const r of w.fake.requests()) {
    if (r.method !== 'DELETE' && r.method !== 'PATCH') continue;
    const id = r.path.split('?')[0]?.split('/').pop() ?? '';
    assert.ok(!foreign.has(id), `${r.method} ${r.path} touched a foreign resource`);
  }
}

/** Nothing of the test is left: no server of ours, no floating IP beyond the foreign ones. */
function assertAllCleaned(w: World): void {
  assert.deepEqual(ourServers(w).map((s) => s.name), [], 'the test server must be deleted');
  assert.equal(w.fake.floatingIps().length, w.foreignIps.length, 'the floating IP must be deleted');
}

function creates(w: World): number {
  return w.fake.requests().filter((r) => r.route === 'POST /api/v1/servers').length;
}

describe('timeweb list', () => {
  it('presets: every preset sorted by price with month and hour prices, the auto-pick marked', async () => {
    const w = await world();
    const r = await list(w, 'presets');
    assert.equal(r.code, 0, r.err);
    for (const h of ['ID', 'LOCATION', 'CPU', 'RAM GB', 'DISK GB', 'MBIT/S', 'PER MONTH', 'PER HOUR*', 'DESCRIPTION']) {
      assert.ok(r.out.includes(h), `header ${h}`);
    }
    const ids = [...r.out.matchAll(/^\s*(?:auto|#\d)?\s+(\d{4})\s/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, [2447, 2449, 4797, 2451, 2453, 4801, 4795, 2455, 2457], 'all presets, cheapest first');
    assert.match(row(r.out, 2453), /^auto\s+2453\s+ru-1\s+2\s+4\s+50 nvme\s+200\s+1000\s+1\.37\s+/);
    assert.doesNotMatch(row(r.out, 4801), /auto/);
    assert.match(r.out, /÷ 730 h/);
    assert.match(r.out, /auto = the preset the autoscaler picks/);
    assertForeignIntact(w);
  });

  it('presets: configured candidates are numbered in order', async () => {
    const w = await world();
    const r = await list(w, 'presets', '--timewebcloud-preset-id', '4795,2453:spb-1');
    assert.equal(r.code, 0, r.err);
    assert.match(row(r.out, 4795), /^#1\s+4795/);
    assert.match(row(r.out, 2453), /^#2\s+2453/);
  });

  it('presets: --location, --min-cpu and --min-ram filter the rows', async () => {
    const w = await world();
    const cases: { args: string[]; ids: number[] }[] = [
      { args: ['--location', 'nl-1'], ids: [4797, 4795] },
      { args: ['--min-cpu', '2', '--min-ram', '4'], ids: [2453, 4801, 4795, 2455, 2457] },
      { args: ['--min-ram', '8192MB'], ids: [2455] },
      { args: ['--location', 'ru-1', '--min-cpu', '4'], ids: [2455] },
    ];
    for (const c of cases) {
      const r = await list(w, 'presets', ...c.args, '--json');
      assert.equal(r.code, 0, r.err);
      const json = JSON.parse(r.out) as { id: number }[];
      assert.deepEqual(json.map((p) => p.id), c.ids, c.args.join(' '));
      const text = await list(w, 'presets', ...c.args);
      assert.match(text.out, new RegExp(`9 presets, ${c.ids.length} shown`));
    }
    const bad = await list(w, 'presets', '--location', 'mars-1');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /no location mars-1; known: .*nl-1/);
  });

  it('parses --min-ram in GB or MB', () => {
    const cases: [string, number][] = [
      ['4', 4096],
      ['0.5', 512],
      ['4GB', 4096],
      ['2g', 2048],
      ['4096', 4096],
      ['4096MB', 4096],
    ];
    for (const [input, mb] of cases) assert.equal(parseRamFilter(input), mb, input);
    assert.throws(() => parseRamFilter('lots'), /not a size/);
  });

  it('os: name-version values, codenames and minimums; the configured OS marked', async () => {
    const w = await world();
    const r = await list(w, 'os');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /NAME \(for --timewebcloud-os-id\)/);
    assert.match(row(r.out, 99), /^→\s+99\s+ubuntu-24\.04\s+noble\s+linux\s+1 CPU, 1 GB RAM, 10 GB disk/);
    assert.match(row(r.out, 93), /debian-12\s+bookworm/);
    assert.match(row(r.out, 65), /windows-2012.*2 CPU, 4 GB RAM, 50 GB disk/);
    const other = await list(w, 'os', '--timewebcloud-os-id', 'debian-12');
    assert.match(row(other.out, 93), /^→/);
    const wrong = await list(w, 'os', '--timewebcloud-os-id', 'ubuntu-25.04');
    assert.equal(wrong.code, 0);
    assert.match(wrong.out, /would NOT start: .*os ubuntu-25\.04 not found; available: .*ubuntu-24\.04 \(99\)/);
  });

  it('configurators, zones, ssh-keys and projects print their tables', async () => {
    const w = await world();
    const conf = await list(w, 'configurators', '--location', 'ru-1');
    assert.equal(conf.code, 0, conf.err);
    assert.match(row(conf.out, 11), /11\s+ru-1\s+nvme\s+1–16 step 1\s+1–64 step 1\s+15–500 step 5\s+100–1000 step 100/);
    assert.doesNotMatch(conf.out, /\bnl-1\b.*step/);

    const zones = await list(w, 'zones');
    assert.match(zones.out, /^ru-1\s+RU\s+spb-1, spb-3, spb-4$/m);
    assert.match(zones.out, /^nl-1\s+NL\s+ams-1$/m);
    const aliased = await list(w, 'locations', '--json');
    assert.ok((JSON.parse(aliased.out) as { location: string }[]).some((l) => l.location === 'de-1'));

    const keys = await list(w, 'ssh-keys');
    assert.match(row(keys.out, 501), /501\s+ci-admin\s+ssh-ed25519 … ci-admin/);
    assert.match(row(keys.out, 502), /502\s+laptop\s+yes/);

    const projects = await list(w, 'projects');
    assert.match(row(projects.out, 2), /2\s+woodpecker-agents\s+CI agents/);

    const unknown = await list(w, 'volumes');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /choose one of os, presets, configurators, zones, ssh-keys, projects, servers/);
  });

  it('servers: marks ours, another installation\'s, the look-alike without marker, the Woodpecker VDS and other pools', async () => {
    const w = await world();
    const mine = w.fake.seedServer({ name: 'pool-1-agent-Mine', comment: serverComment({ poolId: '1', installationId: 'inst-a' }, 9) });
    const theirs = w.fake.seedServer({ name: 'pool-1-agent-Thrs', comment: serverComment({ poolId: '1', installationId: 'inst-b' }, 9) });
    const r = await list(w, 'servers', '--installation-id', 'inst-a');
    assert.equal(r.code, 0, r.err);
    for (const h of ['ID', 'NAME', 'STATUS', 'CREATED (UTC)', 'PUBLIC IPv4', 'OURS']) assert.ok(r.out.includes(h), h);
    assert.match(row(r.out, mine.id), /pool-1-agent-Mine\s+on\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+185\.\S+\s+YES$/);
    assert.match(row(r.out, theirs.id), /pool-1-agent-Thrs.*foreign \(installation inst-b\)$/);
    assert.match(row(r.out, 1001), /woodpecker-server\s+on\s.*\sno$/);
    assert.match(row(r.out, 1002), /pool-1-agent-AbCd.*foreign \(look-alike, no marker\)$/);
    assert.match(row(r.out, 1003), /pool-2-agent-XyZw.*no \(pool 2\)$/);
    assert.match(row(r.out, 1004), /pool-1-builder.*no \(marker, but not an agent name\)$/);
    assert.match(r.out, /1 belongs to pool 1 of installation inst-a/);
    assert.match(r.out, /Note: pool-1-agent-Thrs \(id \d+\) is foreign: marker of another installation \(inst-b\)/);
    assert.match(r.out, /Note: pool-1-agent-AbCd \(id 1002\) is named like an agent of pool 1 .* NOT ours/);

    // The same account seen by installation B.
    const b = await list(w, 'servers', '--installation-id', 'inst-b');
    assert.match(row(b.out, theirs.id), /YES$/);
    assert.match(row(b.out, mine.id), /foreign \(installation inst-a\)$/);

    const other = await list(w, 'servers', '--pool-id', '2', '--installation-id', 'inst-a');
    assert.match(row(other.out, 1003), /foreign until adopted/, 'the current release marker of pool 2');
    assert.match(row(other.out, mine.id), /no \(pool 1\)$/);

    const json = await list(w, 'servers', '--json', '--installation-id', 'inst-a');
    const servers = JSON.parse(json.out) as Record<string, unknown>[];
    assert.equal(servers.length, 7);
    assert.equal(servers.find((s) => s.name === 'pool-1-agent-Thrs')?.ownership, 'other-installation');
    assert.deepEqual(
      servers.filter((s) => s.ours === true).map((s) => s.name),
      ['pool-1-agent-Mine'],
    );
    for (const s of servers) {
      assert.ok(!('root_pass' in s) && !('vnc_pass' in s) && !('cloud_init' in s), 'secrets must not be printed');
    }
    assertForeignIntact(w);
  });

  it('classifies ownership by name pattern AND marker', () => {
    const A = { poolId: '1', installationId: 'inst-a' };
    const cases: [string, string, ReturnType<typeof classifyServer>][] = [
      ['pool-1-agent-abcd', serverComment(A, 3), 'ours'],
      ['pool-1-agent-abcd', serverComment({ poolId: '1', installationId: 'inst-b' }, 3), 'other-installation'],
      ['pool-1-agent-abcd', '', 'lookalike'],
      ['pool-1-agent-abcd', serverComment({ poolId: '2', installationId: 'inst-a' }, 3), 'other-pool'],
      ['pool-1-builder', serverComment(A, 3), 'marker-foreign-name'],
      ['woodpecker', 'CI server', 'foreign'],
    ];
    for (const [name, comment, want] of cases) assert.equal(classifyServer({ name, comment }, A), want, `${name} ${comment}`);
  });

  it('a bad token gives a readable hint, never the token', async () => {
    const w = await world();
    const r = await run(w, ['list', 'zones', '--timewebcloud-api-url', w.url], {
      env: { WOODPECKER_TIMEWEBCLOUD_API_TOKEN: 'wrong-token-123456' },
    });
    assert.equal(r.code, 1);
    assert.match(r.err, /rejected the API token \(HTTP 401/);
    assert.match(r.err, /WOODPECKER_TIMEWEBCLOUD_API_TOKEN/);
    assert.match(r.err, /API и Terraform/);
    assert.ok(!r.err.includes('wrong-token-123456'));

    const missing = await run(w, ['list', 'zones', '--timewebcloud-api-url', w.url], { env: {} });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--timewebcloud-api-token \(WOODPECKER_TIMEWEBCLOUD_API_TOKEN, .*required/);
  });

  it('takes the Timeweb flags before the subcommand too, and reads .env', async () => {
    const w = await world();
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-tools-env-'));
    writeFileSync(join(dir, '.env'), `WOODPECKER_TIMEWEBCLOUD_API_TOKEN=${w.fake.token}\n`);
    const program = new Command('twcloud-scaler').enablePositionalOptions();
    addOptions(program, allOptionSpecs());
    const r = await run(w, ['--timewebcloud-api-url', w.url, 'timeweb', 'list', 'zones'], { env: {}, cwd: dir }, program);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /6 locations/);
  });
});

describe('timeweb test', () => {
  it('creates exactly one server as the provider would, waits for "on" and an IPv4, then deletes server and IP', async () => {
    const w = await world();
    const r = await test(w, []);
    assert.equal(r.code, 0, r.err);
    assert.equal(creates(w), 1, 'exactly one create');
    const body = w.fake.requests().find((x) => x.route === 'POST /api/v1/servers')?.body as Record<string, unknown>;
    assert.match(String(body.name), /^pool-1-agent-[a-z0-9]{12}$/);
    assert.match(String(body.comment), /^twcloud-scaler:inst=[a-z2-7]{10};pool=1;agent=0$/);
    assert.equal(body.preset_id, 2453, 'the auto-picked preset');
    assert.equal(body.os_id, 99);
    assert.deepEqual(body.network, { floating_ip: 'create_ip' });
    assert.match(String(body.cloud_init), /^#cloud-config/);
    assert.match(String(body.cloud_init), /blackhole 169\.254\.169\.254/);

    assert.match(r.out, /creating server pool-1-agent-/);
    assert.match(r.out, /status installing → on/);
    assert.match(r.out, /public IPv4 185\./);
    assert.match(r.out, /Summary/);
    assert.match(r.out, /create request answered\s+\d+\.\ds/);
    assert.match(r.out, /status "on"\s+\d+\.\ds/);
    assert.match(r.out, /price\s+≈ 1\.58 RUB\/hour \(server \+ public IPv4, monthly prices ÷ 730 h\)/);
    assert.match(r.out, /deleted\s+server pool-1-agent-\w+ \(id \d+\), floating IP 185\./);
    assert.match(r.out, /result\s+OK/);
    assert.ok(!r.out.includes('WOODPECKER_AGENT_SECRET'), 'no user-data in the output');
    assertAllCleaned(w);
    assertForeignIntact(w);
    const gets = w.fake.requests().filter((x) => x.route === 'GET /api/v1/servers/:id').length;
    assert.ok(gets >= 1 && gets < 100, `polled gently (${gets} status reads)`);
  });

  it('never deletes a floating IP with a foreign comment, even one attached to the test server', async () => {
    const w = await world();
    let foreignIp: string | undefined;
    w.fake.hooks.onServerCreated = (srv) => {
      // An operator attaches (or re-comments) an IP of theirs to the fresh test server.
      foreignIp = w.fake.seedFloatingIp({ resource_id: srv.id, resource_type: 'server', comment: 'office VPN — keep' }).id;
    };
    const r = await test(w, []);
    assert.ok(foreignIp);
    const kept = w.fake.floatingIps().find((x) => x.id === foreignIp);
    assert.ok(kept, `the foreign IP was deleted:\n${r.out}`);
    assert.equal(kept.comment, 'office VPN — keep');
    assert.ok(!w.fake.requests().some((x) => x.method !== 'GET' && x.path.includes(foreignIp ?? '?')), 'never touched');
    assert.match(r.out, /has a foreign comment; it is not ours and is left alone/);
    assert.deepEqual(ourServers(w).map((s) => s.name), [], 'the test server is deleted');
    assertForeignIntact(w);
  });

  it('never deletes a floating IP of another resource type whose id equals the test server\'s', async () => {
    const w = await world();
    let dbIp: string | undefined;
    w.fake.hooks.onServerCreated = (srv) => {
      // Resource ids are per type: a database may have the same numeric id as the new server.
      dbIp = w.fake.seedFloatingIp({ resource_id: srv.id, resource_type: 'database', comment: '' }).id;
    };
    const r = await test(w, []);
    assert.ok(dbIp);
    assert.ok(w.fake.floatingIps().some((x) => x.id === dbIp), `the database's IP was deleted:\n${r.out}`);
    assert.ok(!w.fake.requests().some((x) => x.method !== 'GET' && x.path.includes(dbIp ?? '?')), 'never touched');
    assert.deepEqual(ourServers(w).map((s) => s.name), [], 'the test server is deleted');
    assertForeignIntact(w);
  });

  it('--keep keeps the server and its IP and says how to delete them', async () => {
    const w = await world();
    const r = await test(w, ['--keep']);
    assert.equal(r.code, 0, r.err);
    const mine = ourServers(w);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]?.status, 'on');
    assert.equal(w.fake.floatingIps().length, w.foreignIps.length + 1);
    assert.match(r.out, /Kept \(--keep\)/);
    assert.match(r.out, new RegExp(`curl -X DELETE .*WOODPECKER_TIMEWEBCLOUD_API_TOKEN.* ${w.url}/api/v1/servers/${mine[0]?.id}`));
    assert.match(r.out, /api\/v1\/floating-ips\/[0-9a-f-]+/);
    assertForeignIntact(w);
  });

  const failures: { name: string; setup: (w: World) => void; args?: string[]; err: RegExp }[] = [
    { name: 'the server ends no_paid', setup: (w) => w.fake.setBootOutcome('no_paid'), err: /status "no_paid": the account balance/ },
    {
      name: 'a status read fails',
      setup: (w) => w.fake.failNext('GET /api/v1/servers/:id', 400, { body: '{"error_code":"bad_request","message":"boom"}' }),
      err: /boom/,
    },
    { name: 'the timeout passes', setup: (w) => w.fake.setBootDelay(60_000), args: ['--timeout', '400ms'], err: /timed out after 0\.4s/ },
  ];
  for (const f of failures) {
    it(`cleans up when ${f.name}`, async () => {
      const w = await world();
      f.setup(w);
      const r = await test(w, f.args ?? []);
      assert.equal(r.code, 1, r.out);
      assert.match(r.err, f.err);
      assert.match(r.out, /result\s+FAILED/);
      assert.match(r.out, /deleted\s+server pool-1-agent-\w+ \(id \d+\), floating IP/);
      assert.equal(creates(w), 1);
      assertAllCleaned(w);
      assertForeignIntact(w);
    });
  }

  it('--keep does not keep a failed server', async () => {
    const w = await world();
    w.fake.setBootOutcome('blocked');
    const r = await test(w, ['--keep']);
    assert.equal(r.code, 1);
    assertAllCleaned(w);
  });

  it('Ctrl-C while the create request runs: waits for it, then deletes server and IP', async () => {
    const w = await world();
    let fire: ((sig: string) => void) | undefined;
    w.fake.hooks.onServerCreated = () => fire?.('SIGINT');
    const r = await test(w, [], {
      onInterrupt: (h) => {
        fire = h;
        return () => {
          fire = undefined;
        };
      },
    });
    assert.equal(r.code, 130);
    assert.match(r.out, /SIGINT: waiting for the create request to answer/);
    assert.match(r.out, /result\s+INTERRUPTED \(SIGINT\)/);
    assert.match(r.err, /everything the test created was deleted/);
    assert.equal(fire, undefined, 'the signal handler is removed at the end');
    assertAllCleaned(w);
    assertForeignIntact(w);
  });

  it('Ctrl-C while waiting: deletes server and IP; one more Ctrl-C during clean-up does not stop it', async () => {
    const w = await world({ bootDelayMs: 60_000 });
    let fire: ((sig: string) => void) | undefined;
    w.fake.injectFault((req) => {
      if (req.route === 'GET /api/v1/servers/:id' || req.route === 'DELETE /api/v1/servers/:id') fire?.('SIGINT');
      return undefined;
    });
    const r = await test(w, [], { onInterrupt: (h) => ((fire = h), () => undefined) });
    assert.equal(r.code, 130, r.err);
    assert.match(r.out, /SIGINT: stopping; deleting what the test created/);
    assert.match(r.out, /still deleting what the test created/);
    assertAllCleaned(w);
    assertForeignIntact(w);
  });

  it('when Timeweb refuses the delete, says what is left and how to delete it', async () => {
    const w = await world();
    w.fake.setDeleteMode('confirm');
    const r = await test(w, []);
    assert.equal(r.code, 1);
    assert.match(r.out, /clean-up failed: .*delete permission/);
    assert.match(r.out, /LEFT RUNNING\s+server pool-1-agent-/);
    assert.match(r.out, /curl -X DELETE/);
    assert.match(r.err, /left: server pool-1-agent-/);
    assert.match(r.out, /result\s+CLEAN-UP FAILED/);
    assertForeignIntact(w);
  });

  it('--wait-agent registers a real agent, sees its first contact, and deletes agent, server and IP', async () => {
    const w = await world();
    const wp = createFakeWoodpecker({ clock: systemClock, random: seededRandom(2), adminToken: 'wp-admin-token', pick: 'first' });
    const served = await serveFake(wp.app);
    open.push(served);
    // The "VM" boots from the user-data it was given: the agent authenticates with the token found there.
    w.fake.hooks.onServerBooted = (s) => {
      const token = /WOODPECKER_AGENT_SECRET=(\S+)/.exec(s.cloud_init ?? '')?.[1];
      if (token) wp.connectAgent(token, { capacity: 1 });
    };
    const r = await test(w, ['--wait-agent', '--server-url', served.url, '--server-token', 'wp-admin-token']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /registered agent pool-1-agent-\w+ \(id \d+\) on the Woodpecker server, with no_schedule/);
    assert.match(r.out, /agent pool-1-agent-\w+ contacted the Woodpecker server/);
    assert.match(r.out, /agent first contact\s+\d+\.\ds/);
    assert.match(r.out, /deleted\s+server .*floating IP .*Woodpecker agent pool-1-agent-\w+/);
    assert.deepEqual(wp.state().agents, [], 'the agent is deleted from Woodpecker');
    const body = w.fake.requests().find((x) => x.route === 'POST /api/v1/servers')?.body as Record<string, unknown>;
    assert.match(String(body.comment), /agent=\d+/);
    assert.ok(!r.out.includes('wp-admin-token'));
    assertAllCleaned(w);
    assertForeignIntact(w);
  });

  it('waiting for the agent is the default: without the Woodpecker server it is a configuration error naming --no-wait-agent; nothing is created', async () => {
    const w = await world();
    for (const args of [[], ['--wait-agent']]) {
      const r = await run(w, ['test', '--timewebcloud-api-url', w.url, ...POLL, ...args]);
      assert.equal(r.code, 2);
      assert.match(r.err, /waits for the agent to connect, which needs the Woodpecker server: .*--server-token \(WOODPECKER_TOKEN.*or add --no-wait-agent/);
    }
    assert.equal(creates(w), 0);
  });

  it('by default (no flag) registers a real agent and waits for its first contact', async () => {
    const w = await world();
    const wp = createFakeWoodpecker({ clock: systemClock, random: seededRandom(3), adminToken: 'wp-admin-token', pick: 'first' });
    const served = await serveFake(wp.app);
    open.push(served);
    w.fake.hooks.onServerBooted = (s) => {
      const token = /WOODPECKER_AGENT_SECRET=(\S+)/.exec(s.cloud_init ?? '')?.[1];
      if (token) wp.connectAgent(token, { capacity: 1 });
    };
    const r = await run(w, ['test', '--timewebcloud-api-url', w.url, ...POLL, '--server-url', served.url, '--server-token', 'wp-admin-token']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /agent pool-1-agent-\w+ contacted the Woodpecker server/);
    assert.match(r.out, /result\s+OK: the agent connected/);
    assert.match(r.out, /forecast\s+set --boot-time \d+(m|s|m\d+s) \(WOODPECKER_BOOT_TIME=\d+(m|s|m\d+s)\) for this boot path/);
    assert.deepEqual(wp.state().agents, []);
    assertAllCleaned(w);
  });

  it('--no-wait-agent stops at "on" with a throwaway token and needs no Woodpecker server', async () => {
    const w = await world();
    const r = await test(w, []);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /agent first contact\s+-\s+not waited \(--no-wait-agent\)/);
    assert.match(r.out, /result\s+OK: the server was up/);
    assertAllCleaned(w);
  });

  it('a wrong preset fails at start-up with the choices, before anything is created', async () => {
    const w = await world();
    const r = await test(w, ['--timewebcloud-preset-id', '9999']);
    assert.equal(r.code, 2);
    assert.match(r.err, /preset 9999 not found; available: .*2453/);
    assert.equal(creates(w), 0);
  });
});
