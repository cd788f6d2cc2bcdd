import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../src/engine/planner.js';
import type { EngineConfig, EngineMemory, Observation, PlanMode, Policy } from '../../src/engine/types.js';
import type { WoodpeckerAgent } from '../../src/woodpecker/types.js';
import {
  HOUR,
  MIN,
  NOW,
  SEC,
  type Row,
  agent,
  config,
  creates,
  memory,
  n,
  rows,
  server,
  world,
} from './fixtures.js';

type Expect = readonly Row[] | { upstream: readonly Row[]; default: readonly Row[] };

interface Case {
  name: string;
  obs: Observation;
  cfg?: Partial<EngineConfig>;
  mem?: Partial<EngineMemory>;
  mode?: PlanMode;
  /** Expected actions, in order; one list when both policies agree. */
  expect: Expect;
  /** A note the plan must carry (both policies). */
  note?: RegExp;
}

const POLICIES: readonly Policy[] = ['upstream', 'default'];

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function expected(e: Expect, policy: Policy): readonly Row[] {
  return 'upstream' in e ? e[policy] : e;
}

/** Runs every case in both policies (the planner must not mutate what it observed). */
function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      for (const policy of POLICIES) {
        it(`${c.name} [${policy}]`, () => {
          const obs = deepFreeze(structuredClone(c.obs));
          const p = plan(obs, config({ ...c.cfg, policy }), memory(c.mem), c.mode ?? 'full');
          assert.deepEqual(rows(p.actions), expected(c.expect, policy));
          if (c.note) {
            const note = c.note;
            assert.ok(p.notes.some((x) => note.test(x)), `a note matching ${note}; got ${JSON.stringify(p.notes)}`);
          }
        });
      }
    }
  });
}

// Agents default to: created 30 min ago, contacted 5 s ago, last work 1 min ago (not idle), schedulable.
const IDLE = { work: null } as const; // never worked: idle for any idle timeout
const STALE = { contact: HOUR, work: HOUR } as const;

// ---- pool membership (reference §4.1, fixed: anchored and escaped) ---------------------------------------------

table('pool membership', [
  {
    name: 'pool 1: only its own agents, anchored at both ends',
    obs: world({
      agents: [
        agent(1, 'pool-1-agent-abcd', STALE),
        agent(2, 'x-pool-1-agent-y', STALE),
        agent(3, 'pool-10-agent-abcd', STALE),
        agent(4, 'pool-1-agent-agent-abcd', STALE), // pool `1-agent`'s agent
        agent(5, 'pool-1-agent-abcd-old', STALE),
        agent(6, 'static-agent', STALE),
      ],
    }),
    expect: [['remove-agent', 'pool-1-agent-abcd', 'stale']],
  },
  {
    name: 'pool 1-agent owns pool-1-agent-agent-*, not pool 1',
    cfg: { poolId: '1-agent' },
    obs: world({ agents: [agent(1, 'pool-1-agent-abcd', STALE), agent(2, 'pool-1-agent-agent-abcd', STALE)] }),
    expect: [['remove-agent', 'pool-1-agent-agent-abcd', 'stale']],
  },
  {
    name: 'regex metacharacters in the pool id are literal (a.b)',
    cfg: { poolId: 'a.b' },
    obs: world({ agents: [agent(1, 'pool-aXb-agent-abcd', STALE), agent(2, 'pool-a.b-agent-abcd', STALE)] }),
    expect: [['remove-agent', 'pool-a.b-agent-abcd', 'stale']],
  },
  {
    name: 'regex metacharacters in the pool id are literal (a+)',
    cfg: { poolId: 'a+' },
    obs: world({ agents: [agent(1, 'pool-aaa-agent-abcd', STALE), agent(2, 'pool-a+-agent-abcd', STALE)] }),
    expect: [['remove-agent', 'pool-a+-agent-abcd', 'stale']],
  },
  {
    name: 'a pool id that is an invalid regex works (x()',
    cfg: { poolId: 'x(' },
    obs: world({ agents: [agent(1, 'pool-x(-agent-abcd', STALE)] }),
    expect: [['remove-agent', 'pool-x(-agent-abcd', 'stale']],
  },
  {
    name: 'servers of other pools and foreign servers are never touched',
    obs: world({
      servers: [
        server(n('zzzz'), { age: HOUR }),
        server('pool-10-agent-zzzz', { age: HOUR }),
        server('x-pool-1-agent-zzzz', { age: HOUR }),
        server('pool-1-agent-agent-zzzz', { age: HOUR }),
        server('pool-10-agent-ffff', { age: HOUR, state: 'failed' }),
      ],
    }),
    expect: [['remove-server', n('zzzz'), 'agent-missing']],
  },
]);

