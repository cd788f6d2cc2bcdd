import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { EngineMemory } from '../../src/engine/types.js';
import { initialMemory } from '../../src/engine/types.js';
import { ConfigError } from '../../src/config/types.js';
import {
  adminAccessFor,
  assertSafeBinding,
  createHttpApp,
  hostCheckFor,
  isLoopbackHost,
  parseHttpAddr,
  startHttpServer,
  type AdminAccess,
  type AdminControls,
} from '../../src/observability/http.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createStatusTracker } from '../../src/observability/status.js';
import { MIN, nm, SECRET_AGENT_TOKEN, T0, agent, config, manualClock, report, result } from './fixtures.js';

const TOKEN = 'admin-http-token-0123456789';
const sec = (ms: number): number => Math.floor(ms / 1000);

class FakeControls implements AdminControls {
  calls: string[] = [];
  state: EngineMemory = initialMemory;
  setPaused(paused: boolean): void {
    this.calls.push(paused ? 'pause' : 'resume');
    this.state = { ...this.state, paused };
  }
  setCordoned(name: string, cordoned: boolean): void {
    this.calls.push(`${cordoned ? 'cordon' : 'uncordon'} ${name}`);
    const rest = this.state.cordoned.filter((n) => n !== name);
    this.state = { ...this.state, cordoned: cordoned ? [...rest, name] : rest };
  }
  requestDrain(name: string): void {
    this.calls.push(`drain ${name}`);
    this.state = { ...this.state, drainRequested: [...this.state.drainRequested, name] };
  }
}

function setup(opts: { access?: AdminAccess; token?: string; controls?: boolean; hostCheck?: boolean } = {}) {
  const clock = manualClock(T0);
  const status = createStatusTracker({ clock, config, price: { perHour: 10, currency: 'RUB', description: 'x' } });
  const metrics = createMetrics({ poolId: '1' });
  const controls = new FakeControls();
  const app = createHttpApp({
    controls: opts.controls === false ? undefined : controls,
    status,
    metrics,
    token: opts.token,
    adminAccess: opts.access,
    loopbackHostOnly: opts.hostCheck,
    clock,
    readiness: { maxTickAge: 3 * MIN },
  });
  const feed = (r: ReturnType<typeof report>): void => {
    status.observeTick(r);
    metrics.observeTick(r);
  };
  const req = (method: string, path: string, headers: Record<string, string> = {}): Promise<Response> =>
    Promise.resolve(app.fetch(new Request(`http://127.0.0.1:8080${path}`, { method, headers })));
  return { clock, status, metrics, controls, app, feed, req };
}

const agents = [
  agent({ id: 1, name: nm('aaaa'), last_contact: sec(T0) }),
  agent({ id: 2, name: nm('bbbb'), last_contact: sec(T0) }),
];

