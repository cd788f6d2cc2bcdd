import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base32, createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import type { FakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { serveFake } from '../../src/sandbox/serve.js';
import { seededRandom } from '../../src/util/clock.js';
import { ADMIN_TOKEN, AutoClock, USER_TOKEN, makeFake, sec } from './helpers.js';

const BASE = 'http://woodpecker.test';
const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };
const JSON_ADMIN = { ...ADMIN, 'Content-Type': 'application/json' };

function req(fake: FakeWoodpecker, method: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fake.fetch(`${BASE}${path}`, { method, ...init });
}

async function getJson(fake: FakeWoodpecker, path: string): Promise<unknown> {
  const res = await req(fake, 'GET', path, { headers: ADMIN });
  assert.equal(res.status, 200, path);
  return res.json();
}

async function createAgent(fake: FakeWoodpecker, name: string): Promise<{ id: number; token: string; name: string }> {
  const res = await req(fake, 'POST', '/api/agents', { headers: JSON_ADMIN, body: JSON.stringify({ name }) });
  assert.equal(res.status, 200);
  return (await res.json()) as { id: number; token: string; name: string };
}

describe('fake Woodpecker: HTTP surface', () => {
  const authCases: { what: string; headers: Record<string, string>; status: number }[] = [
    { what: 'no token', headers: {}, status: 401 },
    { what: 'a wrong token', headers: { Authorization: 'Bearer nope' }, status: 401 },
    { what: 'a malformed header', headers: { Authorization: ADMIN_TOKEN }, status: 401 },
    { what: 'a non-admin token', headers: { Authorization: `Bearer ${USER_TOKEN}` }, status: 403 },
  ];
  for (const c of authCases) {
    for (const path of ['/api/agents', '/api/queue/info', '/api/agents/1/tasks']) {
      it(`answers ${c.status} text/plain for ${c.what} on ${path}`, async () => {
        const { fake } = makeFake();
        const res = await req(fake, 'GET', path, { headers: c.headers });
        assert.equal(res.status, c.status);
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
        assert.equal(await res.text(), 'User not authorized');
      });
    }
  }

  it('accepts ?access_token= and leaves /version and /healthz open', async () => {
    const { fake } = makeFake();
    assert.equal((await req(fake, 'GET', `/api/agents?access_token=${ADMIN_TOKEN}`)).status, 200);
    const v = await req(fake, 'GET', '/version');
    assert.equal(v.status, 200);
    assert.deepEqual(await v.json(), { source: 'https://github.com/woodpecker-ci/woodpecker', version: '3.17.0' });
    const h = await req(fake, 'GET', '/healthz');
    assert.equal(h.status, 204);
    assert.equal(await h.text(), '');
  });

  const unknown = [
    ['PUT', '/api/agents/1'],
    ['GET', '/agents'],
    ['GET', '/api/nope'],
    ['POST', '/api/queue/info'],
    ['GET', '/api/api/agents'],
    ['DELETE', '/api/agents'],
  ];
  for (const [method, path] of unknown) {
    it(`answers 200 text/html for the unknown route ${method} ${path}`, async () => {
      const { fake } = makeFake();
      const res = await req(fake, method as string, path as string, { headers: ADMIN });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(res.headers.get('x-woodpecker-version'), '3.17.0');
      assert.match(await res.text(), /<!doctype html>/i);
      assert.equal(fake.requestCounts().fallback, 1);
    });
  }

  const pageCases: { query: string; ids: [number, number] | null }[] = [
    { query: '', ids: [1, 50] },
    { query: '?page=2', ids: [51, 100] },
    { query: '?page=3', ids: [101, 120] },
    { query: '?page=4', ids: null },
    { query: '?page=0', ids: [1, 50] },
    { query: '?page=-3', ids: [1, 50] },
    { query: '?page=x', ids: [1, 50] },
    { query: '?perPage=10', ids: [1, 10] },
    { query: '?page=2&perPage=10', ids: [11, 20] },
    { query: '?perPage=0', ids: [1, 50] },
    { query: '?perPage=51', ids: [1, 50] },
    { query: '?perPage=-1', ids: [1, 50] },
    { query: '?perPage=1000&page=3', ids: [101, 120] },
  ];
  for (const c of pageCases) {
    it(`pages the agent list: GET /api/agents${c.query}`, async () => {
      const { fake } = makeFake();
      for (let i = 0; i < 120; i++) fake.seedAgent({ name: `a${i}` });
      const res = await req(fake, 'GET', `/api/agents${c.query}`, { headers: ADMIN });
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      const body = (await res.json()) as { id: number }[] | null;
      if (c.ids === null) {
        assert.equal(body, null);
      } else {
        assert.ok(body);
        assert.equal(body[0]?.id, c.ids[0]);
        assert.equal(body[body.length - 1]?.id, c.ids[1]);
        assert.equal(body.length, c.ids[1] - c.ids[0] + 1);
      }
    });
  }

  it('POST /api/agents reads only name and no_schedule and generates a base32 token', async () => {
    const { fake, clock } = makeFake();
    const res = await req(fake, 'POST', '/api/agents', {
      headers: JSON_ADMIN,
      body: JSON.stringify({ name: 'pool-1-agent-Abcd', no_schedule: true, token: 'mine', owner_id: 9, capacity: 4 }),
    });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const a = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(a), [
      'id',
      'created',
      'updated',
      'name',
      'owner_id',
      'token',
      'last_contact',
      'last_work',
      'platform',
      'backend',
      'capacity',
      'version',
      'no_schedule',
      'custom_labels',
      'org_id',
    ]);
    assert.equal(a.name, 'pool-1-agent-Abcd');
    assert.equal(a.no_schedule, true);
    assert.equal(a.owner_id, 1);
    assert.equal(a.org_id, -1);
    assert.equal(a.capacity, 0);
    assert.equal(a.custom_labels, null);
    assert.equal(a.created, sec(clock.now()));
    assert.equal(a.updated, sec(clock.now()));
    assert.equal(a.last_contact, 0);
    assert.match(String(a.token), /^[A-Z2-7]{52}====$/);
    assert.notEqual(a.token, 'mine');
  });

  const bindCases: { what: string; headers: Record<string, string>; body?: string; status: number; name?: string; text?: RegExp }[] = [
    { what: 'no Content-Type: body ignored', headers: ADMIN, body: '{"name":"x"}', status: 200, name: '' },
    { what: 'a form body: ignored', headers: { ...ADMIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=x', status: 200, name: '' },
    { what: 'JSON with charset', headers: { ...ADMIN, 'Content-Type': 'application/json; charset=utf-8' }, body: '{"name":"x"}', status: 200, name: 'x' },
    { what: 'an empty JSON body', headers: JSON_ADMIN, body: '', status: 400, text: /^EOF$/ },
    { what: 'broken JSON', headers: JSON_ADMIN, body: '{"name":', status: 400 },
    { what: 'a JSON list', headers: JSON_ADMIN, body: '[]', status: 400 },
    { what: 'a non-string name', headers: JSON_ADMIN, body: '{"name":5}', status: 400 },
  ];
  for (const c of bindCases) {
    it(`POST /api/agents with ${c.what} → ${c.status}`, async () => {
      const { fake } = makeFake();
      const res = await req(fake, 'POST', '/api/agents', { headers: c.headers, body: c.body });
      assert.equal(res.status, c.status);
      if (c.status === 200) {
        assert.equal(((await res.json()) as { name: string }).name, c.name);
      } else {
        assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
        if (c.text) assert.match(await res.text(), c.text);
        assert.equal(fake.state().agents.length, 0);
      }
    });
  }

  it('PATCH overwrites both name and no_schedule', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'pool-1-agent-Keep');
    const patch = async (headers: Record<string, string>, body: string): Promise<Record<string, unknown>> => {
      const res = await req(fake, 'PATCH', `/api/agents/${a.id}`, { headers, body });
      assert.equal(res.status, 200);
      return (await res.json()) as Record<string, unknown>;
    };
    let got = await patch(JSON_ADMIN, JSON.stringify({ name: 'pool-1-agent-Keep', no_schedule: true, token: 'x' }));
    assert.equal(got.name, 'pool-1-agent-Keep');
    assert.equal(got.no_schedule, true);
    assert.equal(got.token, a.token, 'the token cannot be changed');
    got = await patch(JSON_ADMIN, JSON.stringify({ no_schedule: true }));
    assert.equal(got.name, '', 'omitting name blanks it');
    got = await patch(JSON_ADMIN, JSON.stringify({ name: 'back' }));
    assert.equal(got.no_schedule, false, 'omitting no_schedule clears it');
    got = await patch(ADMIN, JSON.stringify({ name: 'ignored', no_schedule: true }));
    assert.deepEqual([got.name, got.no_schedule], ['', false], 'without Content-Type the body is ignored');
  });

  const agentRouteErrors: { method: string; path: string; status: number; body: string }[] = [
    { method: 'PATCH', path: '/api/agents/99', status: 404, body: '' },
    { method: 'PATCH', path: '/api/agents/abc', status: 400, body: '' },
    { method: 'PATCH', path: '/api/agents/1.5', status: 400, body: '' },
    { method: 'DELETE', path: '/api/agents/99', status: 404, body: '' },
    { method: 'DELETE', path: '/api/agents/abc', status: 400, body: '' },
    { method: 'GET', path: '/api/agents/99', status: 404, body: '' },
    { method: 'GET', path: '/api/agents/99/tasks', status: 404, body: '' },
    { method: 'GET', path: '/api/agents/x/tasks', status: 400, body: '' },
  ];
  for (const c of agentRouteErrors) {
    it(`${c.method} ${c.path} → ${c.status} with an empty body`, async () => {
      const { fake } = makeFake();
      fake.seedAgent({ name: 'one' });
      const res = await req(fake, c.method, c.path, { headers: JSON_ADMIN, body: c.method === 'PATCH' ? '{"name":"n"}' : undefined });
      assert.equal(res.status, c.status);
      assert.equal(await res.text(), c.body);
    });
  }

  it('DELETE answers 204, or 409 "Agent has running tasks"', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'busy');
    const b = await createAgent(fake, 'idle');
    fake.connectAgent(a.token, { capacity: 1 });
    fake.addWorkflow({ durationMs: 1000 });
    const busy = await req(fake, 'DELETE', `/api/agents/${a.id}`, { headers: ADMIN });
    assert.equal(busy.status, 409);
    assert.match(busy.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await busy.text(), 'Agent has running tasks');
    const idle = await req(fake, 'DELETE', `/api/agents/${b.id}`, { headers: ADMIN });
    assert.equal(idle.status, 204);
    assert.equal(await idle.text(), '');
  });

  it('GET /api/agents/:id/tasks answers null when idle and the running tasks otherwise', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'a');
    assert.equal(await getJson(fake, `/api/agents/${a.id}/tasks`), null);
    fake.connectAgent(a.token, { capacity: 1 });
    fake.addWorkflow({ id: '77', durationMs: 1000 });
    const tasks = (await getJson(fake, `/api/agents/${a.id}/tasks`)) as Record<string, unknown>[];
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]?.id, '77');
    assert.equal(tasks[0]?.agent_id, a.id);
    assert.equal(tasks[0]?.dependencies, null);
    assert.equal(tasks[0]?.run_on, null);
    assert.equal('agent_name' in (tasks[0] ?? {}), false, 'plain Task, not QueueTask');
  });

  it('GET /api/queue/info is indented JSON with the version header', async () => {
    const { fake } = makeFake();
    const res = await req(fake, 'GET', '/api/queue/info', { headers: ADMIN });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('x-woodpecker-version'), '3.17.0');
    const text = await res.text();
    assert.match(text, /^\{\n {4}"pending": \[\],/);
    assert.deepEqual(JSON.parse(text), {
      pending: [],
      waiting_on_deps: [],
      running: [],
      stats: { worker_count: 0, pending_count: 0, waiting_on_deps_count: 0, running_count: 0 },
      paused: false,
    });
  });

  it('pauses and resumes the queue over HTTP', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 1 });
    assert.equal((await req(fake, 'POST', '/api/queue/pause', { headers: ADMIN })).status, 204);
    fake.addWorkflow({ durationMs: 1000 });
    let q = (await getJson(fake, '/api/queue/info')) as { paused: boolean; stats: { pending_count: number; worker_count: number } };
    assert.equal(q.paused, true);
    assert.equal(q.stats.pending_count, 1);
    assert.equal(q.stats.worker_count, 1, 'workers keep polling while paused');
    assert.equal((await req(fake, 'POST', '/api/queue/resume', { headers: ADMIN })).status, 204);
    q = (await getJson(fake, '/api/queue/info')) as typeof q;
    assert.equal(q.stats.pending_count, 0);
  });

  it('failNext answers before auth and counts every request', async () => {
    const { fake } = makeFake();
    fake.failNext('GET /api/queue/info', 503, { times: 2, body: 'maintenance' });
    for (const expected of [503, 503, 200]) {
      const res = await req(fake, 'GET', '/api/queue/info', { headers: ADMIN });
      assert.equal(res.status, expected);
      if (expected === 503) assert.equal(await res.text(), 'maintenance');
    }
    assert.equal((await req(fake, 'GET', '/api/queue/info')).status, 401);
    assert.equal(fake.requestCounts()['GET /api/queue/info'], 4);
    fake.resetRequestCounts();
    assert.deepEqual(fake.requestCounts(), {});
  });

  it('injectFault sees the route and can answer anything', async () => {
    const { fake } = makeFake();
    const seen: string[] = [];
    fake.injectFault((r) => {
      seen.push(`${r.method} ${r.path} ${r.route}`);
      return r.route === 'DELETE /api/agents/:id' ? new Response('boom', { status: 502 }) : undefined;
    });
    assert.equal((await req(fake, 'DELETE', '/api/agents/3', { headers: ADMIN })).status, 502);
    assert.equal((await req(fake, 'GET', '/api/agents', { headers: ADMIN })).status, 200);
    fake.injectFault(undefined);
    assert.equal((await req(fake, 'DELETE', '/api/agents/3', { headers: ADMIN })).status, 404);
    assert.deepEqual(seen, ['DELETE /api/agents/3 DELETE /api/agents/:id', 'GET /api/agents GET /api/agents']);
  });

  it('serves on 127.0.0.1 over real HTTP', async () => {
    const { fake } = makeFake();
    const served = await serveFake(fake.app);
    try {
      assert.match(served.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${served.url}/api/agents`, { headers: ADMIN });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'null');
      const html = await fetch(`${served.url}/nope`);
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      await html.text();
    } finally {
      await served.close();
    }
  });

  it('encodes base32 like Go (RFC 4648 test vectors)', () => {
    const enc = (s: string): string => base32(new TextEncoder().encode(s));
    assert.deepEqual(
      ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc),
      ['', 'MY======', 'MZXQ====', 'MZXW6===', 'MZXW6YQ=', 'MZXW6YTB', 'MZXW6YTBOI======'],
    );
  });
});

describe('fake Woodpecker: queue and agents', () => {
  it('honours capacity: extra work stays pending and worker_count counts idle slots', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'a');
    const agent = fake.connectAgent(a.token, { capacity: 2 });
    assert.equal(agent.capacity, 2);
    assert.equal(fake.state().stats.worker_count, 2);
    fake.addWorkflow({ durationMs: 60_000 });
    assert.equal(fake.state().stats.worker_count, 1);
    fake.addWorkflow({ durationMs: 60_000 });
    fake.addWorkflow({ durationMs: 60_000 });
    const st = fake.state();
    assert.deepEqual(st.stats, { worker_count: 0, pending_count: 1, waiting_on_deps_count: 0, running_count: 2 });
    assert.deepEqual(st.agents[0]?.runningTaskIds, ['1', '2']);
  });

  const labelCases: { what: string; agent: Record<string, string>; platform?: string; task: Record<string, string>; runs: boolean }[] = [
    { what: 'no task labels', agent: {}, task: {}, runs: true },
    { what: 'matching platform', agent: {}, platform: 'linux/arm64', task: { platform: 'linux/arm64' }, runs: true },
    { what: 'other platform', agent: {}, task: { platform: 'linux/arm64' }, runs: false },
    { what: 'a custom label', agent: { gpu: 'yes' }, task: { gpu: 'yes' }, runs: true },
    { what: 'a custom label with another value', agent: { gpu: 'no' }, task: { gpu: 'yes' }, runs: false },
    { what: 'a label the agent lacks', agent: {}, task: { gpu: 'yes' }, runs: false },
    { what: 'a wildcard agent label', agent: { gpu: '*' }, task: { gpu: 'yes' }, runs: true },
    { what: 'an empty task label value', agent: {}, task: { gpu: '' }, runs: true },
    { what: 'internal woodpecker-ci.org/ labels', agent: {}, task: { 'woodpecker-ci.org/forge-id': '1', 'woodpecker-ci.org/branch': 'main' }, runs: true },
    { what: 'an agent pinned to a repo, other repo', agent: { repo: 'acme/other' }, task: {}, runs: false },
    { what: 'an agent pinned to the repo', agent: { repo: 'acme/app' }, task: {}, runs: true },
    { what: 'a required agent label the task lacks', agent: { '!gpu': 'yes' }, task: {}, runs: false },
    { what: 'a required agent label the task has', agent: { '!gpu': 'yes' }, task: { gpu: 'yes' }, runs: true },
  ];
  for (const c of labelCases) {
    it(`label matching: ${c.what} → ${c.runs ? 'runs' : 'stays pending'}`, async () => {
      const { fake } = makeFake();
      const a = await createAgent(fake, 'a');
      fake.connectAgent(a.token, { capacity: 1, labels: c.agent, platform: c.platform });
      fake.addWorkflow({ durationMs: 1000, labels: c.task });
      const st = fake.state();
      assert.equal(st.running.length, c.runs ? 1 : 0);
      assert.equal(st.pending.length, c.runs ? 0 : 1);
    });
  }

  it('sends work only to agents whose labels match', async () => {
    const { fake } = makeFake();
    const amd = await createAgent(fake, 'amd');
    const arm = await createAgent(fake, 'arm');
    fake.connectAgent(amd.token, { capacity: 2 });
    fake.connectAgent(arm.token, { capacity: 2, platform: 'linux/arm64' });
    const armTask = fake.addWorkflow({ durationMs: 1000, labels: { platform: 'linux/arm64' } });
    const anyTask = fake.addWorkflow({ durationMs: 1000 });
    const st = fake.state();
    assert.equal(st.running.find((w) => w.id === armTask)?.agentId, arm.id);
    assert.equal(st.running.find((w) => w.id === anyTask)?.agentId, amd.id);
  });

  it('no_schedule stops new assignments; clearing it resumes them', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 2 });
    const first = fake.addWorkflow({ durationMs: 60_000 });
    const drain = await req(fake, 'PATCH', `/api/agents/${a.id}`, { headers: JSON_ADMIN, body: JSON.stringify({ name: 'a', no_schedule: true }) });
    assert.equal(drain.status, 200);
    fake.addWorkflow({ durationMs: 60_000 });
    let st = fake.state();
    assert.deepEqual(st.stats, { worker_count: 0, pending_count: 1, waiting_on_deps_count: 0, running_count: 1 });
    assert.deepEqual(st.running.map((w) => w.id), [first], 'the running task keeps running');
    await req(fake, 'PATCH', `/api/agents/${a.id}`, { headers: JSON_ADMIN, body: JSON.stringify({ name: 'a', no_schedule: false }) });
    st = fake.state();
    assert.deepEqual(st.stats, { worker_count: 0, pending_count: 0, waiting_on_deps_count: 0, running_count: 2 });
  });

  it('completes work after its duration and starts the next task at that instant', async () => {
    const { fake, clock } = makeFake();
    const t0 = clock.now();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 1 });
    fake.addWorkflow({ id: 'w1', durationMs: 30_000 });
    clock.advance(5_000);
    fake.addWorkflow({ id: 'w2', durationMs: 20_000 });
    clock.advance(100_000); // one coarse tick covers both
    const st = fake.state();
    assert.deepEqual(
      st.completed.map((w) => [w.id, w.status, w.queuedAt - t0, w.startedAt! - t0, w.finishedAt - t0, w.agentName]),
      [
        ['w1', 'success', 0, 0, 30_000, 'a'],
        ['w2', 'success', 5_000, 30_000, 50_000, 'a'],
      ],
    );
    assert.equal(st.running.length, 0);
    assert.equal(st.stats.worker_count, 1);
  });

  it('updates last_contact with every 10 s health report and freezes it when the agent dies', async () => {
    const { fake, clock } = makeFake();
    const t0 = clock.now();
    const a = await createAgent(fake, 'a');
    assert.equal(fake.agent(a.id)?.last_contact, 0, 'never connected');
    fake.connectAgent(a.token, { capacity: 1 });
    assert.equal(fake.agent(a.id)?.last_contact, sec(t0));
    clock.advance(25_000);
    assert.equal(fake.agent(a.id)?.last_contact, sec(t0 + 20_000));
    const listed = (await getJson(fake, '/api/agents')) as { last_contact: number }[];
    assert.equal(listed[0]?.last_contact, sec(t0 + 20_000));
    fake.killAgent(a.id);
    clock.advance(60_000);
    assert.equal(fake.agent(a.id)?.last_contact, sec(t0 + 20_000));
    assert.equal(fake.agent(a.id)?.connection, 'dead');
  });

  it('writes last_work on task start and finish, at most once per minute (quiet workflows: no log lines)', async () => {
    const { fake, clock } = makeFake({ logIntervalMs: 0 });
    const t0 = clock.now();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 2 });
    assert.equal(fake.agent(a.id)?.last_work, 0);
    fake.addWorkflow({ durationMs: 30_000 });
    assert.equal(fake.agent(a.id)?.last_work, sec(t0), 'start');
    clock.advance(30_000);
    assert.equal(fake.agent(a.id)?.last_work, sec(t0), 'finish 30 s later: throttled');
    fake.addWorkflow({ durationMs: 50_000 });
    clock.advance(50_000);
    assert.equal(fake.agent(a.id)?.last_work, sec(t0 + 80_000), 'finish 80 s after the last write');
    clock.advance(600_000);
    assert.equal(fake.agent(a.id)?.last_work, sec(t0 + 80_000), 'idle: unchanged');
  });

  it('a 30 s workflow leaves last_work at its start, however often the agent is observed', async () => {
    const { fake, clock } = makeFake();
    const t0 = clock.now();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 1 });
    fake.addWorkflow({ durationMs: 30_000 });
    for (let i = 0; i < 40; i++) {
      clock.advance(1_000);
      await getJson(fake, '/api/agents');
      assert.equal(fake.agent(a.id)?.last_work, sec(t0), `+${i + 1}s`);
    }
    assert.equal(fake.state().running.length, 0, 'the workflow ended at +30 s');
  });

  it('a long workflow writes last_work from its log lines and extensions, once a minute, at event times', async () => {
    const cases: Array<{ name: string; opts: { logIntervalMs?: number; extendIntervalMs?: number }; expect: number[] }> = [
      // logs every 5 s: written at the first log event a minute after the last write (60, 120, 180 s)
      { name: 'logging workflow', opts: {}, expect: [0, 0, 0, 60, 60, 120, 120, 120, 180] },
      // no logs: only the Extends (every 45 s here) write it; Done at 200 s is within a minute of the write at 180 s
      { name: 'quiet workflow', opts: { logIntervalMs: 0, extendIntervalMs: 45_000 }, expect: [0, 0, 0, 0, 90, 90, 90, 90, 180] },
    ];
    for (const c of cases) {
      const { fake, clock } = makeFake(c.opts);
      const t0 = clock.now();
      const a = await createAgent(fake, 'a');
      fake.connectAgent(a.token, { capacity: 1 });
      fake.addWorkflow({ durationMs: 200_000 });
      const seen: number[] = [];
      // Observed every 25 s: the values must not depend on when the fake is asked.
      for (let i = 0; i < 9; i++) {
        seen.push((fake.agent(a.id)?.last_work ?? 0) - sec(t0));
        clock.advance(i === 7 ? 100_000 : 25_000);
      }
      assert.deepEqual(seen, c.expect, c.name);
    }
  });

  it('requeues the work of a dead agent after the task timeout (front of the queue)', async () => {
    const { fake, clock } = makeFake({ taskTimeoutMs: 60_000 });
    const a = await createAgent(fake, 'a');
    const b = await createAgent(fake, 'b');
    fake.connectAgent(a.token, { capacity: 1 });
    const victim = fake.addWorkflow({ durationMs: 600_000 });
    fake.addWorkflow({ id: 'later', durationMs: 1_000 }); // pending behind it
    clock.advance(10_000);
    fake.killAgent(a.id);
    fake.connectAgent(b.token, { capacity: 1 });
    // b picks the pending one at once; the victim is still "running" on the dead agent.
    let st = fake.state();
    assert.deepEqual(st.running.map((w) => [w.id, w.agentId]), [[victim, a.id], ['later', b.id]]);
    assert.equal((await req(fake, 'DELETE', `/api/agents/${a.id}`, { headers: ADMIN })).status, 409);
    clock.advance(60_000);
    st = fake.state();
    const re = st.running.find((w) => w.id === victim);
    assert.equal(re?.agentId, b.id, 'requeued and taken by b');
    assert.equal(re?.attempts, 2);
    assert.equal((await req(fake, 'DELETE', `/api/agents/${a.id}`, { headers: ADMIN })).status, 204);
  });

  it('a graceful disconnect finishes running work and takes no more', async () => {
    const { fake, clock } = makeFake();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 2 });
    fake.addWorkflow({ durationMs: 30_000 });
    fake.disconnectAgent(a.id);
    assert.equal(fake.agent(a.id)?.connection, 'leaving');
    fake.addWorkflow({ durationMs: 30_000 });
    assert.equal(fake.state().stats.pending_count, 1);
    clock.advance(30_000);
    const st = fake.state();
    assert.equal(st.agents[0]?.connection, 'offline');
    assert.equal(st.completed.length, 1);
    assert.equal(st.stats.pending_count, 1);
    assert.equal(st.stats.worker_count, 0);
  });

  it('an agent authenticates with its own token only', async () => {
    const { fake } = makeFake();
    assert.throws(() => fake.connectAgent('unknown', { capacity: 1 }), /token not found/);
    const a = await createAgent(fake, '');
    const connected = fake.connectAgent(a.token, { capacity: 1, hostname: 'vm-17' });
    assert.equal(connected.name, 'vm-17', 'an empty name is replaced by the hostname');
    const b = await createAgent(fake, 'pool-1-agent-Keep');
    assert.equal(fake.connectAgent(b.token, { capacity: 1, hostname: 'vm-18' }).name, 'pool-1-agent-Keep');
    fake.disconnectAgent(b.id);
    assert.equal((await req(fake, 'DELETE', `/api/agents/${b.id}`, { headers: ADMIN })).status, 204);
    assert.throws(() => fake.connectAgent(b.token, { capacity: 1 }), /token not found/);
  });

  it('holds dependent workflows in waiting_on_deps and skips them when a dependency fails', async () => {
    const { fake, clock } = makeFake();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 4 });
    fake.addWorkflow({ id: 'build', durationMs: 10_000 });
    fake.addWorkflow({ id: 'test', durationMs: 10_000, dependsOn: ['build'] });
    fake.addWorkflow({ id: 'lint', durationMs: 5_000, outcome: 'failure' });
    fake.addWorkflow({ id: 'deploy', durationMs: 10_000, dependsOn: ['lint'] });
    fake.addWorkflow({ id: 'notify', durationMs: 1_000, dependsOn: ['lint'], runOn: ['success', 'failure'] });
    let q = (await getJson(fake, '/api/queue/info')) as { waiting_on_deps: { id: string }[]; stats: Record<string, number> };
    assert.deepEqual(q.waiting_on_deps.map((t) => t.id), ['test', 'deploy', 'notify']);
    assert.equal(q.stats.waiting_on_deps_count, 3);
    clock.advance(5_000);
    let st = fake.state();
    assert.deepEqual(st.completed.map((w) => [w.id, w.status]), [['lint', 'failure'], ['deploy', 'skipped']]);
    assert.deepEqual(st.running.map((w) => w.id), ['build', 'notify']);
    clock.advance(5_000);
    st = fake.state();
    assert.deepEqual(st.running.map((w) => w.id), ['test']);
    q = (await getJson(fake, '/api/queue/info')) as typeof q;
    assert.equal(q.stats.waiting_on_deps_count, 0);
  });

  it('cancels pending and running workflows', async () => {
    const { fake } = makeFake();
    const a = await createAgent(fake, 'a');
    fake.connectAgent(a.token, { capacity: 1 });
    const run = fake.addWorkflow({ durationMs: 10_000 });
    const wait = fake.addWorkflow({ durationMs: 10_000 });
    assert.equal(fake.cancelWorkflow(run), true);
    assert.deepEqual(fake.state().running.map((w) => w.id), [wait]);
    assert.equal(fake.cancelWorkflow('nope'), false);
    assert.deepEqual(fake.state().completed.map((w) => [w.id, w.status]), [[run, 'cancelled']]);
  });

  it('keeps queue stats consistent through a random run (seeded)', async () => {
    const clock = new AutoClock();
    const random = seededRandom(7);
    const fake = createFakeWoodpecker({ clock, random, adminToken: ADMIN_TOKEN });
    const rnd = seededRandom(99);
    const tokens: string[] = [];
    for (let step = 0; step < 300; step++) {
      const r = rnd();
      if (r < 0.1) {
        tokens.push((await createAgent(fake, `pool-1-agent-${step}`)).token);
      } else if (r < 0.2 && tokens.length) {
        const token = tokens[Math.floor(rnd() * tokens.length)] ?? '';
        try {
          fake.connectAgent(token, { capacity: 1 + Math.floor(rnd() * 3), platform: rnd() < 0.3 ? 'linux/arm64' : 'linux/amd64' });
        } catch {
          // deleted meanwhile
        }
      } else if (r < 0.5) {
        fake.addWorkflow({ durationMs: Math.floor(rnd() * 300_000), labels: rnd() < 0.2 ? { platform: 'linux/arm64' } : {} });
      } else if (r < 0.55) {
        const st = fake.state();
        const ag = st.agents[Math.floor(rnd() * st.agents.length)];
        if (ag) await req(fake, 'PATCH', `/api/agents/${ag.id}`, { headers: JSON_ADMIN, body: JSON.stringify({ name: ag.name, no_schedule: rnd() < 0.5 }) });
      } else if (r < 0.58) {
        const st = fake.state();
        const ag = st.agents[Math.floor(rnd() * st.agents.length)];
        if (ag) {
          if (rnd() < 0.5) fake.killAgent(ag.id);
          else await req(fake, 'DELETE', `/api/agents/${ag.id}`, { headers: ADMIN });
        }
      } else {
        clock.advance(Math.floor(rnd() * 60_000));
      }

      const st = fake.state();
      const q = (await getJson(fake, '/api/queue/info')) as {
        pending: { id: string }[];
        waiting_on_deps: unknown[];
        running: { id: string; agent_id: number; agent_name: string }[];
        stats: Record<string, number>;
      };
      assert.deepEqual(q.stats, st.stats, `step ${step}`);
      assert.equal(q.stats.pending_count, q.pending.length);
      assert.equal(q.stats.running_count, q.running.length);
      assert.equal(q.stats.waiting_on_deps_count, q.waiting_on_deps.length);
      assert.equal(q.stats.worker_count, st.agents.reduce((n, a) => n + a.freeSlots, 0));
      for (const ag of st.agents) {
        if (ag.connection === 'online') {
          const live = q.running.filter((t) => t.agent_id === ag.id).length;
          assert.ok(live <= ag.capacity, `agent ${ag.id} runs ${live} > ${ag.capacity}`);
          if (ag.no_schedule) assert.equal(ag.freeSlots, 0);
        } else {
          assert.equal(ag.freeSlots, 0);
        }
      }
      // Every running task belongs to an existing agent; pending work with a matching free slot cannot exist.
      for (const t of q.running) assert.ok(st.agents.some((a) => a.id === t.agent_id), `task ${t.id}`);
      if (q.pending.length > 0 && !st.paused) {
        const free = st.agents.filter((a) => a.freeSlots > 0);
        const anyLabel = st.pending.some((w) => w.labels.platform === undefined);
        if (anyLabel) assert.equal(free.length, 0, `step ${step}: idle slot next to pending work`);
      }
    }
    assert.ok(fake.state().completed.length > 10);
  });
});