// ---- scale up (reference §4.2, §4.4) -----------------------------------------------------------------------------

table('scale-up', [
  { name: 'pending work creates one agent per missing agent', obs: world({ pending: 3 }), expect: creates(3) },
  { name: 'workflows-per-agent 2: 3 pending need 2 agents', cfg: { workflowsPerAgent: 2 }, obs: world({ pending: 3 }), expect: creates(2) },
  { name: 'min-agents creates without work', cfg: { minAgents: 2 }, obs: world(), expect: creates(2, 'min-agents') },
  { name: 'max-agents caps the creates', cfg: { maxAgents: 3 }, obs: world({ pending: 20 }), expect: creates(3) },
  {
    name: 'a free slot on a static agent suppresses the scale-up',
    obs: world({ agents: [agent(50, 'static-1')], free: 1, pending: 1 }),
    expect: [],
  },
  {
    name: 'busy pool with a backlog grows by what it misses',
    obs: world({ agents: [agent(1, n('aaaa')), agent(2, n('bbbb'))], running: [1, 2], pending: 1 }),
    expect: creates(1),
  },
]);

// ---- reactivation (reference §4.4, fixed: only as many as needed) -------------------------------------------------

table('reactivation before creation', [
  {
    name: 'reactivates only as many drained agents as needed (lowest ids), the rest are removed as drained',
    obs: world({
      agents: [
        agent(3, n('cccc'), { drained: true, work: 30 * MIN }),
        agent(1, n('aaaa'), { drained: true, work: 30 * MIN }),
        agent(2, n('bbbb'), { drained: true, work: 30 * MIN }),
      ],
      pending: 2,
    }),
    expect: [
      ['reactivate', n('aaaa'), 'pending-work'],
      ['reactivate', n('bbbb'), 'pending-work'],
      ['remove-agent', n('cccc'), 'drained'],
    ],
  },
  {
    name: 'reactivates before it creates',
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true })], pending: 3 }),
    expect: [['reactivate', n('aaaa'), 'pending-work'], ...creates(2)],
  },
  {
    name: 'an agent an operator asked to drain is not reactivated',
    mem: { drainRequested: [n('aaaa')] },
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true }), agent(2, n('bbbb'), { drained: true })], pending: 1 }),
    expect: [['reactivate', n('bbbb'), 'pending-work']],
  },
  {
    name: 'min-agents reactivates a drained agent',
    cfg: { minAgents: 1 },
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true })] }),
    expect: [['reactivate', n('aaaa'), 'min-agents']],
  },
]);