describe('http: read-only routes', () => {
  it('/healthz answers 200 while alive', async () => {
    const { req } = setup();
    const res = await req('GET', '/healthz');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });

  it('/readyz follows the last full reconcile', async () => {
    const { req, feed, clock } = setup();
    const ready = async (): Promise<{ status: number; reason: string }> => {
      const res = await req('GET', '/readyz');
      const body = (await res.json()) as { reason: string };
      return { status: res.status, reason: body.reason };
    };
    const steps: Array<[string, () => void, number, RegExp]> = [
      ['before any tick', () => undefined, 503, /no full reconcile/],
      ['a scale-up tick is not enough', () => feed(report({ now: T0, mode: 'scale-up' })), 503, /no full reconcile/],
      ['a good full tick', () => feed(report({ now: T0, agents })), 200, /ok/],
      ['a failed action does not make it unready', () => {
        clock.set(T0 + MIN);
        feed(report({ now: T0 + MIN, agents, results: [result({ kind: 'create', reason: { code: 'pending-work', message: 'w' } }, { name: nm('x'), outcome: 'failed', detail: 'no quota' })] }));
      }, 200, /ok/],
      ['too old', () => clock.set(T0 + 5 * MIN), 503, /finished 4m ago \(limit 3m\)/],
      ['provider list failed', () => feed(report({ now: T0 + 5 * MIN, agents, servers: undefined })), 503, /cloud provider API/],
      ['woodpecker failed', () => feed(report({ now: T0 + 5 * MIN, failed: true })), 503, /Woodpecker server did not answer.*ECONNREFUSED/],
      ['recovered', () => feed(report({ now: T0 + 5 * MIN, agents })), 200, /ok/],
    ];
    for (const [what, step, code, reason] of steps) {
      step();
      const r = await ready();
      assert.equal(r.status, code, what);
      assert.match(r.reason, reason, what);
    }
  });

  it('/metrics is Prometheus text that parses', async () => {
    const { req, feed } = setup();
    feed(report({ now: T0, agents }));
    const res = await req('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const fams = parsePrometheusTextFormat(await res.text());
    assert.ok(fams.some((f) => f.name === 'twcloud_scaler_agents'));
  });

  it('/api/status is the snapshot, without secrets, with the live admin state', async () => {
    const { req, feed, controls } = setup({ token: TOKEN });
    feed(report({ now: T0, agents }));
    controls.setPaused(true);
    const res = await req('GET', '/api/status');
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(SECRET_AGENT_TOKEN));
    assert.ok(!text.includes(TOKEN));
    const body = JSON.parse(text) as { agents: Array<{ name: string }>; admin: { paused: boolean } };
    assert.deepEqual(
      body.agents.map((a) => a.name),
      [nm('aaaa'), nm('bbbb')],
    );
    assert.equal(body.admin.paused, true);
  });

  it('/api/decisions honours limit and rejects a bad one', async () => {
    const { req, feed } = setup();
    for (let i = 0; i < 5; i++) {
      feed(report({ now: T0 + i * MIN, results: [result({ kind: 'create', reason: { code: 'min-agents', message: `m${i}` } }, { name: `pool-1-agent-n${i}` })] }));
    }
    const res = await req('GET', '/api/decisions?limit=2');
    const body = (await res.json()) as { decisions: Array<{ reason: { message: string } }> };
    assert.deepEqual(
      body.decisions.map((d) => d.reason.message),
      ['m4', 'm3'],
    );
    for (const bad of ['0', 'x', '-1', '100000']) {
      assert.equal((await req('GET', `/api/decisions?limit=${bad}`)).status, 400, bad);
    }
  });

  it('/ serves the self-contained status page with a strict CSP', async () => {
    const { req } = setup();
    const res = await req('GET', '/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /script-src 'sha256-/);
    const html = await res.text();
    assert.match(html, /<svg id="chart"/);
    assert.match(html, /<tbody id="agents">/);
    assert.match(html, /fetch\("api\/status"/);
    // Nothing loaded from elsewhere: no external URLs, no src attributes, no stylesheets.
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    assert.doesNotMatch(html, /\ssrc=/);
    assert.doesNotMatch(html, /<link[^>]+stylesheet/);
  });

  it('unknown routes answer JSON 404', async () => {
    const { req } = setup();
    const res = await req('GET', '/api/nope');
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: string }).error, /no route/);
  });
});

