import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initialMemory } from '../../src/engine/types.js';
import { formatStatus } from '../../src/cli/admin.js';
import { createStatusTracker } from '../../src/observability/status.js';
import type { AgentState } from '../../src/observability/status.js';
import {
  MIN,
  SECRET_AGENT_TOKEN,
  T0,
  nm,
  agent,
  config,
  manualClock,
  queueOf,
  report,
  result,
  server,
  syntheticRun,
  task,
} from './fixtures.js';

const sec = (ms: number): number => Math.floor(ms / 1000);
const PRICE = { perHour: 10, currency: 'RUB', description: 'preset 2453 (2 CPU / 4 GB)' };

describe('status tracker', () => {
  it('derives agent states, servers, queue and pool from a tick', () => {
    const clock = manualClock(T0 + 30_000);
    const st = createStatusTracker({ clock, config, price: PRICE });
    const contact = sec(T0 - 5000);
    const memory = { ...initialMemory, cordoned: [nm('cord')], drainRequested: [nm('idle')] };
    st.observeTick(
      report({
        now: T0,
        memory,
        agents: [
          agent({ id: 1, name: nm('idle'), last_contact: contact, created: sec(T0 - 60 * MIN) }),
          agent({ id: 2, name: nm('busy'), last_contact: contact }),
          agent({ id: 3, name: nm('boot'), created: sec(T0 - 2 * MIN) }),
          agent({ id: 4, name: nm('drnd'), last_contact: contact, no_schedule: true }),
          agent({ id: 5, name: nm('cord'), last_contact: contact }),
          agent({ id: 6, name: nm('stal'), last_contact: sec(T0 - 30 * MIN) }),
          agent({ id: 7, name: 'my-static-agent', last_contact: contact }),
        ],
        queue: queueOf({
          pending: [task('p1', { created: sec(T0 - 90_000) }), task('p2')],
          running: [task('r1', { agent_id: 2 }), task('r2', { agent_id: 2 })],
          free: 3,
        }),
        servers: [
          server(nm('idle'), T0 - 60 * MIN),
          server(nm('boot'), T0 - 2 * MIN, { state: 'booting', status: 'installing', publicIpv4: undefined }),
          server(nm('lost'), T0 - 20 * MIN),
        ],
      }),
    );
    const s = st.snapshot();
    const states = Object.fromEntries(s.agents.map((a) => [a.name, a.state])) as Record<string, AgentState>;
    assert.deepEqual(states, {
      [nm('idle')]: 'idle',
      [nm('busy')]: 'busy',
      [nm('boot')]: 'booting',
      [nm('drnd')]: 'drained',
      [nm('cord')]: 'cordoned',
      [nm('stal')]: 'stale',
    });
    const idle = s.agents.find((a) => a.name === nm('idle'));
    assert.equal(idle?.ageMs, 60 * MIN + 30_000);
    assert.equal(idle?.drainRequested, true);
    assert.deepEqual(idle?.server, { state: 'running', status: 'on', publicIpv4: '203.0.113.10' });
    assert.equal(s.agents.find((a) => a.name === nm('busy'))?.runningTasks, 2);
    assert.equal(s.agents.find((a) => a.name === nm('boot'))?.lastContactAt, null);
    assert.deepEqual(
      s.servers.map((x) => [x.name, x.hasAgent]),
      [
        [nm('idle'), true],
        [nm('lost'), false],
        [nm('boot'), true],
      ],
    );
    assert.deepEqual(s.queue, { pending: 2, waitingOnDeps: 0, running: 2, freeSlots: 3, paused: false, oldestPendingAgeMs: 120_000 });
    assert.equal(s.pool.poolId, '1');
    assert.equal(s.pool.maxAgents, 5);
    assert.equal(s.pool.billingModel, 'hourly');
    assert.deepEqual(s.admin.cordoned, [nm('cord')]);
    assert.equal(s.cost.currency, 'RUB');
    assert.equal(s.lastFullTick?.woodpeckerOk, true);
    assert.equal(s.lastFullTick?.providerOk, true);
    assert.equal(s.series.length, 1);
    assert.equal(s.series[0]?.busy, 1);
    assert.equal(s.series[0]?.pending, 2);
    assert.ok(!JSON.stringify(s).includes(SECRET_AGENT_TOKEN), 'no agent token in the snapshot');
  });

  it("shows the pool after the tick's actions, not the observation taken before them", () => {
    const clock = manualClock(T0 + 2_000);
    const st = createStatusTracker({ clock, config });
    const contact = sec(T0 - 5000);
    const why = { code: 'pending-work' as const, message: 'test' };
    const created = agent({ id: 9, name: nm('newa'), created: sec(T0 + 1000) });
    st.observeTick(
      report({
        now: T0,
        agents: [
          agent({ id: 1, name: nm('idle'), last_contact: contact }),
          agent({ id: 2, name: nm('stal'), last_contact: sec(T0 - 30 * MIN) }),
        ],
        servers: [server(nm('idle'), T0 - 60 * MIN), server(nm('stal'), T0 - 60 * MIN)],
        results: [
          result({ kind: 'create', reason: why }, {
            name: nm('newa'),
            agent: created,
            server: server(nm('newa'), T0 + 1000, { state: 'booting', status: 'installing' }),
          }),
          result({ kind: 'drain', agent: { id: 1, name: nm('idle') }, reason: why }, { name: nm('idle') }),
          result({ kind: 'remove-agent', agent: { id: 2, name: nm('stal') }, reason: why }, {
            name: nm('stal'),
            agentGone: true,
            serverGone: true,
          }),
        ],
      }),
    );
    const s = st.snapshot();
    assert.deepEqual(
      s.agents.map((a) => [a.name, a.state]),
      [
        [nm('idle'), 'drained'],
        [nm('newa'), 'booting'],
      ],
    );
    assert.deepEqual(
      s.servers.map((x) => [x.name, x.state, x.hasAgent]),
      [
        [nm('idle'), 'running', true],
        [nm('newa'), 'booting', true],
      ],
    );
    assert.equal(s.series.at(-1)?.servers, 2);
  });

  it('records decisions with reasons, most recent first, bounded', () => {
    const clock = manualClock();
    const st = createStatusTracker({ clock, maxDecisions: 3 });
    const why = (n: number) => ({ code: 'pending-work' as const, message: `need ${n}` });
    for (let i = 0; i < 5; i++) {
      st.observeTick(
        report({
          now: T0 + i * MIN,
          results: [result({ kind: 'create', reason: why(i) }, { name: `pool-1-agent-n${i}` })],
        }),
      );
    }
    const d = st.decisions(10);
    assert.equal(d.length, 3);
    assert.deepEqual(
      d.map((x) => [x.agent, x.reason.message, x.at]),
      [
        ['pool-1-agent-n4', 'need 4', T0 + 4 * MIN],
        ['pool-1-agent-n3', 'need 3', T0 + 3 * MIN],
        ['pool-1-agent-n2', 'need 2', T0 + 2 * MIN],
      ],
    );
    assert.equal(st.decisions(1).length, 1);
    assert.equal(d[0]?.action, 'create');
    assert.equal(d[0]?.outcome, 'done');
  });

  it('scrubs credentials out of messages and errors', () => {
    const st = createStatusTracker({ clock: manualClock() });
    st.observeTick(
      report({
        now: T0,
        errors: ['timeweb said: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.secret'],
        results: [
          result(
            { kind: 'create', reason: { code: 'pending-work', message: 'work' } },
            { name: nm('x'), outcome: 'failed', detail: 'POST failed: token=abcdef123456' },
          ),
        ],
      }),
    );
    const text = JSON.stringify(st.snapshot());
    assert.ok(!text.includes('eyJhbGciOiJIUzI1NiJ9'));
    assert.ok(!text.includes('abcdef123456'));
    assert.ok(text.includes('[redacted]'));
  });

  it('keeps the time series bounded to the window and replaces provisional points closer than the resolution', () => {
    const st = createStatusTracker({ clock: manualClock(), seriesWindowMs: 60 * MIN, seriesResolutionMs: 15_000 });
    for (let i = 0; i < 180; i++) st.observeTick(report({ now: T0 + i * MIN }));
    st.observeTick(report({ now: T0 + 179 * MIN + 5000, mode: 'scale-up', queue: queueOf({ pending: [task('x')] }) }));
    const s = st.snapshot();
    // Window: the hour before the newest point (T0 + 179 min + 5 s): minutes 120…179, then the scale-up tick.
    assert.equal(s.series.length, 61);
    assert.equal(s.series[0]?.t, T0 + 120 * MIN);
    const lastPoint = s.series[s.series.length - 1];
    assert.equal(lastPoint?.t, T0 + 179 * MIN + 5000);
    assert.equal(lastPoint?.pending, 1);
    // A tick 5 s later replaces that provisional point (it is less than 15 s after minute 179).
    st.observeTick(report({ now: T0 + 179 * MIN + 10_000, mode: 'scale-up' }));
    const after = st.snapshot().series;
    assert.equal(after.length, 61);
    assert.equal(after[after.length - 1]?.t, T0 + 179 * MIN + 10_000);
  });

  it('thins fast ticks to one point per resolution step, keeping the newest', () => {
    const st = createStatusTracker({ clock: manualClock(), seriesResolutionMs: 15_000 });
    for (let i = 0; i <= 60; i++) st.observeTick(report({ now: T0 + i * 1000, queue: queueOf({ pending: i === 60 ? [task('x')] : [] }) }));
    const ts = st.snapshot().series.map((p) => (p.t - T0) / 1000);
    assert.deepEqual(ts, [0, 15, 30, 45, 60]);
    assert.equal(st.snapshot().series[4]?.pending, 1);
  });

  it('accumulates cost in the series and the snapshot', () => {
    const st = createStatusTracker({ clock: manualClock(), price: () => PRICE });
    const srv = [server(nm('aaaa'), T0), server(nm('bbbb'), T0), server(nm('cccc'), T0)];
    st.observeTick(report({ now: T0, servers: srv }));
    st.observeTick(report({ now: T0 + 30 * MIN, servers: srv }));
    st.observeTick(report({ now: T0 + 60 * MIN, servers: [] }));
    const s = st.snapshot();
    assert.equal(s.cost.total, 30);
    assert.equal(s.cost.perHour, 10);
    assert.equal(s.cost.since, T0);
    assert.deepEqual(
      s.series.map((p) => p.cost),
      [0, 15, 30],
    );
  });

  it('reports which API failed in the last full tick and keeps the last good picture', () => {
    const st = createStatusTracker({ clock: manualClock(), config });
    st.observeTick(report({ now: T0, agents: [agent({ id: 1, name: nm('aaaa'), last_contact: sec(T0) })] }));
    st.observeTick(report({ now: T0 + MIN, servers: undefined, agents: [agent({ id: 1, name: nm('aaaa'), last_contact: sec(T0) })] }));
    let last = st.lastFullTick();
    assert.equal(last?.woodpeckerOk, true);
    assert.equal(last?.providerOk, false);
    st.observeTick(report({ now: T0 + 2 * MIN, failed: true }));
    last = st.lastFullTick();
    assert.equal(last?.woodpeckerOk, false);
    assert.equal(last?.ok, false);
    const s = st.snapshot();
    assert.equal(s.agents.length, 1, 'agents from the last tick that could observe');
    assert.equal(s.lastTick?.errors.length, 1);
    assert.deepEqual([...st.knownAgents()], [nm('aaaa')]);
  });

  it('uses the live engine memory when given', () => {
    const st = createStatusTracker({ clock: manualClock(), config });
    st.observeTick(report({ now: T0, agents: [agent({ id: 1, name: nm('aaaa'), last_contact: sec(T0) })] }));
    const s = st.snapshot({ ...initialMemory, paused: true, cordoned: [nm('aaaa')] });
    assert.equal(s.admin.paused, true);
    assert.equal(s.agents[0]?.state, 'cordoned');
  });

  it('builds a consistent picture over a few synthetic hours', () => {
    const st = createStatusTracker({ clock: manualClock(T0 + 240 * MIN), config, price: PRICE });
    for (const r of syntheticRun(T0, 240)) st.observeTick(r);
    const s = st.snapshot();
    assert.equal(s.series.length, 240);
    for (const p of s.series) assert.equal(p.agents, p.booting + p.idle + p.busy + p.drained + p.stale);
    assert.ok(s.decisions.length > 0 && s.decisions.length <= 50);
    assert.ok(s.cost.total > 0);
  });
});