table('reactivation: only live agents that no later stage removes', [
  {
    // Seen with a server delete that kept failing (HTTP 423): a dead drained agent was reactivated on every tick
    // ("reactivate X, then remove X") while a new workflow waited and a healthy drained agent stayed unused.
    name: 'dead drained agents (stale, failed/missing/unlisted server, never connected) are skipped; a healthy one is used',
    obs: world({
      agents: [
        agent(1, n('stal'), { drained: true, contact: 20 * MIN, work: 30 * MIN }),
        agent(2, n('fail'), { drained: true, work: 30 * MIN }),
        agent(3, n('nosv'), { drained: true, work: 30 * MIN }),
        agent(4, n('nevr'), { drained: true, contact: null, work: null }),
        agent(5, n('dele'), { drained: true, work: 30 * MIN }),
        agent(6, n('hlth'), { drained: true, work: 30 * MIN }),
      ],
      servers: [
        server(n('stal')),
        server(n('fail'), { state: 'failed' }),
        server(n('nevr')),
        server(n('dele'), { state: 'deleting' }),
        server(n('hlth')),
      ],
      pending: 1,
    }),
    expect: [
      ['reactivate', n('hlth'), 'pending-work'],
      ['remove-agent', n('fail'), 'server-failed'],
      ['delete-agent', n('nosv'), 'server-missing'],
      ['remove-agent', n('stal'), 'drained'],
      ['remove-agent', n('nevr'), 'drained'],
      ['remove-agent', n('dele'), 'drained'],
    ],
  },
  {
    name: 'no live drained agent: a new one is created instead, the dead one is removed',
    obs: world({ agents: [agent(1, n('stal'), { drained: true, contact: 20 * MIN, work: 30 * MIN })], pending: 1 }),
    expect: [...creates(1), ['remove-agent', n('stal'), 'drained']],
  },
  {
    name: 'a server list that could not be read: nothing is reactivated (its server may be gone)',
    obs: world({ agents: [agent(1, n('drnd'), { drained: true, work: 30 * MIN })], servers: 'unavailable', pending: 1 }),
    expect: [['remove-agent', n('drnd'), 'drained']],
  },
]);

// ---- drain (reference §4.5) ---------------------------------------------------------------------------------------

table('drain eligibility', [
  {
    name: 'a never-contacted agent is never drained; upstream removes the drained agent in the same tick',
    obs: world({ agents: [agent(1, n('boot'), { created: MIN, contact: null }), agent(2, n('idle'), IDLE)], free: 1 }),
    expect: {
      upstream: [
        ['drain', n('idle'), 'idle-timeout'],
        ['remove-agent', n('idle'), 'drained'],
      ],
      // default: the booting agent is capacity (delta -2), but only one agent is eligible; removal waits a tick
      default: [['drain', n('idle'), 'idle-timeout']],
    },
  },
  {
    name: 'per-second: idle timeout reached (>=, counted from last_work + 60 s) or never worked; recent work keeps the agent',
    obs: world({
      agents: [
        agent(1, n('rcnt'), { work: 5 * MIN }),
        agent(2, n('edge'), { work: 11 * MIN }),
        agent(3, n('nevr'), IDLE),
        agent(4, n('almo'), { work: 11 * MIN - SEC }),
      ],
      free: 4,
    }),
    expect: {
      upstream: [
        ['drain', n('edge'), 'idle-timeout'],
        ['drain', n('nevr'), 'idle-timeout'],
        ['remove-agent', n('edge'), 'drained'],
        ['remove-agent', n('nevr'), 'drained'],
      ],
      default: [
        ['drain', n('edge'), 'idle-timeout'],
        ['drain', n('nevr'), 'idle-timeout'],
      ],
    },
    note: /could be drained but none more is eligible/,
  },
  {
    name: 'one agent per needed drain, in ascending id order',
    cfg: { minAgents: 2 },
    obs: world({
      agents: [agent(4, n('dddd'), IDLE), agent(2, n('bbbb'), IDLE), agent(3, n('cccc'), IDLE), agent(1, n('aaaa'), IDLE)],
      free: 4,
    }),
    expect: {
      upstream: [
        ['drain', n('aaaa'), 'idle-timeout'],
        ['drain', n('bbbb'), 'idle-timeout'],
        ['remove-agent', n('aaaa'), 'drained'],
        ['remove-agent', n('bbbb'), 'drained'],
      ],
      default: [
        ['drain', n('aaaa'), 'idle-timeout'],
        ['drain', n('bbbb'), 'idle-timeout'],
      ],
    },
  },
  {
    name: 'hourly: drained only inside the teardown window, recent work ignored',
    cfg: { billingModel: 'hourly' },
    obs: world({
      agents: [
        agent(1, n('mid0'), { created: 30 * MIN, work: null }),
        agent(2, n('win1'), { created: 58 * MIN, work: MIN }),
        agent(3, n('win2'), { created: 2 * HOUR - 2 * MIN, work: null }),
        agent(4, n('new0'), { created: 0, work: null }),
      ],
      free: 4,
    }),
    expect: {
      upstream: [
        ['drain', n('win1'), 'billing-window'],
        ['drain', n('win2'), 'billing-window'],
        ['remove-agent', n('win1'), 'drained'],
        ['remove-agent', n('win2'), 'drained'],
      ],
      default: [
        ['drain', n('win1'), 'billing-window'],
        ['drain', n('win2'), 'billing-window'],
      ],
    },
  },
  {
    name: 'an agent with a long-running task: upstream drains it (and keeps it), default drains an idle one',
    obs: world({
      agents: [agent(1, n('busy'), { work: 30 * MIN }), agent(2, n('idle'), { work: 30 * MIN })],
      free: 1,
      running: [1],
    }),
    expect: {
      upstream: [['drain', n('busy'), 'idle-timeout']],
      default: [['drain', n('idle'), 'idle-timeout']],
    },
  },
  {
    name: 'above max-agents: drain reason says so; default never drains busy agents',
    cfg: { maxAgents: 2 },
    obs: world({
      agents: [agent(1, n('aaaa'), { work: 30 * MIN }), agent(2, n('bbbb'), { work: 30 * MIN }), agent(3, n('cccc'), { work: 30 * MIN })],
      running: [1, 2, 3],
    }),
    expect: { upstream: [['drain', n('aaaa'), 'above-max-agents']], default: [] },
  },
  {
    name: 'pool at min-agents: nothing drained even with idle slots',
    cfg: { minAgents: 1 },
    obs: world({ agents: [agent(1, n('aaaa'), IDLE)], free: 1 }),
    expect: [],
  },
]);

