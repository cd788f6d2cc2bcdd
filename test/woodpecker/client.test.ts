import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WoodpeckerApiError, WoodpeckerClient } from '../../src/woodpecker/client.js';
import type { WoodpeckerClientOptions, WoodpeckerRequestEvent } from '../../src/woodpecker/client.js';
import { serveFake } from '../../src/sandbox/serve.js';
import type { FetchFn } from '../../src/util/clock.js';
import { ADMIN_TOKEN, USER_TOKEN, makeFake, sec } from './helpers.js';
import type { AutoClock } from './helpers.js';
import type { FakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';

const BASE = 'http://woodpecker.test';

function setup(
  clientOpts: Partial<WoodpeckerClientOptions> = {},
): { fake: FakeWoodpecker; clock: AutoClock; client: WoodpeckerClient; events: WoodpeckerRequestEvent[] } {
  const { fake, clock } = makeFake();
  const events: WoodpeckerRequestEvent[] = [];
  const client = new WoodpeckerClient({
    baseUrl: BASE,
    token: ADMIN_TOKEN,
    fetch: fake.fetch,
    clock,
    onRequest: (e) => events.push(e),
    ...clientOpts,
  });
  return { fake, clock, client, events };
}

async function rejectsApi(p: Promise<unknown>): Promise<WoodpeckerApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WoodpeckerApiError, `expected WoodpeckerApiError, got ${String(err)}`);
    assert.ok(!err.message.includes(ADMIN_TOKEN), 'token leaked into the message');
    assert.ok(!err.body.includes(ADMIN_TOKEN), 'token leaked into the body');
    return err;
  }
  assert.fail('expected a rejection');
}

