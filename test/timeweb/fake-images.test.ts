import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createImage, deleteImage, getImage, listImages, listServerDisks } from '../../src/providers/timeweb/images-api.js';
import { TimewebApiError } from '../../src/providers/timeweb/client.js';
import { makeEnv } from './helpers.js';
import type { Env } from './helpers.js';

/** The fake Timeweb's images, disks and guest power-off, as the spec shapes them and no kinder than the real API. */

async function raw(env: Env, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${env.fake.token}`, 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await env.fake.fetch(`${env.fake.baseUrl}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

/** A server that is on, whose guest powers off `offAfterMs` after boot (or never). */
async function bootedServer(env: Env, userData = '#cloud-config\n'): Promise<number> {
  const s = await env.client.createServer({ name: 'img-src', os_id: 99, preset_id: 2453, cloud_init: userData });
  await env.clock.advance(60_000);
  assert.equal(env.fake.server(s.id)?.status, 'on');
  return s.id;
}

describe('fake Timeweb: images', () => {
  it('POST /api/v1/images validates like the spec: location and os required, one of disk_id / upload_url (400, string[])', async () => {
    const env = makeEnv();
    const cases: [unknown, RegExp][] = [
      [{ disk_id: 1 }, /location must be one of.*os must be one of/],
      [{ location: 'ru-1', os: 'ubuntu' }, /exactly one of disk_id or upload_url is required/],
      [{ location: 'ru-1', os: 'solaris', disk_id: 1 }, /os must be one of the following values: centos/],
      [{ location: 'ru-1', os: 'ubuntu', disk_id: 1, upload_url: 'https://x.example/i.qcow2' }, /exactly one of/],
    ];
    for (const [body, re] of cases) {
      const r = await raw(env, 'POST', '/api/v1/images', body);
      assert.equal(r.status, 400);
      const j = r.json as { status_code: number; error_code: string; message: string[]; response_id: string };
      assert.equal(j.status_code, 400);
      assert.equal(j.error_code, 'bad_request');
      assert.ok(Array.isArray(j.message));
      assert.match(j.message.join('; '), re);
      assert.equal(typeof j.response_id, 'string');
    }
  });

  it('a disk of a server that is not off answers 409; an unknown disk 404; another location 400', async () => {
    const env = makeEnv();
    const id = await bootedServer(env);
    const [disk] = await listServerDisks(env.client, id);
    assert.ok(disk && disk.is_system === true && disk.system_name === 'vda');
    const conflict = await raw(env, 'POST', '/api/v1/images', { location: 'ru-1', os: 'ubuntu', disk_id: disk.id });
    assert.equal(conflict.status, 409);
    assert.equal((conflict.json as { error_code: string }).error_code, 'conflict');
    assert.equal((await raw(env, 'POST', '/api/v1/images', { location: 'ru-1', os: 'ubuntu', disk_id: 999 })).status, 404);
    env.fake.setServerStatus(id, 'off');
    assert.equal((await raw(env, 'POST', '/api/v1/images', { location: 'nl-1', os: 'ubuntu', disk_id: disk.id })).status, 400);
    await assert.rejects(listServerDisks(env.client, 424242), (e: unknown) => e instanceof TimewebApiError && e.status === 404);
  });

  it('the guest powering itself off: on → turning_off → off, 4 min after boot for user-data that runs systemctl poweroff', async () => {
    const env = makeEnv();
    const id = await bootedServer(env, '#cloud-config\nruncmd:\n  - systemctl poweroff\n');
    const plain = await bootedServer(env);
    // The first server has been on for 60 s (the second one's boot).
    await env.clock.advance(170_000);
    assert.equal(env.fake.server(id)?.status, 'on');
    await env.clock.advance(15_000);
    assert.equal(env.fake.server(id)?.status, 'turning_off');
    await env.clock.advance(10_000);
    assert.equal(env.fake.server(id)?.status, 'off');
    await env.clock.advance(3_600_000);
    assert.equal(env.fake.server(plain)?.status, 'on', 'other guests stay on');
  });

  it('an image goes new → created over virtual time; GET, list (paged, meta.total), DELETE 204 then 404', async () => {
    const env = makeEnv();
    const id = await bootedServer(env);
    env.fake.setServerStatus(id, 'off');
    const [disk] = await listServerDisks(env.client, id);
    const img = await createImage(env.client, { name: 'agent', description: 'd', disk_id: disk?.id ?? 0, location: 'ru-1', os: 'ubuntu' });
    assert.equal(img.status, 'new');
    assert.equal(img.progress, 0);
    await env.clock.advance(150_000);
    const half = await getImage(env.client, img.id);
    assert.equal(half?.status, 'new');
    assert.ok((half?.progress ?? 0) >= 49 && (half?.progress ?? 0) <= 51, String(half?.progress));
    await env.clock.advance(150_000);
    assert.equal((await getImage(env.client, img.id))?.status, 'created');
    assert.equal((await getImage(env.client, img.id))?.progress, 100);

    const page = await raw(env, 'GET', '/api/v1/images?limit=1&offset=0');
    assert.deepEqual((page.json as { meta: unknown }).meta, { total: 2 });
    assert.equal((page.json as { images: unknown[] }).images.length, 1);
    assert.deepEqual((await listImages(env.client, undefined, 1)).map((i) => i.name).sort(), ['agent', 'ci-agent-golden']);

    assert.equal(await deleteImage(env.client, img.id), 'deleted');
    assert.equal(await deleteImage(env.client, img.id), 'not-found');
    const gone = await raw(env, 'GET', `/api/v1/images/${img.id}`);
    assert.equal(gone.status, 404);
    assert.equal((gone.json as { error_code: string }).error_code, 'not_found');
  });

  it('deleting the server while its image is new fails the image', async () => {
    const env = makeEnv();
    const id = await bootedServer(env);
    env.fake.setServerStatus(id, 'off');
    const img = await createImage(env.client, { name: 'a', description: '', disk_id: id * 10, location: 'ru-1', os: 'ubuntu' });
    await env.client.deleteServer(id);
    assert.equal((await getImage(env.client, img.id))?.status, 'failed');
  });

  it('servers boot from an image only once it is created, and only in its location', async () => {
    const env = makeEnv({ catalog: { images: [{ id: 'aaaaaaaa-0000-4000-a000-000000000001', name: 'wip', status: 'new' }] } });
    const create = (image_id: string, preset_id: number) => raw(env, 'POST', '/api/v1/servers', { name: 'x', preset_id, image_id });
    const notReady = await create('aaaaaaaa-0000-4000-a000-000000000001', 2453);
    assert.equal(notReady.status, 400);
    assert.match(JSON.stringify(notReady.json), /is not ready \(status new\)/);
    const env2 = makeEnv();
    const golden = '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f';
    const elsewhere = await raw(env2, 'POST', '/api/v1/servers', { name: 'x', preset_id: 4795, image_id: golden });
    assert.equal(elsewhere.status, 400);
    assert.match(JSON.stringify(elsewhere.json), /is in location ru-1, not nl-1/);
    const ok = await raw(env2, 'POST', '/api/v1/servers', { name: 'x', preset_id: 2453, image_id: golden });
    assert.equal(ok.status, 201);
  });
});