// ---- idle time: last_work lags the end of work by up to a minute (real server, updateAgentLastWorkDelay) --------

table('idle time counts from the end of work, not from last_work', [
  {
    // The real server left last_work at the start of a 30 s workflow; with a 20 s idle timeout the agent was
    // drained 1 s after the workflow ended.
    name: 'not drained 1 s after a 30 s workflow with a 20 s idle timeout (last_work = its start)',
    cfg: { agentIdleTimeout: 20 * SEC },
    obs: world({ agents: [agent(1, n('aaaa'), { work: 31 * SEC })], free: 1 }),
    expect: [],
    note: /could be drained but none more is eligible/,
  },
  {
    name: 'drained once last_work + 60 s is older than the idle timeout',
    cfg: { agentIdleTimeout: 20 * SEC },
    obs: world({ agents: [agent(1, n('aaaa'), { work: 80 * SEC })], free: 1 }),
    expect: {
      upstream: [
        ['drain', n('aaaa'), 'idle-timeout'],
        ['remove-agent', n('aaaa'), 'drained'],
      ],
      default: [['drain', n('aaaa'), 'idle-timeout']],
    },
  },
  {
    name: 'an agent this process saw running a task 5 s ago is not idle, whatever last_work says',
    cfg: { agentIdleTimeout: MIN },
    mem: { busySeenAt: { [n('aaaa')]: NOW - 5 * SEC } },
    obs: world({ agents: [agent(1, n('aaaa'), { work: 30 * MIN }), agent(2, n('drnd'), { drained: true, work: 30 * MIN })], free: 1 }),
    expect: [['remove-agent', n('drnd'), 'drained']],
  },
  {
    name: 'a drained agent seen busy 30 s ago is not removed yet with a 1 m idle timeout',
    cfg: { agentIdleTimeout: MIN },
    mem: { busySeenAt: { [n('drnd')]: NOW - 30 * SEC } },
    obs: world({ agents: [agent(1, n('drnd'), { drained: true, work: 30 * MIN })] }),
    expect: [],
  },
]);

// ---- dangling agents and servers (reference §4.7, with the grace period) -----------------------------------------

