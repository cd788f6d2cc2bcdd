import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { systemClock, seededRandom } from '../../src/util/clock.js';
import type { FetchFn } from '../../src/util/clock.js';
import { RateLimiter, TimewebApiError, TimewebClient } from '../../src/providers/timeweb/client.js';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import { AutoClock, makeEnv } from './helpers.js';

async function rejects(p: Promise<unknown>): Promise<TimewebApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TimewebApiError, `expected TimewebApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

test('listServers walks every page (250 servers, limit 100) and returns each server once', async () => {
  const env = makeEnv({ seedForeign: false });
  for (let i = 0; i < 250; i++) env.fake.seedServer({ name: `srv-${i}` });
  const servers = await env.client.listServers();
  assert.equal(servers.length, 250);
  assert.equal(new Set(servers.map((s) => s.id)).size, 250);
  const paths = env.fake.requests().filter((r) => r.route === 'GET /api/v1/servers').map((r) => r.path);
  assert.deepEqual(paths, [
    '/api/v1/servers?limit=100&offset=0',
    '/api/v1/servers?limit=100&offset=100',
    '/api/v1/servers?limit=100&offset=200',
  ]);
});

test('listServers stops at an empty page when meta.total is missing', async () => {
  const calls: string[] = [];
  const fetch: FetchFn = async (input) => {
    const url = new URL(String(input));
    calls.push(url.search);
    const offset = Number(url.searchParams.get('offset'));
    const servers = offset < 4 ? [0, 1].map((i) => ({ id: offset + i + 1, name: `s${offset + i}`, status: 'on', comment: null, created_at: '2025-01-01T00:00:00Z', cpu: 1, ram: 1024 })) : [];
    return new Response(JSON.stringify({ servers }), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const client = new TimewebClient({ token: 't0ken-xyz', fetch, clock: new AutoClock(), random: seededRandom(1), pageSize: 2 });
  const servers = await client.listServers();
  assert.deepEqual(servers.map((s) => s.id), [1, 2, 3, 4]);
  assert.deepEqual(calls, ['?limit=2&offset=0', '?limit=2&offset=2', '?limit=2&offset=4']);
  // comment: null tolerated
  assert.equal(servers[0]?.comment, null);
});

test('error parsing: string[] message, empty 401, non-JSON 502, 404, 423', async (t) => {
  await t.test('400 with message string[] → joined with "; ", error_code and response_id kept', async () => {
    const env = makeEnv();
    const err = await rejects(env.client.createServer({ name: '', os_id: 99 }));
    assert.equal(err.status, 400);
    assert.equal(err.kind, 'http');
    assert.equal(err.errorCode, 'bad_request');
    assert.equal(err.apiMessage, 'name must be a non-empty string; one of preset_id or configuration is required');
    assert.match(err.responseId ?? '', /^[0-9a-f-]{36}$/);
    assert.match(err.message, /^Timeweb API POST \/api\/v1\/servers: HTTP 400 bad_request: name must be/);
    assert.equal(err.ambiguous, false);
  });

  await t.test('401 with an empty body → "API token invalid or expired", token never in the message', async () => {
    const env = makeEnv({ token: 'the-right-token' }, { token: 'a-wrong-secret-token' });
    const err = await rejects(env.client.listOs());
    assert.equal(err.status, 401);
    assert.equal(err.apiMessage, 'API token invalid or expired');
    assert.equal(err.errorCode, undefined);
    assert.doesNotMatch(err.message, /a-wrong-secret-token/);
    assert.doesNotMatch(JSON.stringify(err), /a-wrong-secret-token/);
    // 401 is not retried
    assert.equal(env.fake.requestCounts()['GET /api/v1/os/servers'], 1);
  });

  await t.test('502 text/html from a proxy → non-JSON error with a snippet (after GET retries)', async () => {
    const env = makeEnv({}, { retries: 2 });
    env.fake.failNext('GET /api/v1/presets/servers', 502, { body: '<html><body>502 Bad Gateway</body></html>', times: 3 });
    const err = await rejects(env.client.listPresets());
    assert.equal(err.status, 502);
    assert.equal(err.errorCode, undefined);
    assert.match(err.apiMessage, /^non-JSON response \(text\/html\): <html><body>502 Bad Gateway/);
    assert.equal(err.ambiguous, true);
    assert.equal(env.fake.requestCounts()['GET /api/v1/presets/servers'], 3);
  });

  await t.test('a 2xx that is not JSON → malformed', async () => {
    const fetch: FetchFn = async () => new Response('<html>portal</html>', { status: 200, headers: { 'content-type': 'text/html' } });
    const client = new TimewebClient({ token: 'tok-123456', fetch, clock: new AutoClock(), random: seededRandom(1) });
    const err = await rejects(client.listOs());
    assert.equal(err.kind, 'malformed');
    assert.match(err.message, /non-JSON response \(text\/html\)/);
  });

  await t.test('404 on GET server → undefined; DELETE → not-found', async () => {
    const env = makeEnv();
    assert.equal(await env.client.getServer(424242), undefined);
    assert.deepEqual(await env.client.deleteServer(424242), { kind: 'not-found' });
  });

  await t.test('423 on DELETE server → clear "locked / SMS or Telegram" error', async () => {
    const env = makeEnv();
    env.fake.setDeleteMode('locked');
    const err = await rejects(env.client.deleteServer(1005));
    assert.equal(err.status, 423);
    assert.match(err.message, /server deletion is locked/);
    assert.match(err.message, /SMS or Telegram/);
    assert.ok(env.fake.server(1005), 'still there');
  });
});

test('an error that echoes the user-data never carries it (nor the agent secret)', async () => {
  const env = makeEnv();
  const userData = '#cloud-config\nwrite_files:\n- content: |\n    WOODPECKER_AGENT_SECRET=s3cr3t-agent-token-value\n';
  env.fake.rejectCreate({
    match: () => true,
    status: 400,
    errorCode: 'bad_request',
    message: [`cloud_init is invalid: ${userData}`, 'token s3cr3t-agent-token-value rejected'],
  });
  const err = await rejects(env.client.createServer({ name: 'pool-1-agent-Echo', preset_id: 2453, os_id: 99, cloud_init: userData }));
  assert.doesNotMatch(err.message, /s3cr3t-agent-token-value/);
  assert.match(err.message, /cloud_init is invalid: \[redacted\]/);
});

test('a create error never carries a padded base32 agent token found in the user-data', async () => {
  // Woodpecker's agent tokens are base32 with `=` padding: the value of the KEY=value line ends in `====`.
  const token = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPIYTEMZUGU3DOOBZ====';
  const userData = `#cloud-config\nwrite_files:\n- content: |\n    environment:\n      - WOODPECKER_AGENT_SECRET=${token}\n`;
  const env = makeEnv();
  env.fake.rejectCreate({ match: () => true, status: 400, errorCode: 'bad_request', message: [`agent secret ${token} rejected`] });
  const err = await rejects(env.client.createServer({ name: 'pool-1-agent-Pad', preset_id: 2453, os_id: 99, cloud_init: userData }));
  assert.ok(!err.message.includes(token), err.message);
  assert.match(err.message, /agent secret \[redacted\] rejected/);
});

