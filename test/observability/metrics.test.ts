import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { PromFamily } from 'parse-prometheus-text-format';
import { createMetrics, METRIC_PREFIX } from '../../src/observability/metrics.js';
import { MIN, nm, SECRET_AGENT_TOKEN, T0, agent, queueOf, report, result, server, syntheticRun, task } from './fixtures.js';

const PRICE = { perHour: 12, currency: 'RUB', description: 'preset 2453' };

async function families(m: ReturnType<typeof createMetrics>): Promise<Map<string, PromFamily>> {
  const { body } = await m.render();
  assert.ok(!body.includes(SECRET_AGENT_TOKEN), 'metrics must not carry agent tokens');
  return new Map(parsePrometheusTextFormat(body).map((f) => [f.name, f]));
}

function value(f: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const fam = f.get(METRIC_PREFIX + name);
  if (!fam) return undefined;
  const s = fam.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  if (!s) return undefined;
  return Number(s.value ?? s.count);
}

function histCount(f: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const fam = f.get(METRIC_PREFIX + name);
  assert.ok(fam, `missing family ${name}`);
  assert.equal(fam.type, 'HISTOGRAM');
  const s = fam.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  // The parser keeps count/sum only for histograms without extra labels; the +Inf bucket is the count either way.
  return s ? Number(s.count ?? s.buckets?.['+Inf'] ?? 0) : 0;
}