describe('WoodpeckerClient: agents', () => {
  it('walks every page of the agent list (120 agents, 50 per page)', async () => {
    const { fake, client } = setup();
    for (let i = 0; i < 120; i++) fake.seedAgent({ name: `static-${i}` });
    const agents = await client.listAgents();
    assert.equal(agents.length, 120);
    assert.deepEqual(
      agents.map((a) => a.id),
      Array.from({ length: 120 }, (_, i) => i + 1),
    );
    assert.equal(fake.requestCounts()['GET /api/agents'], 3);
  });

  it('stops on a page that answers null (exactly 100 agents)', async () => {
    const { fake, client } = setup();
    for (let i = 0; i < 100; i++) fake.seedAgent({ name: `a-${i}` });
    assert.equal((await client.listAgents()).length, 100);
    assert.equal(fake.requestCounts()['GET /api/agents'], 3); // 50, 50, null
  });

  it('fails instead of walking forever past the page cap', async () => {
    const { fake, client } = setup({ maxPages: 2 });
    for (let i = 0; i < 101; i++) fake.seedAgent({ name: `a-${i}` });
    const err = await rejectsApi(client.listAgents());
    assert.match(err.message, /more than 2 pages/);
  });

  it('turns null lists into empty ones and normalises custom_labels: null', async () => {
    const { fake, client } = setup();
    assert.deepEqual(await client.listAgents(), []);
    const created = await client.createAgent('pool-1-agent-AbCd');
    assert.deepEqual(created.custom_labels, {});
    assert.deepEqual(await client.agentTasks(created.id), []);
    const q = await client.queueInfo();
    assert.deepEqual(q, {
      pending: [],
      waiting_on_deps: [],
      running: [],
      stats: { worker_count: 0, pending_count: 0, waiting_on_deps_count: 0, running_count: 0 },
      paused: false,
    });
    assert.equal(fake.requestCounts()['GET /api/agents/:id/tasks'], 1);
  });

  it('creates, updates (sending name and no_schedule) and deletes an agent', async () => {
    const { client, clock } = setup();
    const a = await client.createAgent('pool-1-agent-AbCd');
    assert.equal(a.name, 'pool-1-agent-AbCd');
    assert.match(a.token, /^[A-Z2-7]{52}====$/);
    assert.equal(a.owner_id, 1);
    assert.equal(a.org_id, -1);
    assert.equal(a.created, sec(clock.now()));
    assert.equal(a.no_schedule, false);

    const drained = await client.updateAgent({ id: a.id, name: a.name, no_schedule: true });
    assert.equal(drained.no_schedule, true);
    assert.equal(drained.name, 'pool-1-agent-AbCd', 'the name survives the PATCH');

    const listed = await client.listAgents();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.no_schedule, true);

    assert.equal(await client.deleteAgent(a.id), 'deleted');
    assert.equal(await client.deleteAgent(a.id), 'not-found');
    assert.deepEqual(await client.listAgents(), []);
  });

  it("reports 'has-running-tasks' on 409 and lists the agent's running tasks", async () => {
    const { fake, client, clock } = setup();
    const a = await client.createAgent('pool-1-agent-busy');
    fake.connectAgent(a.token, { capacity: 1 });
    const id = fake.addWorkflow({ durationMs: 60_000, labels: { 'woodpecker-ci.org/repo-id': '7' } });

    assert.equal(await client.deleteAgent(a.id), 'has-running-tasks');
    const tasks = await client.agentTasks(a.id);
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]?.id, id);
    assert.equal(tasks[0]?.agent_id, a.id);
    assert.deepEqual(tasks[0]?.dependencies, [], 'null dependencies become []');
    assert.deepEqual(tasks[0]?.run_on, []);

    const q = await client.queueInfo();
    assert.equal(q.stats.running_count, 1);
    assert.equal(q.running[0]?.agent_id, a.id);

    clock.advance(60_000);
    assert.deepEqual(await client.agentTasks(a.id), []);
    assert.equal(await client.deleteAgent(a.id), 'deleted');
  });

  it('sends Content-Type: application/json (the fake, like gin, ignores a body without it)', async () => {
    const { fake, client } = setup();
    // The quirk itself: a POST without the header creates an agent named "".
    const raw = await fake.fetch(`${BASE}/api/agents`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ name: 'ignored' }),
    });
    assert.equal(raw.status, 200);
    assert.equal(((await raw.json()) as { name: string }).name, '');
    // Our client's agent keeps its name, so the header was sent.
    const named = await client.createAgent('pool-7-agent-WxYz');
    assert.equal(named.name, 'pool-7-agent-WxYz');
    const updated = await client.updateAgent({ id: named.id, name: named.name, no_schedule: true });
    assert.equal(updated.name, 'pool-7-agent-WxYz');
  });

  it('keeps a base URL path prefix and strips trailing slashes', async () => {
    const { fake, clock } = setup();
    const seen: string[] = [];
    const prefixed: FetchFn = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      seen.push(url.pathname);
      assert.ok(url.pathname.startsWith('/ci/'), url.pathname);
      url.pathname = url.pathname.slice(3);
      return fake.fetch(url.toString(), init);
    };
    const client = new WoodpeckerClient({ baseUrl: `${BASE}/ci//`, token: ADMIN_TOKEN, fetch: prefixed, clock });
    await client.queueInfo();
    await client.createAgent('x');
    assert.deepEqual(seen, ['/ci/api/queue/info', '/ci/api/agents']);
    assert.equal(client.baseUrl, `${BASE}/ci`);
  });

  it('reports the server version, or undefined when it cannot be read', async () => {
    const { client, fake, clock } = setup();
    assert.equal(await client.serverVersion(), '3.17.0');
    fake.failNext('GET /version', 500);
    assert.equal(await client.serverVersion(), undefined);
    const down = new WoodpeckerClient({
      baseUrl: BASE,
      token: ADMIN_TOKEN,
      clock,
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    assert.equal(await down.serverVersion(), undefined);
  });

  it('does not send the token to /version', async () => {
    const { fake, clock } = setup();
    const auth: (string | null)[] = [];
    const spy: FetchFn = (input, init) => {
      auth.push(new Headers(init?.headers).get('authorization'));
      return fake.fetch(input, init);
    };
    const client = new WoodpeckerClient({ baseUrl: BASE, token: ADMIN_TOKEN, fetch: spy, clock });
    await client.serverVersion();
    await client.queueInfo();
    assert.deepEqual(auth, [null, `Bearer ${ADMIN_TOKEN}`]);
  });
});

