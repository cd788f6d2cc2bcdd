import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import type { WoodpeckerApi } from '../../src/engine/executor.js';
import { Reconciler } from '../../src/engine/reconciler.js';
import { ConfigError } from '../../src/config/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createObservability } from '../../src/observability/wire.js';
import type { Provider, ProviderServer } from '../../src/providers/types.js';
import type { WoodpeckerAgent } from '../../src/woodpecker/types.js';
import { T0, nm, agent, config, manualClock, queueOf, task } from './fixtures.js';

/** A pool with one busy agent and one pending workflow: the tick creates an agent. */
function engine(clock: ReturnType<typeof manualClock>) {
  const agents: WoodpeckerAgent[] = [agent({ id: 1, name: nm('aaaa'), last_contact: Math.floor(T0 / 1000) })];
  const servers: ProviderServer[] = [
    { id: 's1', name: nm('aaaa'), createdAt: T0 - 600_000, state: 'running', status: 'on' },
  ];
  const woodpecker: WoodpeckerApi = {
    queueInfo: async () =>
      queueOf({ pending: [task('p1'), task('p2'), task('p3')], running: [task('r1', { agent_id: 1 }), task('r2', { agent_id: 1 })] }),
    listAgents: async () => agents.map((a) => ({ ...a })),
    createAgent: async (name) => {
      const a = agent({ id: agents.length + 1, name, created: Math.floor(clock.now() / 1000) });
      agents.push(a);
      return a;
    },
    updateAgent: async (a) => agent({ id: a.id, name: a.name, no_schedule: a.no_schedule }),
    deleteAgent: async () => 'deleted',
    agentTasks: async () => [],
  };
  const provider: Provider = {
    name: 'stub',
    billingModel: 'hourly',
    preExec: [],
    postExec: [],
    deploy: async (req) => {
      const s: ProviderServer = { id: `s${servers.length + 1}`, name: req.agent.name, createdAt: clock.now(), state: 'booting', status: 'installing' };
      servers.push(s);
      return s;
    },
    remove: async () => 'removed',
    list: async () => servers.map((s) => ({ ...s })),
    price: () => ({ perHour: 9, currency: 'RUB', description: 'stub' }),
  };
  const reconciler = new Reconciler({
    config,
    woodpecker,
    provider,
    clock,
    random: () => 0.5,
    logger: silentLogger(),
    renderUserData: () => '#cloud-config\n',
  });
  return { reconciler, provider };
}

