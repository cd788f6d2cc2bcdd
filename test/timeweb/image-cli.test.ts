import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerTimewebCommands } from '../../src/cli/timeweb.js';
import type { TimewebCliIo } from '../../src/cli/timeweb.js';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import type { FakeTimeweb, FakeTimewebOptions } from '../../src/sandbox/fake-timeweb.js';
import { serveFake } from '../../src/sandbox/serve.js';
import type { ServedFake } from '../../src/sandbox/serve.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';
import { FOREIGN_SERVER_IDS } from './helpers.js';

/**
 * `timeweb image build`, `timeweb list images` and `timeweb test --image` against the fake Timeweb on 127.0.0.1
 * (real HTTP, real time with short delays and a short poll interval).
 */

const dir = mkdtempSync(join(tmpdir(), 'twcloud-image-'));
const open: ServedFake[] = [];
after(async () => {
  await Promise.all(open.map((s) => s.close()));
});

const FAST: Partial<FakeTimewebOptions> = {
  bootDelayMs: (s) => (s.image ? 100 : 400),
  images: { imageDelayMs: 300, guestPowerOffMs: () => 300, turningOffMs: 100 },
};

async function world(opts: Partial<FakeTimewebOptions> = FAST): Promise<{ fake: FakeTimeweb; url: string }> {
  const fake = createFakeTimeweb({ clock: systemClock, random: seededRandom(5), ...opts });
  const served = await serveFake(fake.app);
  open.push(served);
  return { fake, url: served.url };
}

async function run(w: { fake: FakeTimeweb; url: string }, args: string[], io: Partial<TimewebCliIo> = {}) {
  let out = '';
  let err = '';
  const p = new Command('twcloud-scaler');
  p.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerTimewebCommands(p, {
    env: { WOODPECKER_TIMEWEBCLOUD_API_TOKEN: w.fake.token, WOODPECKER_TIMEWEBCLOUD_API_URL: w.url },
    cwd: dir,
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    random: seededRandom(42),
    onInterrupt: () => () => undefined,
    ...io,
  });
  try {
    await p.parseAsync(['timeweb', ...args], { from: 'user' });
    return { out, err, code: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, code: e.exitCode };
    throw e;
  }
}

const BUILD = ['image', 'build', '--poll-interval', '50ms'];

describe('timeweb image build (CLI)', () => {
  it('prints only the image id on stdout; a second run reuses it; list images marks ours', async () => {
    const w = await world();
    const first = await run(w, BUILD);
    assert.equal(first.code, 0, first.err);
    const id = first.out.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.match(first.err, /recipe [0-9a-f]{12}: ubuntu-24\.04, Docker, woodpeckerci\/woodpecker-agent:/);
    assert.match(first.err, /image twcloud-scaler-agent-[0-9a-f]{12} \(.*\) is ready in ru-1 after/);
    assert.match(first.err, new RegExp(`WOODPECKER_TIMEWEBCLOUD_IMAGE_ID=${id}`));
    assert.deepEqual(w.fake.servers().map((s) => s.id), FOREIGN_SERVER_IDS, 'builder deleted');

    const again = await run(w, BUILD);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out.trim(), id);
    assert.match(again.err, /already exists: reused \(nothing built\)/);

    const list = await run(w, ['list', 'images']);
    assert.equal(list.code, 0, list.err);
    const ours = list.out.split('\n').find((l) => l.includes(id)) ?? '';
    assert.match(ours, /^yes\s+\S+\s+twcloud-scaler-agent-[0-9a-f]{12}\s+created\s+ru-1\s+ubuntu/);
    const golden = list.out.split('\n').find((l) => l.includes('ci-agent-golden')) ?? '';
    assert.match(golden, /^\s+5f7a1c2e/, 'a foreign image is not marked');
    const json = JSON.parse((await run(w, ['list', 'images', '--json'])).out) as { id: string; ours: boolean }[];
    assert.deepEqual(json.map((x) => [x.id === id, x.ours]).sort(), [[false, false], [true, true]]);
  });

  it('--install-script is part of the recipe (a new image); a missing file is a configuration error (exit 2)', async () => {
    const w = await world();
    const plain = (await run(w, BUILD)).out.trim();
    const script = join(dir, 'extra.sh');
    writeFileSync(script, 'apt-get install -y jq\n');
    const extra = await run(w, [...BUILD, '--install-script', script]);
    assert.equal(extra.code, 0, extra.err);
    assert.notEqual(extra.out.trim(), plain);
    const missing = await run(w, [...BUILD, '--install-script', join(dir, 'nope.sh')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--install-script: cannot read/);
  });

  it('a failing build exits 1 with the reason and says everything was deleted', async () => {
    const w = await world({ ...FAST, images: { ...FAST.images, imageOutcome: 'failed' } });
    const r = await run(w, BUILD);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /could not create image .*status "failed".*everything the build created was deleted/);
    assert.deepEqual(w.fake.servers().map((s) => s.id), FOREIGN_SERVER_IDS);
  });

  it('timeweb test --image runs from the OS and from the image and prints both boot times', async () => {
    const w = await world();
    const id = (await run(w, BUILD)).out.trim();
    const r = await run(w, ['test', '--image', id, '--no-wait-agent', '--poll-interval', '50ms']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /=== 1\/2: from the OS ===/);
    assert.match(r.out, /=== 2\/2: from the image ===/);
    assert.match(r.out, new RegExp(`Boot time, create request → server up:\\n\\s+FROM\\s+TIME\\n\\s+OS\\s+\\d+\\.\\ds\\n\\s+image ${id}\\s+\\d+\\.\\ds`));
    const creates = w.fake.requests().filter((q) => q.route === 'POST /api/v1/servers' && q.status === 201);
    const bodies = creates.slice(-2).map((q) => q.body as Record<string, unknown>);
    assert.equal(bodies[0]?.os_id, 99);
    assert.equal(bodies[0]?.image_id, undefined);
    assert.equal(bodies[1]?.image_id, id);
    assert.equal(bodies[1]?.os_id, undefined);
    assert.deepEqual(w.fake.servers().map((s) => s.id), FOREIGN_SERVER_IDS, 'both test servers deleted');
  });
});