table('dangling clean-up', [
  {
    name: 'servers without an agent: young kept, at/after the grace removed, deleting skipped',
    obs: world({
      servers: [
        server(n('yung'), { age: MIN, state: 'booting' }),
        server(n('old1'), { age: 5 * MIN }),
        server(n('edge'), { age: 2 * MIN }),
        server(n('dele'), { age: HOUR, state: 'deleting' }),
      ],
    }),
    expect: [
      ['remove-server', n('old1'), 'agent-missing'],
      ['remove-server', n('edge'), 'agent-missing'],
    ],
    note: /younger than the grace period/,
  },
  {
    name: 'agents without a server: young kept, old deleted, busy kept',
    obs: world({
      agents: [
        agent(1, n('yung'), { created: MIN, contact: null }),
        agent(2, n('old1')),
        agent(3, n('busy')),
        agent(4, n('edge'), { created: 2 * MIN, contact: null }),
        agent(5, n('cnt0'), { created: null, contact: MIN }), // created unknown: last contact is the age
        agent(6, n('zero'), { created: null, contact: null }), // also stale; deleted once only
      ],
      servers: [],
      running: [3],
    }),
    expect: [
      ['delete-agent', n('old1'), 'server-missing'],
      ['delete-agent', n('edge'), 'server-missing'],
      ['delete-agent', n('zero'), 'server-missing'],
    ],
    note: /has no server but runs 1 task/,
  },
  {
    name: 'a server list that could not be read deletes no agent (stale and drained removals still run)',
    obs: world({
      agents: [agent(1, n('hlth')), agent(2, n('stal'), STALE), agent(3, n('drnd'), { drained: true, work: 30 * MIN })],
      servers: 'unavailable',
    }),
    expect: [
      ['remove-agent', n('stal'), 'stale'],
      ['remove-agent', n('drnd'), 'drained'],
    ],
    note: /could not be read/,
  },
  {
    name: 'the list bug is fixed: after a dangling delete, stale and drained stages still see the others',
    obs: world({
      agents: [
        agent(1, n('nosv')),
        agent(2, n('stal'), STALE),
        agent(3, n('drnd'), { drained: true, work: 30 * MIN }),
        agent(4, n('hlth')),
      ],
      withoutServer: [n('nosv')],
    }),
    expect: [
      ['delete-agent', n('nosv'), 'server-missing'],
      ['remove-agent', n('stal'), 'stale'],
      ['remove-agent', n('drnd'), 'drained'],
    ],
  },
]);

// ---- stale agents (reference §4.8) -------------------------------------------------------------------------------

table('stale clean-up', [
  {
    name: 'last contact (or creation) older than the inactivity timeout, strictly',
    cfg: { minAgents: 8 }, // no drains: the default policy would see the booting agent as excess capacity
    obs: world({
      agents: [
        agent(1, n('c11m'), { contact: 11 * MIN, work: 20 * MIN }),
        agent(2, n('c10m'), { contact: 10 * MIN, work: 20 * MIN }),
        agent(3, n('c10s'), { contact: 10 * MIN + SEC, work: 20 * MIN }),
        agent(4, n('nc11'), { created: 11 * MIN, contact: null, work: null }),
        agent(5, n('nc09'), { created: 9 * MIN, contact: null, work: null }),
        agent(6, n('zero'), { created: null, contact: null, work: null }),
        agent(7, n('busy'), { contact: HOUR, work: HOUR }),
        agent(8, n('work'), { contact: HOUR, work: 5 * MIN }),
        agent(9, n('drnd'), { contact: HOUR, drained: true }),
      ],
      running: [7],
    }),
    expect: [
      ['remove-agent', n('c11m'), 'stale'],
      ['remove-agent', n('c10s'), 'stale'],
      ['remove-agent', n('nc11'), 'never-connected'],
      ['remove-agent', n('zero'), 'never-connected'],
    ],
    note: /stale but still processing workload/,
  },
  {
    name: 'a stale agent drained as excess capacity is removed as stale only by upstream in the same tick',
    obs: world({
      agents: [agent(1, n('stal'), { contact: 11 * MIN, work: 20 * MIN }), agent(2, n('boot'), { created: MIN, contact: null })],
    }),
    expect: {
      upstream: [['remove-agent', n('stal'), 'stale']],
      // the booting agent is capacity, so the stale one is excess: drained now, removed as drained next tick
      default: [['drain', n('stal'), 'idle-timeout']],
    },
  },
  {
    name: 'hourly: recent work does not keep a stale agent',
    cfg: { billingModel: 'hourly' },
    obs: world({ agents: [agent(1, n('work'), { contact: HOUR, work: 5 * MIN })] }),
    expect: [['remove-agent', n('work'), 'stale']],
  },
]);

