import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildImage, ImageBuildError } from '../../src/providers/timeweb/image-build.js';
import type { ImageBuildOptions, ImageBuildResult } from '../../src/providers/timeweb/image-build.js';
import { builderComment, builderName, imageDescription, imageName, makeRecipe } from '../../src/providers/timeweb/image-recipe.js';
import type { ImageRecipe } from '../../src/providers/timeweb/image-recipe.js';
import { readTimewebOptions } from '../../src/providers/timeweb/options.js';
import { createTimewebProvider } from '../../src/providers/timeweb/provider.js';
import { resolveTimewebSettings } from '../../src/providers/timeweb/resolve.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { FakeTimewebOptions } from '../../src/sandbox/fake-timeweb.js';
import { captureLogger, FOREIGN_SERVER_IDS, makeEnv, OWNER, POOL, providerCtx } from './helpers.js';
import type { Env } from './helpers.js';

/**
 * `timeweb image build` steps (buildImage) against the fake Timeweb in virtual time: the builder boots, its guest
 * powers itself off (the fake: 4 min after boot for user-data that runs `systemctl poweroff`), the image goes
 * `new` → `created` (5 min), and the builder and its IP are always deleted.
 */

const AGENT = 'woodpeckerci/woodpecker-agent:v3';

function recipe(agentImage = AGENT, installScript?: string): ImageRecipe {
  return makeRecipe({ osId: 99, osLabel: 'ubuntu-24.04', agentImage, template: '', ...(installScript ? { installScript } : {}) });
}

async function setup(fake: Partial<FakeTimewebOptions> = {}): Promise<Env & { base: Omit<ImageBuildOptions, 'recipe'>; logs: string[] }> {
  const env = makeEnv(fake);
  const values = { timewebcloudApiToken: env.fake.token, timewebcloudApiUrl: env.fake.baseUrl, timewebcloudPresetId: ['2453'] };
  const settings = await resolveTimewebSettings(env.client, readTimewebOptions(values), silentLogger());
  const logs: string[] = [];
  const base = {
    client: env.client,
    clock: env.clock,
    settings,
    owner: OWNER,
    installTimeoutMs: 30 * 60_000,
    imageTimeoutMs: 30 * 60_000,
    pollMs: 10_000,
    log: (m: string) => logs.push(m),
  };
  return { ...env, base, logs };
}

/** Nothing of the build is left: no builder server, no unattached IP besides the seeded foreign ones. */
function assertClean(env: Env, foreignIps = 2): void {
  const names = env.fake.servers().map((s) => s.name);
  assert.deepEqual(names.filter((n) => n.startsWith('twcloud-scaler-builder-')), [], 'builder deleted');
  assert.deepEqual(
    env.fake.servers().map((s) => s.id),
    FOREIGN_SERVER_IDS,
    'only the foreign servers remain',
  );
  assert.equal(env.fake.floatingIps().length, foreignIps + FOREIGN_SERVER_IDS.length - 1, 'builder IP deleted, foreign IPs kept');
}

async function rejectsBuild(p: Promise<ImageBuildResult>, re: RegExp): Promise<ImageBuildError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof ImageBuildError, `expected ImageBuildError, got ${String(caught)}`);
  assert.match(caught.message, re);
  return caught;
}

