import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execute, type ExecutorDeps } from '../../src/engine/executor.js';
import { isOurAgentName, newAgentName, poolNamePattern } from '../../src/engine/pool.js';
import type { Action, Reason } from '../../src/engine/types.js';
import { RateLimitedError, type DeployAgent } from '../../src/providers/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { RandomFn } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { INSTALLATION, agent, n, server } from './fixtures.js';
import { CallLog, EXECUTOR_PROVIDER, EXECUTOR_WP, NONE, StubProvider, StubWoodpecker, spelling } from './stubs.js';

const why: Reason = { code: 'pending-work', message: 'test' };
const create: Action = { kind: 'create', reason: why };
const ref = (id: number, suffix: string): { id: number; name: string } => ({ id, name: n(suffix) });

function render(a: DeployAgent): string {
  return `#cloud-config\n# agent ${a.name} (${a.id}) secret ${a.token}\n`;
}

interface Setup {
  log: CallLog;
  wp: StubWoodpecker;
  provider: StubProvider;
  deps: ExecutorDeps;
}

function setup(opts: { dryRun?: boolean; random?: RandomFn; signal?: AbortSignal } = {}): Setup {
  const log = new CallLog();
  const wp = new StubWoodpecker(log, opts.dryRun ? NONE : EXECUTOR_WP);
  const provider = new StubProvider(log, opts.dryRun ? NONE : EXECUTOR_PROVIDER);
  const deps: ExecutorDeps = {
    woodpecker: wp,
    provider,
    poolId: '1',
    installationId: INSTALLATION,
    random: opts.random ?? seededRandom(7),
    logger: silentLogger(),
    renderUserData: render,
    now: () => 0,
    dryRun: opts.dryRun,
    signal: opts.signal,
  };
  return { log, wp, provider, deps };
}

describe('executor: create', () => {
  it('registers the agent, then deploys its server with the rendered user-data', async () => {
    const s = setup();
    const [r] = await execute([create], s.deps, new Set());
    assert.ok(r);
    assert.equal(r.outcome, 'done');
    assert.match(r.name, /^pool-1-agent-[a-z0-9]{12}$/);
    assert.ok(isOurAgentName(r.name, { poolId: '1', installationId: INSTALLATION }), 'the name carries our tag');
    assert.deepEqual(s.log.calls, [`wp.createAgent(${r.name})`, `provider.deploy(${r.name})`]);
    const registered = [...s.wp.agents.values()];
    assert.equal(registered.length, 1);
    const a = registered[0];
    assert.ok(a);
    assert.equal(s.provider.userData.get(r.name), render({ id: a.id, name: a.name, token: a.token }));
    assert.deepEqual(s.log.unexpected, []);
  });

  it('a failed deploy unregisters the agent and stops further creates; other actions still run', async () => {
    const s = setup({ random: spelling('abcd', 'wxyz') });
    s.provider.deployError = new Error('preset sold out');
    s.wp.seed(agent(5, n('drnd')));
    const drain: Action = { kind: 'drain', agent: ref(5, 'drnd'), reason: why };
    const results = await execute([create, create, drain], s.deps, new Set());
    assert.deepEqual(
      results.map((r) => [r.action.kind, r.outcome]),
      [
        ['create', 'failed'],
        ['create', 'skipped'],
        ['drain', 'done'],
      ],
    );
    assert.equal(results[0]?.detail, 'preset sold out');
    assert.deepEqual(s.log.calls, [
      `wp.createAgent(${n('abcd')})`,
      `provider.deploy(${n('abcd')})`,
      'wp.deleteAgent(100)',
      `wp.updateAgent(5,${n('drnd')},no_schedule=true)`,
    ]);
    assert.deepEqual([...s.wp.agents.keys()], [5], 'the failed agent is unregistered');
    assert.equal(s.provider.servers.size, 0);
  });

  it('a rate-limited deploy (429) unregisters the agent, is no failure, and holds the other creates', async () => {
    const s = setup({ random: spelling('abcd', 'wxyz') });
    s.deps.now = () => 1_000_000;
    s.provider.deployError = new RateLimitedError('429 too many requests', 90_000);
    const results = await execute([create, create], s.deps, new Set());
    assert.deepEqual(
      results.map((r) => [r.outcome, r.rateLimitedUntil]),
      [
        ['skipped', 1_000_000 + 90_000],
        ['skipped', undefined],
      ],
    );
    assert.match(results[0]?.detail ?? '', /rate limit refused the create; creates wait until 1970-01-01T00:18:10\.000Z/);
    assert.deepEqual(s.log.calls, [`wp.createAgent(${n('abcd')})`, `provider.deploy(${n('abcd')})`, 'wp.deleteAgent(100)']);
    assert.equal(s.wp.agents.size, 0, 'the agent without a server is unregistered');
  });

  it('a created agent is reported with its token blanked', async () => {
    const s = setup();
    const [r] = await execute([create], s.deps, new Set());
    assert.equal(r?.agent?.name, r?.name);
    assert.equal(r?.agent?.token, '');
    assert.equal(r?.agent?.last_contact, 0);
  });

  it('a failed registration stops further creates and deploys nothing', async () => {
    const s = setup({ random: spelling('abcd') });
    s.wp.createError = new Error('502 bad gateway');
    const results = await execute([create, create], s.deps, new Set());
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['failed', 'skipped'],
    );
    assert.deepEqual(s.log.calls, [`wp.createAgent(${n('abcd')})`]);
  });

  it('an agent registered under another name (blank-name trap) is deleted and never deployed', async () => {
    const s = setup({ random: spelling('abcd') });
    s.wp.renameTo = '';
    const [r] = await execute([create], s.deps, new Set());
    assert.equal(r?.outcome, 'failed');
    assert.deepEqual(s.log.calls, [`wp.createAgent(${n('abcd')})`, 'wp.deleteAgent(100)']);
    assert.equal(s.wp.agents.size, 0);
    assert.equal(s.provider.servers.size, 0);
  });

  it('never reuses a taken name (agents and servers), nor one it just used', async () => {
    // The random source spells "aaaaaa" forever: the nonce takes the attempt number instead of colliding or looping.
    const s = setup({ random: () => 0 });
    const taken = new Set([n('aaaaaa')]);
    const results = await execute([create, create], s.deps, taken);
    assert.deepEqual(
      results.map((r) => r.name),
      [n('aaaaa8'), n('aaaaa9')],
    );
    assert.deepEqual([...taken], [n('aaaaaa')], 'the caller set is not mutated');
  });

  it('tries another name after a collision', async () => {
    const s = setup({ random: spelling('abcd', 'wxyz') });
    const [r] = await execute([create], s.deps, new Set([n('abcd')]));
    assert.equal(r?.name, n('wxyz'));
  });
});

