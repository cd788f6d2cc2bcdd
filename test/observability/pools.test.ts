import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerAdminCommands } from '../../src/cli/admin.js';
import { combineCosts, combineTicks } from '../../src/observability/pools.js';
import type { CostStatus, Decision, StatusSnapshot, TickStatus } from '../../src/observability/status.js';
import { startTwoPools } from './two-pools.js';

/** `status`, `decisions`, `/readyz` and `/metrics` of a two-pool daemon against the fakes: every pool, tagged. */
describe('several pools: admin API, CLI, readiness and metrics', () => {
  it('/api/status and /api/decisions list both pools’ entries with their pool; status and decisions print them', { timeout: 120_000 }, async () => {
    const d = await startTwoPools();
    try {
      assert.equal((await fetch(`${d.url}/readyz`)).status, 503, 'not ready before the first reconcile');
      await d.tick();
      await d.tick();
      const ready = await fetch(`${d.url}/readyz`);
      assert.equal(ready.status, 200, JSON.stringify(await ready.clone().json()));

      const s = (await (await fetch(`${d.url}/api/status`)).json()) as StatusSnapshot;
      assert.deepEqual(s.pools?.map((p) => [p.pool.poolId, p.labels]), [['small', 'size=small'], ['large', 'size=large']]);
      // small: 2 workflows on 2-slot agents = 1 agent; large: 1 workflow, 1 slot per agent = 1 agent.
      const byPool = (pool: string): string[] => s.agents.filter((a) => a.pool === pool).map((a) => a.name);
      assert.equal(byPool('small').length, 1, JSON.stringify(s.agents));
      assert.equal(byPool('large').length, 1, JSON.stringify(s.agents));
      assert.ok(byPool('small').every((n) => n.startsWith('pool-small-agent-')));
      assert.ok(byPool('large').every((n) => n.startsWith('pool-large-agent-')));
      assert.deepEqual(s.agents.map((a) => a.pool).sort(), ['large', 'small']);
      assert.deepEqual(s.servers.map((x) => x.pool).sort(), ['large', 'small']);
      const [small, large] = s.pools ?? [];
      assert.deepEqual(small?.agents.map((a) => a.name), byPool('small'));
      assert.deepEqual(large?.servers.map((x) => x.name), s.servers.filter((x) => x.pool === 'large').map((x) => x.name));
      assert.deepEqual([small?.demand?.pending, large?.demand?.pending], [2, 1]);
      assert.ok((small?.series.length ?? 0) > 0 && (large?.series.length ?? 0) > 0, 'a chart series per pool');
      assert.equal(large?.series.at(-1)?.pending, 1, 'a pool’s series counts its share of the queue, not the whole queue');
      assert.equal(s.queue?.pending, 4, 'the top-level queue is the whole queue');
      assert.deepEqual(s.unservable, [{ labels: 'org-id=1,repo=acme/app,type=gpu', tasks: 1 }]);
      assert.equal(s.lastTick?.ok, true);
      assert.equal(s.cost.total, (small?.cost.total ?? NaN) + (large?.cost.total ?? NaN));

      const creates = s.decisions.filter((x) => x.action === 'create');
      assert.deepEqual(creates.map((x) => x.pool).sort(), ['large', 'small'], JSON.stringify(s.decisions));
      const api = (await (await fetch(`${d.url}/api/decisions?limit=10`)).json()) as { decisions: Decision[] };
      assert.deepEqual(api.decisions.filter((x) => x.action === 'create').map((x) => [x.pool, x.agent]).sort(), creates.map((x) => [x.pool, x.agent]).sort());
      assert.ok(api.decisions.every((x) => x.pool === 'small' || x.pool === 'large'));
      assert.equal((await (await fetch(`${d.url}/api/decisions?limit=1`)).json() as { decisions: Decision[] }).decisions.length, 1);

      // The CLI: a POOL column in the agents and decisions tables, one line per pool, the unservable work.
      let out = '';
      const program = new Command('twcloud-scaler').exitOverride();
      registerAdminCommands(program, { write: (t) => (out += t), env: { WOODPECKER_HTTP_ADDR: d.url } });
      await program.parseAsync(['status'], { from: 'user' });
      assert.match(out, /^Pools small, large: running \(policy default\)$/m);
      assert.match(out, /^POOL +LABELS +AGENTS +TARGET +PENDING +RUNNING +FREE +SERVERS +COST +LAST RECONCILE$/m);
      assert.match(out, /^small +size=small +1 \(0-3\) +1 +2 +0 +0 +1 /m);
      assert.match(out, /^large +size=large +1 \(0-2\) +1 +1 +0 +0 +1 /m);
      assert.match(out, /^AGENT +POOL +STATE /m);
      for (const n of [...byPool('small'), ...byPool('large')]) assert.match(out, new RegExp(`^${n} +(small|large) +booting `, 'm'));
      assert.match(out, /^Unservable: 1 pending workflow\(s\) with labels org-id=1,repo=acme\/app,type=gpu/m);
      out = '';
      await program.parseAsync(['decisions'], { from: 'user' });
      assert.match(out, /^TIME +POOL +ACTION /);
      assert.match(out, /^[\d-]+ [\d:]+ +small +create +pool-small-agent-/m);
      assert.match(out, /^[\d-]+ [\d:]+ +large +create +pool-large-agent-/m);

      // Admin: a cordon goes to the agent's pool; the answer and the status list it.
      const largeAgent = byPool('large')[0] ?? '';
      const cordon = await fetch(`${d.url}/api/agents/${largeAgent}/cordon`, { method: 'POST' });
      assert.equal(cordon.status, 200);
      assert.deepEqual(((await cordon.json()) as { admin: { cordoned: string[] } }).admin.cordoned, [largeAgent]);
      assert.deepEqual(d.pools.pools[1]?.reconciler.state.cordoned, [largeAgent]);
      const after = (await (await fetch(`${d.url}/api/status`)).json()) as StatusSnapshot;
      assert.deepEqual([after.admin.cordoned, after.pools?.[0]?.admin.cordoned, after.pools?.[1]?.admin.cordoned], [[largeAgent], [], [largeAgent]]);

      // Metrics: every pool's gauges, each with its pool label, and the unservable work by label set.
      const metrics = await (await fetch(`${d.url}/metrics`)).text();
      for (const pool of ['small', 'large']) {
        assert.match(metrics, new RegExp(`^twcloud_scaler_desired_agents\\{pool="${pool}"\\} 1$`, 'm'));
        assert.match(metrics, new RegExp(`^twcloud_scaler_actions_total\\{kind="create",reason="pending-work",outcome="done",pool="${pool}"\\} 1$`, 'm'));
      }
      assert.equal(metrics.match(/^# TYPE twcloud_scaler_desired_agents /gm)?.length, 1, 'one header per family');
      assert.match(metrics, /^twcloud_scaler_unservable_tasks\{labels="org-id=1,repo=acme\/app,type=gpu"\} 1$/m);
    } finally {
      await d.close();
    }
  });

  it('/readyz fails when one pool’s cloud API did not answer, naming the pool', { timeout: 120_000 }, async () => {
    const d = await startTwoPools();
    try {
      await d.tick();
      assert.equal((await fetch(`${d.url}/readyz`)).status, 200);
      const large = d.pools.pools[1];
      assert.ok(large);
      const provider = large.provider;
      const { list, inventory } = provider;
      const down = async (): Promise<never> => {
        throw new Error('timeweb: HTTP 503');
      };
      provider.list = down;
      if (inventory) provider.inventory = down;
      await d.tick();
      const r = await fetch(`${d.url}/readyz`);
      const body = (await r.json()) as { reason: string };
      assert.equal(r.status, 503);
      assert.match(body.reason, /cloud provider API did not answer/);
      const s = (await (await fetch(`${d.url}/api/status`)).json()) as StatusSnapshot;
      assert.equal(s.lastTick?.ok, false);
      assert.ok(s.lastTick?.errors.some((e) => e.startsWith('pool large: ')), JSON.stringify(s.lastTick?.errors));
      assert.equal(s.pools?.[0]?.lastTick?.ok, true, 'the other pool is fine');
      provider.list = list;
      provider.inventory = inventory;
      await d.tick();
      assert.equal((await fetch(`${d.url}/readyz`)).status, 200);
    } finally {
      await d.close();
    }
  });
});

describe('several pools: combining the pools’ figures', () => {
  const tick = (p: Partial<TickStatus>): TickStatus => ({
    mode: 'full',
    startedAt: 1000,
    finishedAt: 2000,
    durationMs: 1000,
    ok: true,
    errors: [],
    notes: [],
    woodpeckerOk: true,
    providerOk: true,
    ...p,
  });
  it('a tick is ok only when every pool’s was; errors and notes carry their pool; none until every pool ticked', () => {
    assert.equal(combineTicks([tick({}), null], ['a', 'b']), null);
    const t = combineTicks(
      [tick({ notes: ['warm'] }), tick({ startedAt: 1100, finishedAt: 2500, ok: false, providerOk: false, errors: ['listing failed', 'pool b: already tagged'] })],
      ['a', 'b'],
    );
    assert.deepEqual(t, {
      mode: 'full',
      startedAt: 1000,
      finishedAt: 2500,
      durationMs: 1500,
      ok: false,
      errors: ['pool b: listing failed', 'pool b: already tagged'],
      notes: ['pool a: warm'],
      woodpeckerOk: true,
      providerOk: false,
    });
  });
  it('the spend adds up; a price per server only when every pool has the same', () => {
    const cost = (perHour: number, total: number, since: number | null): CostStatus => ({
      currency: 'RUB',
      perHour,
      description: `preset ${perHour}`,
      parts: [],
      balance: null,
      total,
      since,
    });
    const balance = { amount: 900, currency: 'RUB', warnBelow: 500, low: false, at: 5 };
    assert.deepEqual(combineCosts([cost(7, 1, 50), cost(12, 2, 40)], balance), {
      currency: 'RUB',
      perHour: null,
      description: null,
      parts: [],
      balance,
      total: 3,
      since: 40,
    });
    const same = combineCosts([cost(7, 1, null), cost(7, 2, 60)], null);
    assert.deepEqual([same.perHour, same.description, same.total, same.since], [7, 'preset 7', 3, 60]);
  });
});