// ---- drained agents (reference §4.9) -----------------------------------------------------------------------------

table('drained removal', [
  {
    name: 'per-second: removed when idle long enough and without tasks',
    obs: world({
      agents: [
        agent(1, n('rcnt'), { drained: true, work: 5 * MIN }),
        agent(2, n('idle'), { drained: true, work: 20 * MIN }),
        agent(3, n('busy'), { drained: true, work: null }),
      ],
      running: [3],
    }),
    expect: [['remove-agent', n('idle'), 'drained']],
    note: new RegExp(`drained agent ${n('busy')} is still processing`),
  },
  {
    name: 'hourly: removed only inside the teardown window',
    cfg: { billingModel: 'hourly' },
    obs: world({
      agents: [
        agent(1, n('mid0'), { drained: true, created: 30 * MIN }),
        agent(2, n('win1'), { drained: true, created: 58 * MIN }),
        agent(3, n('busy'), { drained: true, created: 2 * HOUR - MIN }),
        agent(4, n('cr00'), { drained: true, created: null }),
      ],
      running: [3],
    }),
    expect: [['remove-agent', n('win1'), 'drained']],
  },
]);

// ---- failed servers, back-off, admin controls, modes -------------------------------------------------------------

table('failed servers', [
  {
    name: 'failed servers are removed with their agent; a busy agent is kept',
    obs: world({
      agents: [agent(1, n('fail')), agent(2, n('busy'))],
      servers: [
        server(n('fail'), { state: 'failed' }),
        server(n('busy'), { state: 'failed' }),
        server(n('gone'), { age: MIN, state: 'failed' }),
      ],
      running: [2],
    }),
    expect: [
      ['remove-agent', n('fail'), 'server-failed'],
      ['remove-server', n('gone'), 'server-failed'],
    ],
    note: new RegExp(`server ${n('busy')} is no_paid but its agent still runs tasks`),
  },
]);

table('back-off', [
  {
    name: 'back-off blocks creates (reactivation still happens)',
    mem: { provisionFailures: 2, createBlockedUntil: NOW + MIN, lastFailureAt: NOW - MIN },
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true })], pending: 3 }),
    expect: [['reactivate', n('aaaa'), 'pending-work']],
    note: /held back: 2 failed provision\(s\), back-off for 60s more/,
  },
  {
    name: "creates wait for the provider's rate limit (Retry-After); reactivation still happens",
    mem: { createRateLimitedUntil: NOW + 30 * SEC },
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true })], pending: 3 }),
    expect: [['reactivate', n('aaaa'), 'pending-work']],
    note: /creates wait for the provider's rate limit until 2026-01-15T12:00:30\.000Z/,
  },
  {
    name: 'creates resume once Retry-After has passed',
    mem: { createRateLimitedUntil: NOW },
    obs: world({ pending: 1 }),
    expect: creates(1),
  },
  {
    name: 'creates resume when the back-off has run out',
    mem: { provisionFailures: 2, createBlockedUntil: NOW, lastFailureAt: NOW - MIN },
    obs: world({ pending: 2 }),
    expect: creates(2),
  },
]);