describe('newAgentName', () => {
  it('6 random characters + the 6-character tag of this installation; still the pool pattern', () => {
    const random = seededRandom(42);
    const id = { poolId: '7', installationId: 'abc' };
    for (let i = 0; i < 200; i++) {
      const name = newAgentName(id, random, new Set());
      assert.match(name, /^pool-7-agent-[a-z0-9]{12}$/);
      assert.ok(poolNamePattern('7').test(name));
      assert.ok(isOurAgentName(name, id));
      assert.ok(!isOurAgentName(name, { poolId: '7', installationId: 'abd' }), 'another installation cannot claim it');
    }
  });

  it('avoids every taken name even when the pool is crowded', () => {
    const random = seededRandom(1);
    const taken = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const name = newAgentName({ poolId: '1', installationId: INSTALLATION }, random, taken);
      assert.ok(!taken.has(name));
      taken.add(name);
    }
  });
});

describe('executor: removals', () => {
  it('remove-agent drains, re-checks tasks, deletes the agent first, then removes the server', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('idle')));
    s.provider.seed(server(n('idle')));
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'idle'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'done');
    assert.deepEqual(s.log.calls, [
      `wp.updateAgent(5,${n('idle')},no_schedule=true)`,
      'wp.agentTasks(5)',
      'wp.deleteAgent(5)',
      `provider.remove(${n('idle')})`,
    ]);
    assert.equal(r?.agentGone, true);
    assert.equal(r?.serverGone, true);
    assert.equal(s.wp.agents.size, 0);
    assert.equal(s.provider.servers.size, 0);
  });

  it('remove-agent skips an agent that got work since the plan: nothing is removed', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('busy')));
    s.wp.tasks.set(5, 1);
    s.provider.seed(server(n('busy')));
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'busy'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'skipped');
    assert.match(r?.detail ?? '', /still processing workload \(1 task/);
    assert.deepEqual(s.log.calls, [`wp.updateAgent(5,${n('busy')},no_schedule=true)`, 'wp.agentTasks(5)']);
    assert.equal(s.wp.agents.size, 1);
    assert.equal(s.wp.agents.get(5)?.no_schedule, true, 'it stays drained, to be removed once idle');
    assert.equal(s.provider.servers.size, 1);
  });

  it('remove-agent takes no new work before the check: a stale agent is drained before its tasks are read', async () => {
    // A stale or never-connected agent is schedulable: if it comes back and gets a task between the check and the
    // server's deletion, that task dies with the server. Draining first closes the window.
    const s = setup();
    s.wp.seed(agent(5, n('stal')));
    s.provider.seed(server(n('stal')));
    let drainedAtCheck: boolean | undefined;
    const tasks = s.wp.agentTasks.bind(s.wp);
    s.wp.agentTasks = async (id) => {
      drainedAtCheck = s.wp.agents.get(id)?.no_schedule;
      return tasks(id);
    };
    const stale: Reason = { code: 'stale', message: 'no contact for 20m' };
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'stal'), reason: stale }], s.deps, new Set());
    assert.equal(r?.outcome, 'done');
    assert.equal(drainedAtCheck, true, 'the agent must be unschedulable when its tasks are checked');
  });

  it('remove-agent removes nothing when the agent cannot be drained', async () => {
    const s = setup();
    s.provider.seed(server(n('gone')));
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'gone'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'failed');
    assert.deepEqual(s.log.calls, [`wp.updateAgent(5,${n('gone')},no_schedule=true)`]);
    assert.equal(s.provider.servers.size, 1);
  });

  it('remove-agent: work assigned after the task check (another instance reactivated it) keeps the server', async () => {
    // Another process reactivated the agent between our drain and our check, and Woodpecker handed it a workflow
    // after the check: the DELETE answers 409, so the server must stay (upstream removed the server first).
    const s = setup();
    s.wp.seed(agent(5, n('race')));
    s.provider.seed(server(n('race')));
    s.wp.deleteAnswers = ['has-running-tasks'];
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'race'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'skipped');
    assert.match(r?.detail ?? '', /refused to delete the agent .*agent and server kept/);
    assert.deepEqual(s.log.calls, [`wp.updateAgent(5,${n('race')},no_schedule=true)`, 'wp.agentTasks(5)', 'wp.deleteAgent(5)']);
    assert.equal(s.provider.servers.size, 1, 'the server of the running workflow is kept');
    assert.equal(s.wp.agents.get(5)?.no_schedule, true, 'the agent stays drained');
    assert.equal(r?.drained, true);
  });

  it('remove-agent whose agent was already deleted (by another instance) still removes the server', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('twin')));
    s.provider.seed(server(n('twin')));
    s.wp.deleteAnswers = ['not-found'];
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'twin'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'done');
    assert.equal(s.provider.servers.size, 0);
  });

  it('remove-agent: agent deleted, server removal failed: a failure the agent-missing clean-up finishes later', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('stuk')));
    s.provider.seed(server(n('stuk')));
    s.provider.removeError = new Error('HTTP 423 locked');
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'stuk'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'failed');
    assert.match(r?.detail ?? '', /agent deleted, but removing its server failed .*HTTP 423 locked/);
    assert.deepEqual(s.log.calls, [
      `wp.updateAgent(5,${n('stuk')},no_schedule=true)`,
      'wp.agentTasks(5)',
      'wp.deleteAgent(5)',
      `provider.remove(${n('stuk')})`,
    ]);
    assert.equal(s.wp.agents.size, 0, 'the agent can get no more work');
    assert.equal(s.provider.servers.size, 1);
    assert.equal(r?.agentGone, true);
    assert.equal(r?.serverGone, undefined);
  });

  it('remove-agent whose server is already gone still deletes the agent', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('gone')));
    const [r] = await execute([{ kind: 'remove-agent', agent: ref(5, 'gone'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'done');
    assert.equal(r?.detail, 'server was already gone');
    assert.equal(s.wp.agents.size, 0);
  });

  const deleteCases: Array<{
    name: string;
    tasks: number;
    answer?: 'has-running-tasks' | 'not-found';
    outcome: string;
    calls: string[];
  }> = [
    { name: 'idle agent is deleted', tasks: 0, outcome: 'done', calls: ['wp.agentTasks(5)', 'wp.deleteAgent(5)'] },
    { name: 'busy agent is skipped without a delete', tasks: 2, outcome: 'skipped', calls: ['wp.agentTasks(5)'] },
    {
      name: '409 from Woodpecker is a skip',
      tasks: 0,
      answer: 'has-running-tasks',
      outcome: 'skipped',
      calls: ['wp.agentTasks(5)', 'wp.deleteAgent(5)'],
    },
    {
      name: 'already deleted counts as done',
      tasks: 0,
      answer: 'not-found',
      outcome: 'done',
      calls: ['wp.agentTasks(5)', 'wp.deleteAgent(5)'],
    },
  ];
  for (const c of deleteCases) {
    it(`delete-agent: ${c.name}`, async () => {
      const s = setup();
      s.wp.seed(agent(5, n('nosv')));
      s.wp.tasks.set(5, c.tasks);
      if (c.answer) s.wp.deleteAnswers = [c.answer];
      const [r] = await execute([{ kind: 'delete-agent', agent: ref(5, 'nosv'), reason: why }], s.deps, new Set());
      assert.equal(r?.outcome, c.outcome);
      assert.deepEqual(s.log.calls, c.calls);
      assert.deepEqual(s.log.unexpected, []);
    });
  }

  it('remove-server removes only the server; a missing one is fine', async () => {
    const s = setup();
    s.provider.seed(server(n('orph')));
    const results = await execute(
      [
        { kind: 'remove-server', name: n('orph'), reason: why },
        { kind: 'remove-server', name: n('gone'), reason: why },
      ],
      s.deps,
      new Set(),
    );
    assert.deepEqual(
      results.map((r) => [r.outcome, r.detail]),
      [
        ['done', undefined],
        ['done', 'server was already gone'],
      ],
    );
    assert.deepEqual(s.log.calls, [
      'wp.listAgents()',
      `provider.remove(${n('orph')})`,
      'wp.listAgents()',
      `provider.remove(${n('gone')})`,
    ]);
  });

  it('remove-server keeps a server whose agent shows up in a fresh look (missed by the plan), busy or not', async () => {
    const s = setup();
    // The plan saw no agent with this name (e.g. a paged listing shifted by a concurrent delete), but it exists
    // and runs a task on this very server.
    s.wp.seed(agent(9, n('busy')));
    s.wp.tasks.set(9, 1);
    s.provider.seed(server(n('busy')));
    const [r] = await execute([{ kind: 'remove-server', name: n('busy'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'skipped');
    assert.match(r?.detail ?? '', /an agent with this name is registered \(id 9\)/);
    assert.deepEqual(s.log.calls, ['wp.listAgents()']);
    assert.equal(s.provider.servers.size, 1);
  });

  it('remove-server removes nothing when the fresh look fails', async () => {
    const s = setup();
    s.wp.listError = new Error('woodpecker down');
    s.provider.seed(server(n('orph')));
    const [r] = await execute([{ kind: 'remove-server', name: n('orph'), reason: why }], s.deps, new Set());
    assert.equal(r?.outcome, 'failed');
    assert.deepEqual(s.log.calls, ['wp.listAgents()']);
    assert.equal(s.provider.servers.size, 1);
  });

  it('a failed action does not stop the following ones', async () => {
    const s = setup();
    s.provider.removeError = new Error('provider down');
    s.wp.seed(agent(5, n('aaaa')));
    const results = await execute(
      [
        { kind: 'remove-server', name: n('orph'), reason: why },
        { kind: 'drain', agent: ref(5, 'aaaa'), reason: why },
      ],
      s.deps,
      new Set(),
    );
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['failed', 'done'],
    );
  });
});

describe('executor: drain, reactivate, dry run, abort', () => {
  it('drain and reactivate send the name and no_schedule', async () => {
    const s = setup();
    s.wp.seed(agent(5, n('aaaa')), agent(6, n('bbbb'), { drained: true }));
    await execute(
      [
        { kind: 'drain', agent: ref(5, 'aaaa'), reason: why },
        { kind: 'reactivate', agent: ref(6, 'bbbb'), reason: why },
      ],
      s.deps,
      new Set(),
    );
    assert.deepEqual(s.log.calls, [
      `wp.updateAgent(5,${n('aaaa')},no_schedule=true)`,
      `wp.updateAgent(6,${n('bbbb')},no_schedule=false)`,
    ]);
    assert.equal(s.wp.agents.get(5)?.no_schedule, true);
    assert.equal(s.wp.agents.get(6)?.no_schedule, false);
  });

  it('dry run performs nothing and reports every action', async () => {
    const s = setup({ dryRun: true });
    const actions: Action[] = [
      create,
      { kind: 'reactivate', agent: ref(1, 'aaaa'), reason: why },
      { kind: 'drain', agent: ref(2, 'bbbb'), reason: why },
      { kind: 'remove-agent', agent: ref(3, 'cccc'), reason: why },
      { kind: 'delete-agent', agent: ref(4, 'dddd'), reason: why },
      { kind: 'remove-server', name: n('eeee'), reason: why },
    ];
    const results = await execute(actions, s.deps, new Set());
    assert.deepEqual(
      results.map((r) => r.outcome),
      actions.map(() => 'dry-run'),
    );
    assert.deepEqual(s.log.calls, []);
  });

  it('an aborted signal stops before the next action', async () => {
    const ac = new AbortController();
    ac.abort();
    const s = setup({ signal: ac.signal });
    const results = await execute([create, { kind: 'remove-server', name: n('orph'), reason: why }], s.deps, new Set());
    assert.deepEqual(results, []);
    assert.deepEqual(s.log.calls, []);
  });
});