describe('http: admin routes', () => {
  const routes: Array<[string, string, string]> = [
    ['POST', '/api/pause', 'pause'],
    ['POST', '/api/resume', 'resume'],
    ['POST', `/api/agents/${nm('aaaa')}/cordon`, `cordon ${nm('aaaa')}`],
    ['DELETE', `/api/agents/${nm('aaaa')}/cordon`, `uncordon ${nm('aaaa')}`],
    ['POST', `/api/agents/${nm('bbbb')}/drain`, `drain ${nm('bbbb')}`],
  ];

  it('require the bearer token and then call the controls', async () => {
    const { req, feed, controls } = setup({ token: TOKEN });
    feed(report({ now: T0, agents }));
    for (const [method, path, call] of routes) {
      const none = await req(method, path);
      assert.equal(none.status, 401, `${method} ${path} without token`);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await req(method, path, { authorization: 'Bearer nope' });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
      assert.deepEqual(controls.calls, [], 'nothing called without the token');
      const good = await req(method, path, { authorization: `Bearer ${TOKEN}` });
      assert.equal(good.status, 200, `${method} ${path} with the token`);
      const body = (await good.json()) as { ok: boolean; message: string };
      assert.equal(body.ok, true);
      assert.ok(!JSON.stringify(body).includes(TOKEN));
      assert.deepEqual(controls.calls, [call]);
      controls.calls = [];
    }
  });

  it('validate the agent', async () => {
    const { req, feed, controls } = setup({ token: TOKEN });
    feed(report({ now: T0, agents }));
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await req('POST', `/api/agents/${nm('zzzz')}/cordon`, auth)).status, 404);
    assert.equal((await req('POST', `/api/agents/${nm('zzzz')}/drain`, auth)).status, 404);
    assert.equal((await req('POST', '/api/agents/bad%20name/drain', auth)).status, 400);
    assert.equal((await req('DELETE', `/api/agents/${nm('zzzz')}/cordon`, auth)).status, 404);
    assert.deepEqual(controls.calls, []);
    // An agent that left the pool can still be uncordoned.
    controls.state = { ...controls.state, cordoned: [nm('gone')] };
    assert.equal((await req('DELETE', `/api/agents/${nm('gone')}/cordon`, auth)).status, 200);
    assert.deepEqual(controls.calls, [`uncordon ${nm('gone')}`]);
  });

  it('are refused on a read-only listener', async () => {
    const { req, feed, controls } = setup({ access: 'disabled' });
    feed(report({ now: T0, agents }));
    for (const [method, path] of routes) {
      const res = await req(method, path, { authorization: `Bearer ${TOKEN}` });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.match(((await res.json()) as { error: string }).error, /disabled/);
    }
    assert.deepEqual(controls.calls, []);
  });

  it('accept local requests on a loopback listener without a token, but not browser-driven ones', async () => {
    const { req, feed, controls } = setup({ access: 'loopback' });
    feed(report({ now: T0, agents }));
    const cases: Array<[string, Record<string, string>, number]> = [
      ['plain local request', {}, 200],
      ['same-origin browser request', { origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }, 200],
      ['cross-site page (CSRF)', { origin: 'http://evil.example' }, 403],
      ['cross-site fetch metadata', { 'sec-fetch-site': 'cross-site' }, 403],
      ['DNS rebinding (foreign Host)', { host: 'evil.example:8080' }, 403],
      ['localhost Host', { host: 'localhost:8080' }, 200],
    ];
    for (const [what, headers, code] of cases) {
      controls.calls = [];
      const res = await req('POST', '/api/pause', headers);
      assert.equal(res.status, code, what);
      assert.equal(controls.calls.length, code === 200 ? 1 : 0, what);
    }
  });

  it('answer 503 without controls', async () => {
    const { req } = setup({ token: TOKEN, controls: false });
    assert.equal((await req('POST', '/api/pause', { authorization: `Bearer ${TOKEN}` })).status, 503);
  });
});

describe('http: Host check on a loopback bind (DNS rebinding)', () => {
  const routes: Array<[string, string]> = [
    ['GET', '/'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/api/status'],
    ['GET', '/api/decisions'],
    ['POST', '/api/pause'],
    ['GET', '/no-such-route'],
  ];

  it('answers 421 on every route to a foreign Host, and nothing reaches the controls', async () => {
    const { req, controls } = setup({ access: 'loopback', hostCheck: true });
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', 'localhost.evil.example:8080', '10.0.0.5:8080']) {
      for (const [method, path] of routes) {
        const res = await req(method, path, { host });
        assert.equal(res.status, 421, `${method} ${path} Host: ${host}`);
        const body = await res.text();
        assert.doesNotMatch(body, /pool|agent|twcloud_scaler/, 'no data in the refusal');
      }
    }
    assert.deepEqual(controls.calls, []);
  });

  it('answers loopback names, with or without the port', async () => {
    const { req } = setup({ access: 'loopback', hostCheck: true });
    for (const host of ['localhost', 'localhost:8080', 'LOCALHOST:8080', '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:8080', 'status.localhost:8080']) {
      for (const [method, path] of routes.slice(0, 6)) {
        const res = await req(method, path, { host });
        assert.notEqual(res.status, 421, `${method} ${path} Host: ${host}`);
      }
    }
  });

  it('is on for loopback binds only; other binds answer any Host as before', async () => {
    assert.equal(hostCheckFor('127.0.0.1:8080'), true);
    assert.equal(hostCheckFor('[::1]:8080'), true);
    assert.equal(hostCheckFor('localhost:8080'), true);
    assert.equal(hostCheckFor('0.0.0.0:8080'), false);
    assert.equal(hostCheckFor(':8080'), false);
    assert.equal(hostCheckFor('10.0.0.5:8080'), false);
    assert.equal(hostCheckFor('off'), false);
    const { req } = setup({ token: TOKEN });
    assert.equal((await req('GET', '/api/status', { host: 'ci.example.com:8080' })).status, 200);
  });
});