test('a create error never carries the user-data or the agent token, however it is echoed (custom templates)', async () => {
  const token = 'AgentTok3n-0123456789abcdef';
  // A custom template: the token is a quoted YAML value, not the tail of a `KEY=value` line.
  const userData = `#cloud-config\nruncmd:\n  - docker run -e "SECRET=\\"${token}\\"" agent\nenv:\n  WOODPECKER_AGENT_SECRET: "${token}"\n`;
  const echoed = JSON.stringify({ cloud_init: userData });
  const cases: [string, (env: ReturnType<typeof makeEnv>) => void][] = [
    ['the token alone in the message', (env) => env.fake.rejectCreate({ match: () => true, status: 400, errorCode: 'bad_request', message: [`value "${token}" is not allowed`] })],
    ['the request JSON-escaped in the message', (env) => env.fake.rejectCreate({ match: () => true, status: 400, errorCode: 'bad_request', message: [`bad body ${echoed}`] })],
    ['the request JSON-escaped in an HTML body', (env) => env.fake.failNext('POST /api/v1/servers', 400, { body: `<html>bad request: ${echoed}</html>`, contentType: 'text/html' })],
    ['the token in error_code', (env) => env.fake.rejectCreate({ match: () => true, status: 400, errorCode: `bad_${token}`, message: ['no'] })],
  ];
  for (const [what, arrange] of cases) {
    const env = makeEnv();
    arrange(env);
    const err = await rejects(
      env.client.createServer({ name: 'pool-1-agent-Echo', preset_id: 2453, os_id: 99, cloud_init: userData }, undefined, [token]),
    );
    assert.equal(err.status, 400, what);
    for (const text of [err.message, JSON.stringify(err), err.errorCode ?? '', err.apiMessage]) {
      assert.ok(!text.includes(token), `${what}: the agent token leaked: ${text}`);
      assert.ok(!text.includes('WOODPECKER_AGENT_SECRET: \\"'), `${what}: a user-data line leaked: ${text}`);
    }
  }
});