describe('metrics', () => {
  it('exposes every key family with a parseable text format after synthetic ticks', async () => {
    const m = createMetrics({ price: () => PRICE, poolId: '1' });
    for (const r of syntheticRun(T0, 180)) m.observeTick(r);
    m.observeRequest('woodpecker', { endpoint: 'GET /api/agents', status: 200, durationMs: 40 });
    m.observeRequest('timeweb', { endpoint: 'POST /api/v1/servers', status: 429, durationMs: 15 });
    m.observeRequest('timeweb', { endpoint: 'GET /api/v1/servers', status: 200, durationMs: 80, rateLimited: true });
    const f = await families(m);
    const expected: Array<[string, PromFamily['type']]> = [
      ['agents', 'GAUGE'],
      ['desired_agents', 'GAUGE'],
      ['servers', 'GAUGE'],
      ['queue_tasks', 'GAUGE'],
      ['capacity_slots', 'GAUGE'],
      ['provision_duration_seconds', 'HISTOGRAM'],
      ['registration_duration_seconds', 'HISTOGRAM'],
      ['queue_wait_seconds', 'HISTOGRAM'],
      ['api_requests_total', 'COUNTER'],
      ['api_request_duration_seconds', 'HISTOGRAM'],
      ['api_rate_limited_total', 'COUNTER'],
      ['actions_total', 'COUNTER'],
      ['ticks_total', 'COUNTER'],
      ['last_successful_tick_timestamp_seconds', 'GAUGE'],
      ['cost_estimated_total', 'COUNTER'],
      ['paused', 'GAUGE'],
    ];
    for (const [name, type] of expected) {
      const fam = f.get(METRIC_PREFIX + name);
      assert.ok(fam, `family ${name} present`);
      assert.equal(fam.type, type, name);
    }
    assert.equal(value(f, 'ticks_total', { mode: 'full', result: 'ok' }), 180);
    assert.ok((value(f, 'actions_total', { kind: 'create', reason: 'pending-work', outcome: 'done' }) ?? 0) > 0);
    assert.ok(histCount(f, 'provision_duration_seconds') > 0, 'agents that connected were measured');
    assert.ok(histCount(f, 'registration_duration_seconds') > 0);
    assert.equal(value(f, 'api_rate_limited_total', { api: 'timeweb', endpoint: 'POST /api/v1/servers' }), 1);
    assert.equal(value(f, 'api_rate_limited_total', { api: 'timeweb', endpoint: 'GET /api/v1/servers' }), 1);
    assert.equal(value(f, 'api_requests_total', { api: 'woodpecker', endpoint: 'GET /api/agents', status: '200' }), 1);
    assert.ok((value(f, 'cost_estimated_total', { currency: 'RUB' }) ?? 0) > 0);
    // Every series carries the pool label.
    assert.equal(f.get(METRIC_PREFIX + 'desired_agents')?.metrics[0]?.labels?.pool, '1');
  });

  it('sets gauges from the last plan summary', async () => {
    const m = createMetrics();
    const agents = [
      agent({ id: 1, name: nm('aaaa'), last_contact: Math.floor(T0 / 1000) }),
      agent({ id: 2, name: nm('bbbb'), no_schedule: true, last_contact: Math.floor(T0 / 1000) }),
      agent({ id: 3, name: nm('cccc') }),
      agent({ id: 9, name: 'static-agent', last_contact: Math.floor(T0 / 1000) }),
    ];
    const q = queueOf({ pending: [task('p1'), task('p2'), task('p3')], running: [task('r1', { agent_id: 1 })], free: 1 });
    m.observeTick(
      report({
        now: T0,
        agents,
        queue: q,
        servers: [server(nm('aaaa'), T0 - 10 * MIN), server(nm('cccc'), T0, { state: 'booting', status: 'installing' })],
      }),
    );
    const f = await families(m);
    assert.equal(value(f, 'agents', { state: 'active' }), 2);
    assert.equal(value(f, 'agents', { state: 'drained' }), 1);
    assert.equal(value(f, 'agents', { state: 'booting' }), 1);
    assert.equal(value(f, 'servers', { state: 'running' }), 1);
    assert.equal(value(f, 'servers', { state: 'booting' }), 1);
    assert.equal(value(f, 'queue_tasks', { state: 'pending' }), 3);
    assert.equal(value(f, 'queue_tasks', { state: 'running' }), 1);
    assert.equal(value(f, 'capacity_slots', { kind: 'free' }), 1);
    assert.equal(value(f, 'capacity_slots', { kind: 'busy' }), 1);
  });

  it('measures provision time from the create to the first contact', async () => {
    const m = createMetrics();
    const name = nm('newa');
    const create = result({ kind: 'create', reason: { code: 'pending-work', message: 'work' } }, { name, durationMs: 3000 });
    m.observeTick(report({ now: T0, results: [create] }));
    // Next tick: registered, not connected yet.
    m.observeTick(report({ now: T0 + MIN, agents: [agent({ id: 5, name })] }));
    let f = await families(m);
    assert.equal(histCount(f, 'provision_duration_seconds'), 0);
    assert.equal(histCount(f, 'registration_duration_seconds'), 1);
    // Third tick: connected, 3 minutes after the create started.
    m.observeTick(report({ now: T0 + 3 * MIN, agents: [agent({ id: 5, name, last_contact: Math.floor((T0 + 3 * MIN) / 1000) })] }));
    m.observeTick(report({ now: T0 + 4 * MIN, agents: [agent({ id: 5, name, last_contact: Math.floor((T0 + 4 * MIN) / 1000) })] }));
    f = await families(m);
    assert.equal(histCount(f, 'provision_duration_seconds'), 1, 'observed once');
    const fam = f.get(METRIC_PREFIX + 'provision_duration_seconds');
    assert.equal(Number(fam?.metrics[0]?.sum), 180);
  });

  it('does not measure dry-run or failed creates, and forgets agents removed before contact', async () => {
    const m = createMetrics();
    const why = { code: 'pending-work' as const, message: 'work' };
    m.observeTick(
      report({
        now: T0,
        results: [
          result({ kind: 'create', reason: why }, { name: nm('drya'), outcome: 'dry-run', durationMs: 0 }),
          result({ kind: 'create', reason: why }, { name: nm('fail'), outcome: 'failed', detail: 'quota' }),
          result({ kind: 'create', reason: why }, { name: nm('gone') }),
        ],
      }),
    );
    m.observeTick(report({ now: T0 + MIN, agents: [] }));
    m.observeTick(report({ now: T0 + 2 * MIN, agents: [agent({ id: 7, name: nm('gone'), last_contact: 1 })] }));
    const f = await families(m);
    assert.equal(histCount(f, 'provision_duration_seconds'), 0);
    assert.equal(histCount(f, 'registration_duration_seconds'), 1);
    assert.equal(value(f, 'actions_total', { kind: 'create', outcome: 'failed' }), 1);
    assert.equal(value(f, 'actions_total', { kind: 'create', outcome: 'dry-run' }), 1);
    assert.equal(value(f, 'ticks_total', { mode: 'full', result: 'error' }), 1);
  });

  it('estimates queue wait from pending to running, ignoring work already running at start', async () => {
    const m = createMetrics();
    const sec = (ms: number): number => Math.floor(ms / 1000);
    m.observeTick(report({ now: T0, queue: queueOf({ running: [task('old', { agent_id: 1, created: sec(T0 - 30 * MIN) })], pending: [task('a', { created: sec(T0 - 20_000) })] }) }));
    m.observeTick(
      report({ now: T0 + MIN, queue: queueOf({ running: [task('a', { agent_id: 1, created: sec(T0 - 20_000) })], pending: [task('b')] }) }),
    );
    m.observeTick(report({ now: T0 + 3 * MIN, queue: queueOf({ running: [task('b', { agent_id: 1 })] }) }));
    const f = await families(m);
    assert.equal(histCount(f, 'queue_wait_seconds'), 2);
    const sum = Number(f.get(METRIC_PREFIX + 'queue_wait_seconds')?.metrics[0]?.sum);
    // a: created 20 s before T0, running at T0+60 s → 80 s; b: first seen pending at T0+60 s, running at T0+180 s → 120 s.
    assert.equal(sum, 200);
  });

  it('integrates cost over server-hours and keeps the last count across a failed list', async () => {
    const m = createMetrics({ price: PRICE });
    const two = [server(nm('aaaa'), T0), server(nm('bbbb'), T0)];
    m.observeTick(report({ now: T0, servers: two }));
    m.observeTick(report({ now: T0 + 30 * MIN, servers: undefined }));
    m.observeTick(report({ now: T0 + 60 * MIN, servers: [] }));
    m.observeTick(report({ now: T0 + 120 * MIN, servers: [] }));
    const f = await families(m);
    assert.equal(value(f, 'cost_estimated_total', { currency: 'RUB' }), 24);
    assert.equal(value(f, 'server_price_per_hour', { currency: 'RUB' }), 12);
  });

  it('counts ticks by mode and result and records the last successful one', async () => {
    const m = createMetrics();
    m.observeTick(report({ now: T0, mode: 'full' }));
    m.observeTick(report({ now: T0 + 5000, mode: 'scale-up' }));
    m.observeTick(report({ now: T0 + MIN, failed: true }));
    const f = await families(m);
    assert.equal(value(f, 'ticks_total', { mode: 'full', result: 'ok' }), 1);
    assert.equal(value(f, 'ticks_total', { mode: 'full', result: 'error' }), 1);
    assert.equal(value(f, 'ticks_total', { mode: 'scale-up', result: 'ok' }), 1);
    assert.equal(value(f, 'last_successful_tick_timestamp_seconds', { mode: 'full' }), (T0 + 800) / 1000);
  });

  it("API requests carry the pool's label with one pool, and none when several pools share the clients", async () => {
    const render = async (sharedClients: boolean): Promise<string> => {
      const m = createMetrics({ poolId: 'small', sharedClients });
      m.observeRequest('woodpecker', { endpoint: 'GET /api/agents', status: 200, durationMs: 40 });
      m.observeRequest('timeweb', { endpoint: 'GET /api/v1/servers', status: 429, durationMs: 15 });
      m.observeTick(report({ now: T0, mode: 'full' }));
      m.observeBalance({ amount: 120.5, currency: 'RUB', warnBelow: 0, low: false });
      return (await m.render()).body;
    };
    const one = await render(false);
    assert.match(one, /^twcloud_scaler_api_requests_total\{api="woodpecker",endpoint="GET \/api\/agents",status="200",pool="small"\} 1$/m);
    const several = await render(true);
    const api = several.split('\n').filter((l) => /^twcloud_scaler_api_/.test(l));
    assert.ok(api.length > 0);
    for (const line of api) assert.doesNotMatch(line, /pool="small"/, line);
    assert.match(several, /^twcloud_scaler_api_rate_limited_total\{api="timeweb",endpoint="GET \/api\/v1\/servers",pool=""\} 1$/m);
    assert.match(several, /^twcloud_scaler_account_balance\{currency="RUB",pool=""\} 120\.5$/m, 'the account is no pool\'s');
    assert.match(several, /^twcloud_scaler_account_balance_low\{pool=""\} 0$/m);
    assert.match(one, /^twcloud_scaler_account_balance\{currency="RUB",pool="small"\} 120\.5$/m);
    // Prometheus stores an empty label as no label; the pool's own series keep theirs.
    const fams = new Map(parsePrometheusTextFormat(several).map((f) => [f.name, f]));
    assert.equal(fams.get(`${METRIC_PREFIX}api_requests_total`)?.metrics[0]?.labels?.pool, '');
    assert.match(several, /^twcloud_scaler_ticks_total\{mode="full",result="ok",pool="small"\} 1$/m);
  });

  it('keeps separate registries per instance and can add process metrics', async () => {
    const a = createMetrics();
    const b = createMetrics({ processMetrics: true });
    a.observeRequest('woodpecker', { endpoint: 'GET /version', status: 0, durationMs: 30_000 });
    const fa = await families(a);
    const fb = await families(b);
    assert.equal(value(fa, 'api_requests_total', { status: '0' }), 1);
    assert.equal(value(fb, 'api_requests_total', { status: '0' }), undefined);
    assert.ok(fb.has(METRIC_PREFIX + 'process_resident_memory_bytes') || fb.has(METRIC_PREFIX + 'nodejs_heap_size_used_bytes'));
  });
});