describe('http: addresses and binding safety', () => {
  it('parses listen addresses', () => {
    const cases: Array<[string, { host: string; port: number } | undefined]> = [
      ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
      ['0.0.0.0:9090', { host: '0.0.0.0', port: 9090 }],
      [':8080', { host: '0.0.0.0', port: 8080 }],
      ['[::1]:8080', { host: '::1', port: 8080 }],
      ['localhost:0', { host: 'localhost', port: 0 }],
      ['off', undefined],
      ['', undefined],
    ];
    for (const [addr, want] of cases) assert.deepEqual(parseHttpAddr(addr), want, addr);
    for (const bad of ['8080', 'host', '127.0.0.1:99999', 'http://127.0.0.1:8080', '::1:8080']) {
      assert.throws(() => parseHttpAddr(bad), ConfigError, bad);
    }
  });

  it('knows loopback hosts', () => {
    const cases: Array<[string, boolean]> = [
      ['127.0.0.1', true],
      ['127.1.2.3', true],
      ['localhost', true],
      ['::1', true],
      ['[::1]', true],
      ['::ffff:127.0.0.1', true],
      ['0.0.0.0', false],
      ['::', false],
      ['10.0.0.1', false],
      ['example.com', false],
      ['127.0.0.1.example.com', false],
    ];
    for (const [host, want] of cases) assert.equal(isLoopbackHost(host), want, host);
  });

  it('refuses admin endpoints on a non-loopback address without a token', () => {
    assert.throws(() => assertSafeBinding('0.0.0.0:8080', undefined), /refusing to enable the admin endpoints.*WOODPECKER_HTTP_TOKEN/);
    assert.throws(() => assertSafeBinding(':8080', ''), ConfigError);
    assert.doesNotThrow(() => assertSafeBinding('0.0.0.0:8080', TOKEN));
    assert.doesNotThrow(() => assertSafeBinding('127.0.0.1:8080', undefined));
    assert.doesNotThrow(() => assertSafeBinding('localhost:8080', undefined));
    assert.doesNotThrow(() => assertSafeBinding('[::1]:8080', undefined));
    // Resolved through DNS when listening: it may bind a public interface.
    assert.throws(() => assertSafeBinding('ci.localhost:8080', undefined), /refusing to enable the admin endpoints/);
    assert.equal(adminAccessFor('ci.localhost:8080', undefined).access, 'disabled');
    assert.doesNotThrow(() => assertSafeBinding('off', undefined));
    assert.deepEqual(adminAccessFor('127.0.0.1:8080', undefined), { access: 'loopback' });
    assert.deepEqual(adminAccessFor('0.0.0.0:8080', TOKEN), { access: 'token' });
    const ro = adminAccessFor('0.0.0.0:8080', undefined);
    assert.equal(ro.access, 'disabled');
    assert.match(ro.warning ?? '', /read-only/);
  });

  it('serves on 127.0.0.1 and closes', async () => {
    const { app } = setup();
    const srv = await startHttpServer(app, '127.0.0.1:0');
    try {
      assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${srv.url}/healthz`);
      assert.equal(res.status, 200);
    } finally {
      await srv.close();
    }
    await assert.rejects(startHttpServer(app, 'off'), /disabled/);
  });
});