describe('WoodpeckerClient: errors', () => {
  const wrongBases = [
    { what: 'a trailing /api', baseUrl: `${BASE}/api`, extraHint: /drop the trailing "\/api"/ },
    { what: 'a path prefix the server does not have', baseUrl: `${BASE}/woodpecker`, extraHint: undefined },
  ];
  for (const { what, baseUrl, extraHint } of wrongBases) {
    it(`explains a 200 text/html answer (base URL with ${what})`, async () => {
      const { fake, clock } = setup();
      const seeded = fake.seedAgent({ name: 'pool-1-agent-keep' });
      const client = new WoodpeckerClient({ baseUrl, token: ADMIN_TOKEN, fetch: fake.fetch, clock });
      const calls: [string, () => Promise<unknown>][] = [
        ['queueInfo', () => client.queueInfo()],
        ['listAgents', () => client.listAgents()],
        ['createAgent', () => client.createAgent('pool-1-agent-new')],
        ['updateAgent', () => client.updateAgent({ id: seeded.id, name: seeded.name, no_schedule: true })],
        ['deleteAgent', () => client.deleteAgent(seeded.id)],
        ['agentTasks', () => client.agentTasks(seeded.id)],
      ];
      for (const [name, call] of calls) {
        const err = await rejectsApi(call());
        assert.equal(err.status, 200, name);
        assert.match(err.message, /answered with text\/html instead of JSON/, name);
        assert.match(err.message, /the server URL is probably wrong/, name);
        assert.match(err.message, /https:\/\/ci\.example\.com/, name);
        if (extraHint) assert.match(err.message, extraHint, name);
        assert.match(err.body, /<!doctype html>/i, name);
      }
      // Nothing happened on the server: the agent is still there, undrained, and no agent was created.
      const st = fake.state();
      assert.equal(st.agents.length, 1);
      assert.equal(st.agents[0]?.no_schedule, false);
    });
  }

  const authCases = [
    { token: 'not-a-valid-token', status: 401, message: /rejected the token \(401: User not authorized\)/ },
    { token: USER_TOKEN, status: 403, message: /the token's user must be an admin/ },
  ];
  for (const c of authCases) {
    it(`explains HTTP ${c.status} without retrying and without the token`, async () => {
      const { fake, clock } = setup();
      const client = new WoodpeckerClient({ baseUrl: BASE, token: c.token, fetch: fake.fetch, clock });
      const err = await rejectsApi(client.queueInfo());
      assert.equal(err.status, c.status);
      assert.equal(err.endpoint, 'GET /api/queue/info');
      assert.match(err.message, c.message);
      assert.ok(!err.message.includes(c.token));
      assert.equal(fake.requestCounts()['GET /api/queue/info'], 1);
      assert.deepEqual(clock.sleeps, []);
    });
  }

  it('names the agent on a 404 of an agent route', async () => {
    const { client } = setup();
    const err = await rejectsApi(client.updateAgent({ id: 99, name: 'x', no_schedule: true }));
    assert.equal(err.status, 404);
    assert.match(err.message, /agent 99 not found/);
    const err2 = await rejectsApi(client.agentTasks(99));
    assert.match(err2.message, /agent 99 not found/);
  });

  it('reports other statuses with their body', async () => {
    const { fake, client } = setup();
    fake.failNext('POST /api/agents', 500, { body: 'database is locked' });
    const err = await rejectsApi(client.createAgent('x'));
    assert.equal(err.status, 500);
    assert.match(err.message, /POST \/api\/agents failed with HTTP 500: database is locked/);
    assert.equal(err.body, 'database is locked');
  });

  it('truncates long bodies and never echoes the token', async () => {
    const { fake, client } = setup();
    fake.injectFault(
      () => new Response(`proxy says ${ADMIN_TOKEN} ${'x'.repeat(2000)}`, { status: 418 }),
    );
    const err = await rejectsApi(client.createAgent('x'));
    assert.ok(err.body.length <= 501, String(err.body.length));
    assert.match(err.body, /\[redacted\]/);
  });

  it('rejects a JSON answer of the wrong shape', async () => {
    const { fake, client } = setup();
    fake.injectFault(
      () => new Response('{"message":"hi"}', { status: 200, headers: { 'content-type': 'application/json' } }),
    );
    const err = await rejectsApi(client.queueInfo());
    assert.match(err.message, /unexpected answer/);
  });

  it('rejects an invalid base URL at construction', () => {
    const { fake, clock } = setup();
    for (const baseUrl of ['ci.example.com', 'ftp://ci.example.com', 'https://ci.example.com/?x=1']) {
      assert.throws(() => new WoodpeckerClient({ baseUrl, token: 't', fetch: fake.fetch, clock }), /invalid/);
    }
  });
});

describe('WoodpeckerClient: retries and timeouts', () => {
  it('retries a GET on 5xx with growing backoff on the injected clock', async () => {
    const { fake, client, clock, events } = setup({ retryBaseMs: 100 });
    fake.failNext('GET /api/queue/info', 503, { times: 2 });
    const q = await client.queueInfo();
    assert.equal(q.paused, false);
    assert.equal(fake.requestCounts()['GET /api/queue/info'], 3);
    assert.equal(clock.sleeps.length, 2);
    const [first, second] = clock.sleeps as [number, number];
    assert.ok(first >= 50 && first <= 100, String(first));
    assert.ok(second >= 100 && second <= 200, String(second));
    assert.deepEqual(
      events.map((e) => [e.endpoint, e.status]),
      [
        ['GET /api/queue/info', 503],
        ['GET /api/queue/info', 503],
        ['GET /api/queue/info', 200],
      ],
    );
  });

  it('gives up after getRetries extra attempts', async () => {
    const { fake, client, clock } = setup({ getRetries: 2 });
    fake.failNext('GET /api/agents', 502, { times: 10 });
    const err = await rejectsApi(client.listAgents());
    assert.equal(err.status, 502);
    assert.equal(fake.requestCounts()['GET /api/agents'], 3);
    assert.equal(clock.sleeps.length, 2);
  });

  const statusCases = [
    { status: 429, retried: true },
    { status: 500, retried: true },
    { status: 400, retried: false },
    { status: 404, retried: false },
  ];
  for (const c of statusCases) {
    it(`GET ${c.status} is ${c.retried ? '' : 'not '}retried`, async () => {
      const { fake, client } = setup();
      fake.failNext('GET /api/queue/info', c.status);
      if (c.retried) await client.queueInfo();
      else await rejectsApi(client.queueInfo());
      assert.equal(fake.requestCounts()['GET /api/queue/info'], c.retried ? 2 : 1);
    });
  }

  it('honours Retry-After on 429 (capped by retryMaxMs)', async () => {
    const { fake, client, clock } = setup({ retryBaseMs: 100, retryMaxMs: 5_000 });
    let n = 0;
    fake.injectFault(() =>
      n++ === 0 ? new Response('slow down', { status: 429, headers: { 'retry-after': '3' } }) : undefined,
    );
    await client.queueInfo();
    assert.deepEqual(clock.sleeps, [3_000]);
  });

  const writes: [string, Parameters<FakeWoodpecker['failNext']>[0], (c: WoodpeckerClient, id: number) => Promise<unknown>][] = [
    ['createAgent', 'POST /api/agents', (c) => c.createAgent('pool-1-agent-once')],
    ['updateAgent', 'PATCH /api/agents/:id', (c, id) => c.updateAgent({ id, name: 'n', no_schedule: true })],
    ['deleteAgent', 'DELETE /api/agents/:id', (c, id) => c.deleteAgent(id)],
  ];
  for (const [name, route, call] of writes) {
    it(`${name} is never retried`, async () => {
      const { fake, client, clock } = setup();
      const seeded = fake.seedAgent({ name: 'n' });
      fake.failNext(route, 503);
      const err = await rejectsApi(call(client, seeded.id));
      assert.equal(err.status, 503);
      assert.equal(fake.requestCounts()[route], 1);
      assert.deepEqual(clock.sleeps, []);
      assert.equal(fake.state().agents.length, 1, 'no agent was created or deleted');
    });
  }

  it('retries a GET after a network error and reports status 0', async () => {
    const { fake, clock } = setup();
    const events: WoodpeckerRequestEvent[] = [];
    let n = 0;
    const flaky: FetchFn = (input, init) =>
      n++ === 0 ? Promise.reject(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') })) : fake.fetch(input, init);
    const client = new WoodpeckerClient({ baseUrl: BASE, token: ADMIN_TOKEN, fetch: flaky, clock, onRequest: (e) => events.push(e) });
    await client.queueInfo();
    assert.deepEqual(
      events.map((e) => e.status),
      [0, 200],
    );
  });

  it('network errors name the server, not the token', async () => {
    const { clock } = setup();
    const client = new WoodpeckerClient({
      baseUrl: 'http://user:secret@woodpecker.test',
      token: ADMIN_TOKEN,
      clock,
      getRetries: 0,
      fetch: () => Promise.reject(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') })),
    });
    const err = await rejectsApi(client.queueInfo());
    assert.equal(err.status, 0);
    assert.match(err.message, /cannot reach the Woodpecker server at http:\/\/woodpecker\.test: fetch failed \(ECONNREFUSED\)/);
    assert.ok(!err.message.includes('secret'));
  });

  it('times out a hanging request (POST: once; GET: retried)', async () => {
    const { fake, client } = setup({ timeoutMs: 30 });
    let hangs = 1;
    fake.injectFault(() => (hangs-- > 0 ? new Promise<Response>(() => undefined) : undefined));
    const err = await rejectsApi(client.createAgent('x'));
    assert.equal(err.status, 0);
    assert.match(err.message, /no answer from the Woodpecker server at http:\/\/woodpecker\.test within 30 ms/);
    assert.equal(fake.state().agents.length, 0);

    hangs = 1;
    const q = await client.queueInfo();
    assert.equal(q.stats.running_count, 0);
    assert.equal(fake.requestCounts()['GET /api/queue/info'], 2);
  });

  it("a caller's abort stops at once and is not wrapped", async () => {
    const { fake, client } = setup();
    fake.injectFault(() => new Promise<Response>(() => undefined));
    const ac = new AbortController();
    const p = client.queueInfo(ac.signal);
    ac.abort(new Error('shutting down'));
    await assert.rejects(p, (err: unknown) => err instanceof Error && err.message === 'shutting down');
    await assert.rejects(client.listAgents(ac.signal), /shutting down/);
  });
});

describe('WoodpeckerClient over loopback HTTP', () => {
  it('runs the agent lifecycle against the fake served on 127.0.0.1', async () => {
    const { fake, clock } = makeFake();
    const served = await serveFake(fake.app);
    try {
      assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new WoodpeckerClient({ baseUrl: `${served.url}/`, token: ADMIN_TOKEN, fetch, clock });
      assert.equal(await client.serverVersion(), '3.17.0');
      const a = await client.createAgent('pool-1-agent-Loop');
      assert.equal(a.name, 'pool-1-agent-Loop');
      fake.connectAgent(a.token, { capacity: 2 });
      fake.addWorkflow({ durationMs: 10_000 });
      const q = await client.queueInfo();
      assert.deepEqual(q.stats, { worker_count: 1, pending_count: 0, waiting_on_deps_count: 0, running_count: 1 });
      assert.equal(await client.deleteAgent(a.id), 'has-running-tasks');
      clock.advance(10_000);
      assert.equal((await client.updateAgent({ id: a.id, name: a.name, no_schedule: true })).no_schedule, true);
      assert.equal(await client.deleteAgent(a.id), 'deleted');

      const wrong = new WoodpeckerClient({ baseUrl: `${served.url}/api`, token: ADMIN_TOKEN, fetch, clock });
      const err = await rejectsApi(wrong.listAgents());
      assert.match(err.message, /text\/html instead of JSON/);
    } finally {
      await served.close();
    }
  });
});