test('DELETE server results: 204 deleted, 200+hash confirmation-required, quarantine', async () => {
  const env = makeEnv();
  env.fake.setDeleteMode('confirm');
  const r1 = await env.client.deleteServer(1005);
  assert.equal(r1.kind, 'confirmation-required');
  assert.ok(r1.kind === 'confirmation-required' && r1.hash.length > 0);
  assert.ok(env.fake.server(1005), 'not deleted');
  env.fake.setDeleteMode('quarantine');
  assert.deepEqual(await env.client.deleteServer(1005), { kind: 'quarantined' });
  assert.equal(env.fake.server(1005), undefined);
  env.fake.setDeleteMode('normal');
  assert.deepEqual(await env.client.deleteServer(1004), { kind: 'deleted' });
  assert.equal(env.fake.server(1004), undefined);
});

test('the client limiter keeps every endpoint at ≤ 20 requests in any second: a burst of 120 gets no 429', async () => {
  const env = makeEnv();
  const started = env.clock.now();
  const results = await Promise.all(Array.from({ length: 120 }, (_, i) => env.client.getServer(i % 2 === 0 ? 1001 : 1002)));
  assert.equal(results.filter((s) => s !== undefined).length, 120);
  assert.equal(env.events.filter((e) => e.rateLimited).length, 0);
  const times = env.fake
    .requests()
    .filter((r) => r.route === 'GET /api/v1/servers/:id')
    .map((r) => r.at);
  for (const t of times) {
    const inWindow = times.filter((x) => x >= t && x <= t + 1000).length;
    assert.ok(inWindow <= 20, `${inWindow} requests in the second after ${t - started} ms`);
  }
  // 120 requests at 15/s after a burst of 5 take about 7.7 s of (virtual) time
  assert.ok(env.clock.now() - started >= 7000);
});

test('a 429 storm is absorbed: without the client limiter, 429s are retried with backoff until all succeed', async () => {
  const env = makeEnv({}, { rateLimit: false, retries: 8 });
  const results = await Promise.all(Array.from({ length: 60 }, () => env.client.listOs()));
  assert.equal(results.length, 60);
  for (const r of results) assert.ok(r.some((os) => os.id === 99));
  const limited = env.events.filter((e) => e.rateLimited);
  assert.ok(limited.length >= 40, `expected many 429s, got ${limited.length}`);
  assert.ok(limited.every((e) => e.status === 429 && e.endpoint === 'GET /api/v1/os/servers'));
});

test('the rate limiter is per endpoint: a busy endpoint does not slow another one', () => {
  const clock = new AutoClock();
  const rl = new RateLimiter(clock, { perSecond: 15, burst: 5 });
  const waits = Array.from({ length: 10 }, () => rl.reserve('GET /a'));
  assert.deepEqual(waits.slice(0, 5), [0, 0, 0, 0, 0]);
  assert.ok((waits[5] ?? 0) > 0);
  assert.equal(rl.reserve('GET /b'), 0);
});

test('GET and DELETE are retried on 5xx; POST and PATCH are never retried', async () => {
  const env = makeEnv();
  env.fake.failNext('GET /api/v1/os/servers', 503, { times: 2 });
  const os = await env.client.listOs();
  assert.ok(os.length > 0);
  assert.equal(env.fake.requestCounts()['GET /api/v1/os/servers'], 3);

  env.fake.failNext('DELETE /api/v1/servers/:id', 500);
  assert.deepEqual(await env.client.deleteServer(1005), { kind: 'deleted' });
  assert.equal(env.fake.requestCounts()['DELETE /api/v1/servers/:id'], 2);

  env.fake.failNext('POST /api/v1/servers', 500);
  const err = await rejects(env.client.createServer({ name: 'pool-1-agent-Qwer', preset_id: 2453, os_id: 99 }));
  assert.equal(err.status, 500);
  assert.equal(err.ambiguous, true);
  assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], 1);
  assert.equal(env.fake.serverByName('pool-1-agent-Qwer').length, 0);

  const ip = env.fake.floatingIps()[0];
  assert.ok(ip);
  env.fake.failNext('PATCH /api/v1/floating-ips/:id', 502);
  await rejects(env.client.updateFloatingIpComment(ip.id, 'x'));
  assert.equal(env.fake.requestCounts()['PATCH /api/v1/floating-ips/:id'], 1);
});