table('admin controls', [
  {
    name: 'paused: no scale actions, clean-up still runs',
    mem: { paused: true },
    obs: world({
      agents: [
        agent(1, n('hlth')),
        agent(2, n('stal'), STALE),
        agent(3, n('drnd'), { drained: true, work: 30 * MIN }),
      ],
      extraServers: [server(n('orph'), { age: HOUR })],
      pending: 3,
    }),
    expect: [
      ['remove-server', n('orph'), 'agent-missing'],
      ['remove-agent', n('stal'), 'stale'],
      ['remove-agent', n('drnd'), 'drained'],
    ],
    note: /paused by an operator; would change the pool by 3/,
  },
  {
    name: 'paused: idle capacity is not drained',
    mem: { paused: true },
    obs: world({ agents: [agent(1, n('aaaa'), IDLE), agent(2, n('bbbb'), IDLE)], free: 2 }),
    expect: [],
  },
  {
    name: 'cordoned agents are never drained or removed',
    mem: { cordoned: [n('idle'), n('stal'), n('drnd'), n('fail'), n('nosv')] },
    obs: world({
      agents: [
        agent(1, n('idle'), IDLE),
        agent(2, n('stal'), { ...STALE, work: null }),
        agent(3, n('drnd'), { drained: true, work: null }),
        agent(4, n('fail'), IDLE),
        agent(5, n('nosv'), IDLE),
        agent(6, n('free'), IDLE),
      ],
      servers: [
        server(n('idle')),
        server(n('stal')),
        server(n('drnd')),
        server(n('fail'), { state: 'failed' }),
        server(n('free')),
      ],
      free: 4,
    }),
    expect: {
      upstream: [
        ['drain', n('free'), 'idle-timeout'],
        ['remove-agent', n('free'), 'drained'],
      ],
      default: [['drain', n('free'), 'idle-timeout']],
    },
  },
  {
    name: 'admin drain drains an agent even at min-agents; unknown names are ignored',
    cfg: { minAgents: 2 },
    mem: { drainRequested: [n('aaaa'), n('nope')] },
    obs: world({ agents: [agent(1, n('aaaa'), IDLE), agent(2, n('bbbb'))], free: 1 }),
    expect: {
      upstream: [
        ['drain', n('aaaa'), 'admin-drain'],
        ['remove-agent', n('aaaa'), 'drained'],
      ],
      default: [['drain', n('aaaa'), 'admin-drain']],
    },
  },
  {
    name: 'an admin drain of an already drained agent is not repeated',
    mem: { drainRequested: [n('aaaa')] },
    obs: world({ agents: [agent(1, n('aaaa'), { drained: true })] }),
    expect: [],
  },
]);

table('scale-up mode (queue poll)', [
  {
    name: 'only reactivate and create, no clean-up',
    mode: 'scale-up',
    obs: world({
      agents: [
        agent(1, n('drnd'), { drained: true, work: 30 * MIN }),
        agent(2, n('stal'), STALE),
        agent(3, n('nosv')),
        agent(4, n('fail')),
      ],
      servers: [server(n('drnd')), server(n('stal')), server(n('fail'), { state: 'failed' }), server(n('orph'), { age: HOUR })],
      pending: 3,
    }),
    expect: [['reactivate', n('drnd'), 'pending-work'], ...creates(2)],
  },
  {
    name: 'excess capacity drains nothing',
    mode: 'scale-up',
    obs: world({ agents: [agent(1, n('aaaa'), IDLE), agent(2, n('bbbb'), IDLE)], free: 2 }),
    expect: [],
  },
]);

table('max-agents counts owned servers and drained agents (both policies)', [
  {
    name: 'an admin-drained agent and a young orphan server occupy two of three slots',
    cfg: { maxAgents: 3 },
    mem: { drainRequested: [n('drnd')] },
    obs: world({
      agents: [agent(1, n('drnd'), { drained: true })],
      extraServers: [server(n('orph'), { age: MIN, state: 'booting' })],
      pending: 5,
    }),
    expect: creates(1),
    note: /create limited to 1 of 3: 2 server\(s\)\/agent\(s\) already count against max-agents 3/,
  },
  {
    name: 'the pool already fills max-agents with servers: no create at all',
    cfg: { maxAgents: 2 },
    obs: world({ extraServers: [server(n('orp1'), { age: MIN }), server(n('orp2'), { age: MIN })], pending: 2 }),
    expect: [],
  },
  {
    name: 'an unknown server list holds every create back (max-agents cannot be checked)',
    obs: world({ servers: 'unavailable', pending: 2 }),
    expect: [],
    note: /held back: the provider server list is unknown/,
  },
]);