describe('createObservability (daemon wiring)', () => {
  it('feeds metrics and status from the reconciler and serves them on the listener', async () => {
    const clock = manualClock(T0);
    const { reconciler, provider } = engine(clock);
    const obs = createObservability({ httpAddr: '127.0.0.1:0', poolId: '1', clock, processMetrics: false });
    obs.onRequest('woodpecker', { endpoint: 'GET /api/agents', status: 200, durationMs: 12 });
    const stop = await obs.start({ reconciler, provider, logger: silentLogger() });
    try {
      const url = obs.server?.url;
      assert.ok(url);
      assert.equal((await fetch(`${url}/readyz`)).status, 503);
      const report = await reconciler.tick('full');
      assert.equal(report.results[0]?.action.kind, 'create');
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /twcloud_scaler_actions_total\{kind="create",reason="pending-work",outcome="done",pool="1"\} 2/);
      assert.match(metrics, /twcloud_scaler_api_requests_total\{api="woodpecker",endpoint="GET \/api\/agents",status="200",pool="1"\} 1/);
      const status = (await (await fetch(`${url}/api/status`)).json()) as {
        decisions: Array<{ action: string }>;
        agents: object[];
        servers: object[];
        cost: { perHour: number };
      };
      assert.equal(status.decisions[0]?.action, 'create');
      assert.equal(status.cost.perHour, 9);
      // One pool: the JSON of before, no several-pools fields.
      assert.ok(!('pools' in status) && !('unservable' in status));
      assert.ok([...status.decisions, ...status.agents, ...status.servers].every((x) => !('pool' in x)));
      assert.ok(status.agents.length > 0 && status.servers.length > 0);
      // Loopback without a token: local admin requests reach the reconciler.
      const paused = await fetch(`${url}/api/pause`, { method: 'POST' });
      assert.equal(paused.status, 200);
      assert.equal(reconciler.state.paused, true);
    } finally {
      await stop();
    }
  });

  it('a loopback listener refuses a DNS-rebinding request (foreign Host) on its real socket', async () => {
    const clock = manualClock(T0);
    const { reconciler, provider } = engine(clock);
    const obs = createObservability({ httpAddr: '127.0.0.1:0', poolId: '1', clock, processMetrics: false });
    const stop = await obs.start({ reconciler, provider, logger: silentLogger() });
    try {
      const port = obs.server?.port ?? 0;
      const get = (path: string, host: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const r = httpRequest({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          r.on('error', reject);
          r.end();
        });
      assert.equal(await get('/api/status', 'evil.example'), 421);
      assert.equal(await get('/metrics', `evil.example:${port}`), 421);
      assert.equal(await get('/api/status', `localhost:${port}`), 200);
      assert.equal(await get('/metrics', `127.0.0.1:${port}`), 200);
    } finally {
      await stop();
    }
  });

  it('keeps metrics without a listener when http-addr is off', async () => {
    const clock = manualClock(T0);
    const { reconciler, provider } = engine(clock);
    const obs = createObservability({ httpAddr: undefined, poolId: '1', clock, processMetrics: false });
    const stop = await obs.start({ reconciler, provider, logger: silentLogger() });
    await reconciler.tick('full');
    assert.equal(obs.server, undefined);
    assert.match((await obs.metrics.render()).body, /twcloud_scaler_ticks_total\{mode="full",result="ok",pool="1"\} 1/);
    await stop();
  });

  it('reads the account balance every 10 minutes (not every tick): a metric, and the status with its low flag', async () => {
    const clock = manualClock(T0);
    const { reconciler, provider } = engine(clock);
    let reads = 0;
    let amount = 900;
    const withBalance = {
      ...provider,
      balance: async () => {
        reads++;
        return { amount, currency: 'RUB', warnBelow: 500, low: amount < 500, hoursLeft: 12 };
      },
    };
    const obs = createObservability({ httpAddr: undefined, poolId: '1', clock, processMetrics: false });
    const stop = await obs.start({ reconciler, provider: withBalance, logger: silentLogger() });
    try {
      const settle = () => new Promise((r) => setImmediate(r));
      for (let i = 0; i < 10; i++) {
        await reconciler.tick(i % 2 === 0 ? 'full' : 'scale-up');
        await settle();
        clock.advance(60_000);
      }
      assert.equal(reads, 1, 'one read in the first 10 minutes of ticks');
      const body = (await obs.metrics.render()).body;
      assert.match(body, /twcloud_scaler_account_balance\{currency="RUB",pool="1"\} 900/);
      assert.match(body, /twcloud_scaler_account_balance_low\{pool="1"\} 0/);
      amount = 120;
      clock.advance(60_000);
      await reconciler.tick('full');
      await settle();
      assert.equal(reads, 2);
      assert.match((await obs.metrics.render()).body, /twcloud_scaler_account_balance_low\{pool="1"\} 1/);
      const b = obs.status?.snapshot().cost.balance;
      assert.deepEqual(b && { amount: b.amount, low: b.low, warnBelow: b.warnBelow, hoursLeft: b.hoursLeft }, {
        amount: 120,
        low: true,
        warnBelow: 500,
        hoursLeft: 12,
      });
    } finally {
      await stop();
    }
  });

  it('makes a busy address a configuration error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const clock = manualClock(T0);
      const { reconciler, provider } = engine(clock);
      const obs = createObservability({ httpAddr: `127.0.0.1:${port}`, poolId: '1', clock, processMetrics: false });
      await assert.rejects(obs.start({ reconciler, provider, logger: silentLogger() }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /--http-addr.*cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
        return true;
      });
    } finally {
      blocker.close();
    }
  });
});