describe('timeweb image build', () => {
  it('builds: builder from the OS with the recipe, waits until off, images its system disk, deletes builder and IP', async () => {
    const env = await setup();
    const r = recipe();
    const res = await buildImage({ ...env.base, recipe: r });
    assert.equal(res.reused, false);
    assert.equal(res.image.status, 'created');
    assert.equal(res.image.name, `twcloud-scaler-agent-${r.hash}`);
    assert.equal(res.image.location, 'ru-1');
    assert.deepEqual(res.left, []);

    const reqs = env.fake.requests();
    const create = reqs.find((q) => q.route === 'POST /api/v1/servers');
    assert.ok(create);
    const body = create.body as Record<string, unknown>;
    assert.equal(body.name, builderName(r.hash));
    assert.equal(body.comment, builderComment(OWNER, r.hash));
    assert.equal(body.os_id, 99);
    assert.equal(body.image_id, undefined);
    assert.equal(body.preset_id, 2453);
    assert.equal(body.cloud_init, r.userData);
    assert.deepEqual(body.network, { floating_ip: 'create_ip' });

    // The image was asked for once, after the builder was off (the fake answers 409 for a running server's disk).
    const imageReqs = reqs.filter((q) => q.route === 'POST /api/v1/images');
    assert.equal(imageReqs.length, 1);
    assert.equal(imageReqs[0]?.status, 201);
    const ib = imageReqs[0]?.body as Record<string, unknown>;
    assert.equal(ib.name, res.image.name);
    assert.match(String(ib.description), new RegExp(`^twcloud-scaler-image:recipe=${r.hash} `));
    assert.equal(ib.location, 'ru-1');
    assert.equal(ib.os, 'ubuntu');
    assert.equal(typeof ib.disk_id, 'number');
    assert.ok(env.logs.some((l) => /builder is off after/.test(l)), env.logs.join('\n'));
    // Timings: boot 60 s + guest power-off 4 min + turning_off 10 s ≈ 5 min (10 s polls); image 5 min.
    assert.ok(res.timings && res.timings.installMs >= 310_000 && res.timings.installMs <= 330_000, JSON.stringify(res.timings));
    assert.ok(res.timings.imageMs >= 300_000 && res.timings.imageMs <= 310_000, JSON.stringify(res.timings));
    assertClean(env);
  });

  it('waits for the power-off: never asks for the image while the builder is on or turning off', async () => {
    const env = await setup({ images: { turningOffMs: 120_000 } });
    await buildImage({ ...env.base, recipe: recipe() });
    const reqs = env.fake.requests();
    const imageAt = reqs.find((q) => q.route === 'POST /api/v1/images')?.at ?? 0;
    const offSeen = reqs.filter((q) => q.route === 'GET /api/v1/servers/:id').map((q) => q.at);
    assert.ok(offSeen.length >= 30, `polled ${offSeen.length} times`);
    assert.ok(imageAt >= (reqs.find((q) => q.route === 'POST /api/v1/servers')?.at ?? 0) + 60_000 + 240_000 + 120_000);
    assert.ok(reqs.every((q) => q.status !== 409), 'no conflict from the image create');
  });

  it('reuses an image with the same recipe hash (nothing is created); another recipe builds a new one', async () => {
    const env = await setup();
    const first = await buildImage({ ...env.base, recipe: recipe() });
    env.fake.resetRequestCounts();
    const again = await buildImage({ ...env.base, recipe: recipe() });
    assert.equal(again.reused, true);
    assert.equal(again.image.id, first.image.id);
    assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], undefined);
    assert.equal(env.fake.requestCounts()['POST /api/v1/images'], undefined);

    for (const other of [recipe('woodpeckerci/woodpecker-agent:v3.1'), recipe(AGENT, 'apt-get install -y jq')]) {
      assert.notEqual(other.hash, first.image.name.slice(-12));
      const res = await buildImage({ ...env.base, recipe: other });
      assert.equal(res.reused, false);
      assert.notEqual(res.image.id, first.image.id);
    }
    assertClean(env);
  });

  it('a failed image of an earlier build is left alone (not provably ours) and a new one is built', async () => {
    const r = recipe();
    const seed = { id: '11111111-2222-4333-a444-555555555555', name: imageName(r.hash), description: imageDescription(r), status: 'failed' };
    const env = await setup({ catalog: { images: [seed] } });
    const res = await buildImage({ ...env.base, recipe: r });
    assert.equal(res.reused, false);
    assert.notEqual(res.image.id, seed.id);
    assert.equal(env.fake.images.list().find((i) => i.id === seed.id)?.status, 'failed');
    assert.equal(env.fake.requestCounts()['DELETE /api/v1/images/:id'], undefined);
    assert.ok(env.logs.some((l) => /has failed: building a new one/.test(l)));
  });

  it('an image of ours still being created (an earlier build) is waited for and reused; nothing is built', async () => {
    const r = recipe();
    const seed = { id: '11111111-2222-4333-a444-555555555555', name: imageName(r.hash), description: imageDescription(r), status: 'new', readyAfterMs: 7 * 60_000 };
    const env = await setup({ catalog: { images: [seed] } });
    const res = await buildImage({ ...env.base, recipe: r });
    assert.equal(res.reused, true);
    assert.equal(res.image.id, seed.id);
    assert.equal(res.image.status, 'created');
    assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], undefined);
  });

  it('Timeweb failing the image: a clear error, the failed image, builder and IP deleted', async () => {
    const env = await setup({ images: { imageOutcome: 'failed' } });
    await rejectsBuild(buildImage({ ...env.base, recipe: recipe() }), /could not create image .*status "failed"/);
    assert.deepEqual(env.fake.images.list().filter((i) => i.name.startsWith('twcloud-scaler-agent-')).map((i) => i.status), ['deleted']);
    assertClean(env);
  });

  it('cleans up what a crashed build left (old builder, its IP, a marked free IP); leaves foreign look-alikes alone', async () => {
    const env = await setup();
    const r = recipe();
    const old = new Date(env.clock.now() - 3 * 3_600_000).toISOString();
    const leftover = env.fake.seedServer({ name: builderName(r.hash), comment: builderComment(OWNER, r.hash), created_at: old });
    const freeIp = env.fake.seedFloatingIp({ comment: builderComment(OWNER, 'abcdefabcdef') });
    const otherPool = env.fake.seedServer({ name: builderName('0123456789ab'), comment: builderComment({ poolId: '7', installationId: OWNER.installationId }, '0123456789ab'), created_at: old });
    const noMarker = env.fake.seedServer({ name: builderName('0123456789ab'), comment: 'my own builder', created_at: old });
    const otherInstallation = env.fake.seedServer({
      name: builderName(r.hash),
      comment: builderComment({ poolId: POOL, installationId: 'inst-b' }, r.hash),
      created_at: old,
    });
    const otherInstallationIp = env.fake.seedFloatingIp({ comment: builderComment({ poolId: POOL, installationId: 'inst-b' }, 'abcdefabcdef') });
    const otherPoolIp = env.fake.seedFloatingIp({ comment: builderComment({ poolId: '7', installationId: OWNER.installationId }, 'abcdefabcdef') });
    const res = await buildImage({ ...env.base, recipe: r });
    assert.equal(res.reused, false);
    assert.equal(env.fake.server(leftover.id), undefined, 'leftover builder deleted');
    const ips = env.fake.floatingIps().map((x) => x.id);
    assert.ok(!ips.includes(freeIp.id), 'marked free IP deleted');
    assert.ok(ips.includes(otherPoolIp.id), "another pool's builder IP kept");
    assert.ok(env.fake.server(otherPool.id), "another pool's builder kept");
    assert.ok(env.fake.server(noMarker.id), 'a look-alike without the marker kept');
    assert.ok(env.fake.server(otherInstallation.id), "another installation's builder (same pool id) kept");
    assert.ok(ips.includes(otherInstallationIp.id), "another installation's builder IP kept");
    assert.ok(env.logs.some((l) => l.includes(`deleting ${builderName(r.hash)} (id ${leftover.id}), left by an earlier build`)));
  });

  it('a young builder of this pool means another build is running: stop before creating anything', async () => {
    const env = await setup();
    const r = recipe();
    const young = env.fake.seedServer({
      name: builderName(r.hash),
      comment: builderComment(OWNER, r.hash),
      created_at: new Date(env.clock.now() - 5 * 60_000).toISOString(),
    });
    await rejectsBuild(buildImage({ ...env.base, recipe: r }), /another image build seems to be running: .*5 min ago/);
    assert.ok(env.fake.server(young.id), 'the running build is not touched');
    assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], undefined);
  });

  it('a failure mid-way (image create rejected) deletes the builder and its IP', async () => {
    const env = await setup();
    env.fake.failNext('POST /api/v1/images', 400, {
      body: JSON.stringify({ status_code: 400, error_code: 'bad_request', message: ['quota exceeded'], response_id: 'r-1' }),
      contentType: 'application/json',
    });
    const err = await rejectsBuild(buildImage({ ...env.base, recipe: recipe() }), /POST \/api\/v1\/images: HTTP 400 bad_request: quota exceeded/);
    assert.deepEqual(err.left, []);
    assertClean(env);
  });

  it('a builder that never powers off times out with a clear error; no image is asked for; builder and IP deleted', async () => {
    const env = await setup({ images: { guestPowerOffMs: () => undefined } });
    await rejectsBuild(
      buildImage({ ...env.base, recipe: recipe(), installTimeoutMs: 20 * 60_000 }),
      /the builder did not power itself off within 20 min \(status "on"\): the install failed or is slow/,
    );
    assert.equal(env.fake.requestCounts()['POST /api/v1/images'], undefined);
    assertClean(env);
  });

  it('an image that never becomes ready times out with a clear error; the image, builder and IP are deleted', async () => {
    const env = await setup({ images: { imageOutcome: 'stuck' } });
    await rejectsBuild(
      buildImage({ ...env.base, recipe: recipe(), imageTimeoutMs: 15 * 60_000 }),
      /image twcloud-scaler-agent-[0-9a-f]{12} \(.*\) was not ready within 15 min \(status "new", \d+%\); it was deleted/,
    );
    assert.deepEqual(
      env.fake.images.list().filter((i) => i.name.startsWith('twcloud-scaler-agent-')).map((i) => i.status),
      ['deleted'],
    );
    assertClean(env);
  });

  it('an ambiguous builder create (500, but created) is found by name and cleaned up; never created twice', async () => {
    const env = await setup();
    env.fake.ambiguousCreate('error');
    const res = await buildImage({ ...env.base, recipe: recipe() });
    assert.equal(res.image.status, 'created');
    assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], 1);
    assertClean(env);
  });

  it('Ctrl-C (abort) while waiting still deletes the builder and its IP', async () => {
    const env = await setup();
    const abort = new AbortController();
    const p = buildImage({ ...env.base, recipe: recipe(), signal: abort.signal });
    await env.clock.advance(0);
    setTimeout(() => abort.abort(new Error('interrupted (SIGINT)')), 5);
    await rejectsBuild(p, /interrupted \(SIGINT\)/);
    assertClean(env);
  });

  it('the pool boots from the built image: the provider resolves it by name and creates servers with image_id only', async () => {
    const env = await setup();
    const built = await buildImage({ ...env.base, recipe: recipe() });
    const { logger } = captureLogger();
    const provider = await createTimewebProvider(
      providerCtx(env, { timewebcloudPresetId: ['2453'], timewebcloudImageId: built.image.name }, logger),
    );
    await provider.deploy({ agent: { id: 9, name: 'pool-1-agent-Img1', token: 'agent-token-123456' }, userData: '#cloud-config\n' });
    const req = env.fake.requests().filter((q) => q.route === 'POST /api/v1/servers').at(-1);
    const body = req?.body as Record<string, unknown>;
    assert.equal(req?.status, 201);
    assert.equal(body.image_id, built.image.id);
    assert.equal(body.os_id, undefined);
    assert.equal(env.fake.serverByName('pool-1-agent-Img1')[0]?.image?.id, built.image.id);
  });
});