test('timeouts on the injected clock: a hanging GET is retried, a hanging POST is not', async () => {
  const env = makeEnv({}, { timeoutMs: 10_000 });
  env.fake.hangNext('GET /api/v1/servers/:id');
  const s = await env.client.getServer(1001);
  assert.equal(s?.name, 'woodpecker-server');
  assert.equal(env.fake.requestCounts()['GET /api/v1/servers/:id'], 2);
  assert.ok(env.events.some((e) => e.status === 0 && e.endpoint === 'GET /api/v1/servers/:id'));

  env.fake.hangNext('POST /api/v1/servers');
  const err = await rejects(env.client.createServer({ name: 'pool-1-agent-Hang', preset_id: 2453, os_id: 99 }));
  assert.equal(err.kind, 'timeout');
  assert.equal(err.status, 0);
  assert.equal(err.ambiguous, true);
  assert.match(err.message, /no answer from http:\/\/timeweb\.fake within 10000 ms/);
  assert.equal(env.fake.requestCounts()['POST /api/v1/servers'], 1);
});

test('network errors are reported without the token; the caller can abort', async () => {
  const token = 'super-secret-token-value';
  const fetch: FetchFn = async () => {
    throw new TypeError(`fetch failed: connect ECONNREFUSED (${token})`);
  };
  const client = new TimewebClient({ token, fetch, clock: new AutoClock(), random: seededRandom(1), retries: 1 });
  const err = await rejects(client.listOs());
  assert.equal(err.kind, 'network');
  assert.match(err.message, /cannot reach https:\/\/api\.timeweb\.cloud/);
  assert.doesNotMatch(err.message, /super-secret-token-value/);

  const env = makeEnv();
  env.fake.hangNext('GET /api/v1/ssh-keys');
  const ac = new AbortController();
  const p = env.client.listSshKeys(ac.signal);
  ac.abort(new Error('shutting down'));
  await assert.rejects(p, /shutting down/);
});

test('catalogs: OS, presets, configurators, locations, SSH keys (ssh_keys or ssh-keys), projects, account', async () => {
  const env = makeEnv();
  const c = env.client;
  const os = await c.listOs();
  assert.deepEqual(
    os.filter((o) => o.name === 'ubuntu').map((o) => [o.id, o.version]),
    [
      [47, '20.04'],
      [79, '22.04'],
      [99, '24.04'],
    ],
  );
  assert.ok((await c.listPresets()).some((p) => p.id === 2453 && p.location === 'ru-1' && p.price === 1000));
  assert.ok((await c.listConfigurators()).some((x) => x.id === 11 && x.requirements.cpu_max === 16));
  assert.deepEqual((await c.listLocations()).find((l) => l.location === 'ru-1')?.availability_zones, ['spb-1', 'spb-3', 'spb-4']);
  assert.deepEqual((await c.listSshKeys()).map((k) => k.name), ['ci-admin', 'laptop']);
  assert.deepEqual((await c.listProjects()).map((p) => p.id), [1, 2]);
  assert.ok((await c.listProjectServers(1)).some((s) => s.id === 1001));
  assert.equal((await c.getAccountStatus()).is_blocked, false);
  assert.equal((await c.getFinances()).currency, 'RUB');

  const fetch: FetchFn = async () =>
    new Response(JSON.stringify({ 'ssh-keys': [{ id: 1, name: 'hyphen' }], meta: { total: 1 } }), { status: 200 });
  const hyphen = new TimewebClient({ token: 'tok-123456', fetch, clock: new AutoClock(), random: seededRandom(1) });
  assert.deepEqual((await hyphen.listSshKeys()).map((k) => k.name), ['hyphen']);
});

test('onRequest reports endpoint templates, statuses and durations', async () => {
  const env = makeEnv();
  await env.client.getServer(1001);
  await env.client.getServer(999);
  assert.deepEqual(
    env.events.map((e) => [e.endpoint, e.status]),
    [
      ['GET /api/v1/servers/:id', 200],
      ['GET /api/v1/servers/:id', 404],
    ],
  );
  assert.ok(env.events.every((e) => e.durationMs >= 0));
});

test('works over a real socket on 127.0.0.1 (system clock)', async () => {
  const fake = createFakeTimeweb({ clock: systemClock });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: fake.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  try {
    const port = (server.address() as AddressInfo).port;
    const client = new TimewebClient({
      baseUrl: `http://127.0.0.1:${port}/`,
      token: fake.token,
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      random: seededRandom(1),
    });
    const servers = await client.listServers();
    assert.ok(servers.some((s) => s.name === 'woodpecker-server'));
    const created = await client.createServer({ name: 'pool-1-agent-Sock', preset_id: 2453, os_id: 99, network: { floating_ip: 'create_ip' } });
    assert.equal(created.status, 'installing');
    assert.equal(created.networks?.[0]?.ips, null);
    assert.deepEqual(await client.deleteServer(created.id), { kind: 'deleted' });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