// ---- upstream #137: booting agents and a persistent backlog, over several ticks ---------------------------------

describe('booting agents stop repeated creates (upstream #137)', () => {
  /** Runs ticks one minute apart; every create becomes an agent that is still booting (never contacted). */
  function simulate(policy: Policy, ticks: number): number[] {
    const cfg = config({ policy, maxAgents: 5 });
    let agents: WoodpeckerAgent[] = [];
    const perTick: number[] = [];
    for (let t = 0; t < ticks; t++) {
      const now = NOW + t * MIN;
      const obs = world({ now, agents, pending: 2 });
      const p = plan(obs, cfg, memory(), 'full');
      const kinds = p.actions.map((a) => a.kind);
      assert.ok(kinds.every((k) => k === 'create'), `tick ${t}: only creates, got ${kinds.join(',')}`);
      perTick.push(kinds.length);
      agents = [
        ...agents,
        ...kinds.map((_, i) => agent(agents.length + i + 1, n(`t${t}n${i}`), { now, created: 0, contact: null })),
      ];
    }
    return perTick;
  }

  it('upstream keeps creating on every tick until max-agents', () => {
    assert.deepEqual(simulate('upstream', 5), [2, 2, 1, 0, 0]);
  });

  it('default creates once and waits for the booting agents', () => {
    assert.deepEqual(simulate('default', 5), [2, 0, 0, 0, 0]);
  });
});

describe('plan summary', () => {
  it('reports the numbers behind the decision', () => {
    const obs = world({
      agents: [
        agent(1, n('boot'), { created: MIN, contact: null }),
        agent(2, n('busy')),
        agent(3, n('drnd'), { drained: true }),
      ],
      extraServers: [server(n('fail'), { age: MIN, state: 'failed' })],
      running: [2],
      pending: 3,
    });
    const up = plan(obs, config({ policy: 'upstream' }), memory()).summary;
    const def = plan(obs, config({ policy: 'default' }), memory()).summary;
    assert.deepEqual(
      { ...up, servers: { ...up.servers } },
      {
        poolAgents: 3,
        active: 2,
        drained: 1,
        booting: 1,
        servers: { booting: 0, running: 3, failed: 1, deleting: 0 },
        freeSlots: 0,
        runningTasks: 1,
        pendingTasks: 3,
        available: 1,
        required: 4,
        delta: 3,
        desired: 5,
      },
    );
    assert.equal(def.available, 2);
    assert.equal(def.delta, 2);
    assert.equal(def.desired, 4);
  });
});

describe('plan with a pool demand (several pools: assignDemand)', () => {
  // The queue says 3 pending tasks, but none is this pool's: it neither creates nor keeps its idle agent for them.
  const idleOne = (): Observation => world({ agents: [agent(1, n('aaaa'), IDLE)], free: 1, pending: 3 });
  const cases: { name: string; obs: Observation; expect: readonly Row[] }[] = [
    { name: 'without a demand the queue counts (one pool)', obs: idleOne(), expect: creates(2) },
    {
      name: "another pool's pending work neither creates nor keeps an idle agent",
      obs: { ...idleOne(), demand: { pending: 0, running: 0, free: 1 } },
      expect: [
        ['drain', n('aaaa'), 'idle-timeout'],
        ['remove-agent', n('aaaa'), 'drained'],
      ],
    },
    {
      name: "the pool's own pending work creates, the others' does not",
      obs: { ...idleOne(), demand: { pending: 2, running: 0, free: 1 } },
      expect: creates(1),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = plan(deepFreeze(c.obs), config({ policy: 'upstream', agentIdleTimeout: 0 }), memory());
      assert.deepEqual(rows(p.actions), c.expect);
      if (c.obs.demand) assert.equal(p.summary.pendingTasks, c.obs.demand.pending);
    });
  }
});
