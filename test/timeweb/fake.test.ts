import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import type { TwServer } from '../../src/providers/timeweb/types.js';
import { AutoClock } from './helpers.js';

function make(opts: Parameters<typeof createFakeTimeweb>[0] extends infer O ? Partial<O> : never = {}) {
  const clock = new AutoClock();
  const fake = createFakeTimeweb({ clock, ...opts });
  const call = async (method: string, path: string, body?: unknown, token = fake.token) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fake.fetch(`http://timeweb.fake${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  };
  return { clock, fake, call };
}

const create = { name: 'pool-1-agent-Test', preset_id: 2453, os_id: 99, network: { floating_ip: 'create_ip' }, cloud_init: '#cloud-config\n' };

test('auth: a missing or wrong bearer token gets 401 with an EMPTY body', async () => {
  const { call } = make();
  for (const token of ['', 'nope']) {
    const r = await call('GET', '/api/v1/servers', undefined, token);
    assert.equal(r.status, 401);
    assert.equal(r.text, '');
  }
});

test('a server installs (ips null) and is on after the boot delay, with a public IPv4 that has an id', async () => {
  const { fake, clock, call } = make({ bootDelayMs: 90_000 });
  const created: TwServer[] = [];
  const booted: TwServer[] = [];
  fake.hooks.onServerCreated = (s) => created.push(s);
  fake.hooks.onServerBooted = (s) => booted.push(s);
  const r = await call('POST', '/api/v1/servers', create);
  assert.equal(r.status, 201);
  const server = r.json?.server as TwServer;
  assert.equal(server.status, 'installing');
  assert.equal(server.networks?.[0]?.ips, null);
  assert.equal(server.cloud_init, '#cloud-config\n');
  assert.equal(server.availability_zone, 'spb-3');
  assert.equal(created.length, 1);
  // the floating IP exists right away, attached to the server
  const fip = fake.floatingIps().find((ip) => ip.resource_id === server.id);
  assert.equal(fip?.resource_type, 'server');
  await clock.advance(89_999);
  assert.equal(fake.server(server.id)?.status, 'installing');
  await clock.advance(1);
  const on = fake.server(server.id);
  assert.equal(on?.status, 'on');
  assert.deepEqual(on?.networks?.[0]?.ips, [{ type: 'ipv4', ip: fip?.ip, ptr: '', is_main: true, id: fip?.id }]);
  assert.equal(booted.length, 1);
});

test('a create_ip floating IP outlives its server; deleting it while attached fails like the real API', async () => {
  const { fake, call } = make();
  const deleted: number[] = [];
  fake.hooks.onServerDeleted = (s) => deleted.push(s.id);
  const server = (await call('POST', '/api/v1/servers', create)).json?.server as TwServer;
  const fip = fake.floatingIps().find((ip) => ip.resource_id === server.id);
  assert.ok(fip);
  const early = await call('DELETE', `/api/v1/floating-ips/${fip.id}`);
  assert.equal(early.status, 400);
  assert.equal(early.json?.error_code, 'delete_main_ip_error');
  assert.equal((await call('DELETE', `/api/v1/servers/${server.id}`)).status, 204);
  assert.deepEqual(deleted, [server.id]);
  const after = fake.floatingIps().find((ip) => ip.id === fip.id);
  assert.equal(after?.resource_id, null, 'still there, unattached');
  assert.equal((await call('DELETE', `/api/v1/floating-ips/${fip.id}`)).status, 204);
  assert.equal((await call('DELETE', `/api/v1/floating-ips/${fip.id}`)).status, 404);
  assert.equal((await call('DELETE', `/api/v1/servers/${server.id}`)).status, 404);
});

test('floatingIpAt "boot": the IP appears only when the server is on', async () => {
  const { fake, clock, call } = make({ floatingIpAt: 'boot' });
  const server = (await call('POST', '/api/v1/servers', create)).json?.server as TwServer;
  assert.equal(fake.floatingIps().filter((ip) => ip.resource_id === server.id).length, 0);
  await clock.advance(60_000);
  assert.equal(fake.floatingIps().filter((ip) => ip.resource_id === server.id).length, 1);
});

test('GET /api/v1/servers: default limit 100, limit/offset, meta.total; 400 with a string[] message', async () => {
  const { fake, call } = make({ seedForeign: false });
  for (let i = 0; i < 130; i++) fake.seedServer({ name: `s-${i}` });
  const page1 = await call('GET', '/api/v1/servers');
  assert.equal((page1.json?.servers as unknown[]).length, 100);
  assert.deepEqual(page1.json?.meta, { total: 130 });
  const page2 = await call('GET', '/api/v1/servers?limit=100&offset=100');
  assert.equal((page2.json?.servers as unknown[]).length, 30);
  const bad = await call('GET', '/api/v1/servers?limit=-1&offset=x');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json?.message, ['limit must be an integer between 1 and 1000', 'offset must be a non-negative integer']);
  assert.equal(bad.json?.status_code, 400);
  assert.equal(bad.json?.error_code, 'bad_request');
  assert.match(String(bad.json?.response_id), /^[0-9a-f-]{36}$/);
});

test('create validation answers 400 with every problem in message[]', async () => {
  const { call } = make();
  const r = await call('POST', '/api/v1/servers', {
    name: 'x',
    preset_id: 2453,
    configuration: { configurator_id: 11, cpu: 2, ram: 4096, disk: 51200 },
    os_id: 12345,
    availability_zone: 'ams-1',
    ssh_keys_ids: [9],
    bandwidth: 150,
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json?.message, [
    'preset_id and configuration are mutually exclusive',
    'os_id 12345 does not exist',
    'bandwidth must be between 100 and 1000 in steps of 100',
    'availability_zone ams-1 is not in location ru-1',
    'ssh key 9 does not exist',
  ]);
});

test('429 above 20 requests per second per endpoint (sliding window on the injected clock)', async () => {
  const { fake, clock, call } = make();
  const statuses: number[] = [];
  for (let i = 0; i < 25; i++) statuses.push((await call('GET', '/api/v1/os/servers')).status);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
  assert.deepEqual(statuses.slice(20), Array(5).fill(429));
  // another endpoint is not affected
  assert.equal((await call('GET', '/api/v1/presets/servers')).status, 200);
  await clock.advance(1000);
  assert.equal((await call('GET', '/api/v1/os/servers')).status, 200);
  assert.equal(fake.requestCounts()['GET /api/v1/os/servers'], 26);
});

test('DELETE modes: 200 with hash (not deleted), 423, quarantine', async () => {
  const { fake, call } = make();
  fake.setDeleteMode('confirm');
  const c = await call('DELETE', '/api/v1/servers/1005');
  assert.equal(c.status, 200);
  assert.match(String((c.json?.server_delete as Record<string, unknown>).hash), /^[0-9a-f-]{36}$/);
  assert.ok(fake.server(1005));
  fake.setDeleteMode('locked');
  assert.equal((await call('DELETE', '/api/v1/servers/1005')).status, 423);
  fake.setDeleteMode('quarantine');
  const q = await call('DELETE', '/api/v1/servers/1005');
  assert.deepEqual(q.json?.server_delete, { is_moved_in_quarantine: true });
  assert.equal(fake.server(1005), undefined);
});

test('faults: next N requests 5xx, non-JSON, ambiguous create that succeeds server-side', async () => {
  const { fake, call } = make();
  fake.failNext('GET /api/v1/floating-ips', 503, { times: 2 });
  assert.equal((await call('GET', '/api/v1/floating-ips')).status, 503);
  assert.equal((await call('GET', '/api/v1/floating-ips')).status, 503);
  assert.equal((await call('GET', '/api/v1/floating-ips')).status, 200);
  fake.failNext('GET /api/v2/locations', 502, { body: '<html>bad gateway</html>' });
  const html = await call('GET', '/api/v2/locations');
  assert.equal(html.status, 502);
  assert.equal(html.text, '<html>bad gateway</html>');
  fake.ambiguousCreate('error');
  const r = await call('POST', '/api/v1/servers', { ...create, name: 'pool-1-agent-Ambi' });
  assert.equal(r.status, 500);
  assert.equal(fake.serverByName('pool-1-agent-Ambi').length, 1);
});

test('servers can stay installing, end no_paid/blocked, or change status on demand', async () => {
  const { fake, clock, call } = make();
  fake.setBootOutcome((s) => (s.name.endsWith('Stay') ? 'installing' : 'no_paid'));
  const a = (await call('POST', '/api/v1/servers', { ...create, name: 'pool-1-agent-Stay' })).json?.server as TwServer;
  const b = (await call('POST', '/api/v1/servers', { ...create, name: 'pool-1-agent-Npd' })).json?.server as TwServer;
  await clock.advance(3_600_000);
  assert.equal(fake.server(a.id)?.status, 'installing');
  assert.equal(fake.server(b.id)?.status, 'no_paid');
  fake.setServerStatus(a.id, 'blocked');
  assert.equal(fake.server(a.id)?.status, 'blocked');
});

test('seeded account: foreign servers, catalogs with the well-known ids', async () => {
  const { fake, call } = make();
  const names = fake.servers().map((s) => s.name);
  assert.deepEqual(names, ['woodpecker-server', 'pool-1-agent-AbCd', 'pool-2-agent-XyZw', 'pool-1-builder', 'db-primary']);
  assert.equal(fake.server(1002)?.comment, '');
  const os = (await call('GET', '/api/v1/os/servers')).json?.servers_os as { id: number; name: string; version: string }[];
  assert.ok(os.some((o) => o.id === 79 && o.version === '22.04'));
  assert.ok(os.some((o) => o.id === 99 && o.version === '24.04'));
  assert.ok(os.some((o) => o.name === 'debian' && o.version === '12'));
  const presets = (await call('GET', '/api/v1/presets/servers')).json?.server_presets as { location: string }[];
  assert.ok(presets.some((p) => p.location === 'ru-1') && presets.some((p) => p.location === 'nl-1'));
  assert.ok(Array.isArray((await call('GET', '/api/v1/ssh-keys')).json?.ssh_keys));
  const project = await call('GET', '/api/v1/projects/1/resources/servers');
  assert.equal((project.json?.servers as unknown[]).length, 5);
  assert.equal((await call('GET', '/api/v1/projects/99/resources/servers')).status, 404);
  assert.equal((await call('GET', '/api/v1/nope')).status, 404);
});