describe('status: foreign look-alikes', () => {
  it('are listed with the reason, not as pool agents; the installation id is shown (api, CLI)', () => {
    const clock = manualClock(T0 + 30_000);
    const st = createStatusTracker({ clock, config });
    const contact = sec(T0 - 5000);
    st.observeTick(
      report({
        now: T0,
        agents: [
          agent({ id: 1, name: nm('idle'), last_contact: contact }),
          agent({ id: 2, name: 'pool-1-agent-manual', last_contact: contact }),
          agent({ id: 3, name: 'pool-1-agent-AbCd', last_contact: contact }),
        ],
        servers: [server(nm('idle'), T0 - 60 * MIN)],
      }),
    );
    const s = st.snapshot();
    assert.deepEqual(s.agents.map((a) => a.name), [nm('idle')]);
    assert.deepEqual(
      s.foreign.map((f) => [f.kind, f.name, f.id]),
      [
        ['agent', 'pool-1-agent-manual', '2'],
        ['agent', 'pool-1-agent-AbCd', '3'],
      ],
    );
    assert.match(s.foreign[0]?.why ?? '', /does not carry this installation's tag/);
    assert.equal(s.pool.installationId, config.installationId);
    assert.deepEqual([...st.knownAgents()], [nm('idle')], 'admin controls only know our agents');
    const text = formatStatus(s);
    assert.match(text, new RegExp(`\nInstallation: ${config.installationId} `));
    assert.match(text, /Foreign look-alikes .*never drained, deleted or counted/);
    assert.match(text, /agent\s+pool-1-agent-manual\s+2\s+named like this pool/);
  });
});

describe('status: the budget line', () => {
  const snapshotWith = (budget: NonNullable<NonNullable<ReturnType<ReturnType<typeof createStatusTracker>['snapshot']>['summary']>['budget']>) => {
    const st = createStatusTracker({ clock: manualClock(T0), config, price: PRICE });
    st.observeTick(report({ now: T0, agents: [], queue: queueOf({}), servers: [] }));
    const s = st.snapshot();
    assert.ok(s.summary, 'a tick gives a plan summary');
    return formatStatus({ ...s, summary: { ...s.summary, budget } });
  };
  const base = { currency: 'RUB', spentDay: 3, spentMonth: 40, room: 1, exhausted: false };

  it('one pool: its spend against the caps', () => {
    assert.match(snapshotWith({ ...base, daily: 10, monthly: 300 }), /Budget: 3\.00 of 10 RUB today, 40\.00 of 300 RUB this month\n/);
  });

  it('several pools: the daemon-wide cap against every pool\'s spend, the pool\'s own cap against its own', () => {
    const text = snapshotWith({ ...base, daily: 10, others: { spentDay: 5, spentMonth: 60 }, pool: { daily: 4 } });
    assert.match(text, /Budget: 8\.00 \(this pool 3\.00\) of 10 RUB for all pools today, 3\.00 of this pool's 4 today\n/);
  });
});
