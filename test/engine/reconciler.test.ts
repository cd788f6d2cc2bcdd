import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Reconciler } from '../../src/engine/reconciler.js';
import { RateLimitedError } from '../../src/providers/types.js';
import type { Policy } from '../../src/engine/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { Clock, RandomFn } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { HOUR, MIN, NOW, SEC, agent, config, n, queue, server } from './fixtures.js';
import { ALL_PROVIDER, ALL_WP, CallLog, StubProvider, StubWoodpecker, spelling } from './stubs.js';

/** A clock that only moves when the test says so. */
class ManualClock implements Clock {
  t = NOW;
  now(): number {
    return this.t;
  }
  sleep(): Promise<void> {
    return Promise.reject(new Error('the reconciler never sleeps'));
  }
}

function setup(opts: { policy?: Policy; dryRun?: boolean; random?: RandomFn } = {}) {
  const clock = new ManualClock();
  const log = new CallLog();
  const wp = new StubWoodpecker(log, ALL_WP);
  const provider = new StubProvider(log, ALL_PROVIDER);
  wp.now = () => clock.now();
  provider.now = () => clock.now();
  const reconciler = new Reconciler({
    config: config({ policy: opts.policy ?? 'default' }),
    woodpecker: wp,
    provider,
    clock,
    random: opts.random ?? seededRandom(5),
    logger: silentLogger(),
    renderUserData: () => '#cloud-config\n',
    dryRun: opts.dryRun,
    sweepInterval: 0,
  });
  return { clock, log, wp, provider, reconciler };
}

const mutating = (calls: readonly string[]): string[] =>
  calls.filter((c) => !/^(wp\.listAgents|wp\.queueInfo|provider\.list|wp\.agentTasks)\(/.test(c));

describe('Reconciler.tick', () => {
  it('observes, plans, executes and reports', async () => {
    const s = setup({ random: spelling('abcd') });
    s.wp.queue = () => queue({ pending: 1 });
    const r = await s.reconciler.tick();
    assert.equal(r.ok, true);
    assert.equal(r.mode, 'full');
    assert.deepEqual(r.results.map((x) => [x.action.kind, x.outcome, x.name]), [['create', 'done', n('abcd')]]);
    assert.deepEqual(mutating(s.log.calls), [`wp.createAgent(${n('abcd')})`, `provider.deploy(${n('abcd')})`]);
    assert.equal(s.reconciler.last, r);
  });

  it('a provider list that fails: the tick reports it, deletes no agent, still removes stale agents', async () => {
    const s = setup();
    s.wp.seed(agent(1, n('hlth')), agent(2, n('stal'), { contact: HOUR, work: HOUR }));
    s.provider.listError = new Error('timeweb 503');
    const r = await s.reconciler.tick();
    assert.equal(r.ok, false);
    assert.ok(r.errors.includes('listing provider servers failed'));
    assert.deepEqual(mutating(s.log.calls), [
      `wp.updateAgent(2,${n('stal')},no_schedule=true)`,
      'wp.deleteAgent(2)',
      `provider.remove(${n('stal')})`,
    ]);
  });

  it('new names avoid existing agents and servers, including servers seen by the last full tick', async () => {
    // the random source spells "abcd" first, then "wxyz"
    const s = setup({ random: spelling('abcd', 'wxyz') });
    s.provider.seed(server(n('abcd'), { age: MIN, now: NOW }));
    await s.reconciler.tick();
    s.clock.t += 5 * SEC;
    s.wp.queue = () => queue({ pending: 1 });
    const r = await s.reconciler.tick('scale-up');
    assert.ok(!s.log.calls.slice(-3).includes('provider.list()'), 'the scale-up tick does not list servers');
    assert.deepEqual(r.results.map((x) => x.name), [n('wxyz')]);
  });

  it('a failed deploy backs off the next creates, then retries after the back-off', async () => {
    const s = setup();
    s.wp.queue = () => queue({ pending: 1 });
    s.provider.deployError = new Error('no capacity');
    const first = await s.reconciler.tick();
    assert.deepEqual(first.results.map((x) => x.outcome), ['failed']);
    assert.equal(s.reconciler.state.provisionFailures, 1);
    assert.equal(s.reconciler.state.createBlockedUntil, NOW + 15 * SEC);

    s.clock.t = NOW + 10 * SEC;
    const held = await s.reconciler.tick('scale-up');
    assert.deepEqual(held.plan?.actions, []);
    assert.ok(held.plan?.notes.some((x) => /held back/.test(x)));

    s.clock.t = NOW + 15 * SEC;
    s.provider.deployError = undefined;
    const retry = await s.reconciler.tick();
    assert.deepEqual(retry.results.map((x) => [x.action.kind, x.outcome]), [['create', 'done']]);
    assert.equal(s.wp.agents.size, 1, 'the failed attempt left no agent behind');
  });

  it('a registration with no clear answer is not repeated; the ghost agent it left is removed after the grace', async () => {
    const s = setup({ random: spelling('ghst', 'wxyz') });
    s.wp.queue = () => queue({ pending: 1 });
    // POST /api/agents times out, but the server did register the agent.
    const register = s.wp.createAgent.bind(s.wp);
    s.wp.createAgent = async (name) => {
      await register(name);
      throw new Error('POST /api/agents: no answer within 30000 ms');
    };
    const first = await s.reconciler.tick();
    assert.deepEqual(first.results.map((x) => [x.action.kind, x.outcome]), [['create', 'failed']]);
    assert.equal(s.log.calls.filter((c) => c.startsWith('wp.createAgent')).length, 1, 'never retried');
    assert.equal(s.log.calls.filter((c) => c.startsWith('provider.deploy')).length, 0, 'no server for an unclear agent');
    assert.deepEqual([...s.wp.agents.values()].map((a) => a.name), [n('ghst')]);

    s.wp.createAgent = register;
    s.clock.t = NOW + MIN;
    const young = await s.reconciler.tick();
    assert.ok(!young.results.some((x) => x.action.kind === 'delete-agent'), 'kept while younger than the grace');

    s.clock.t = NOW + 2 * MIN + SEC;
    const later = await s.reconciler.tick();
    assert.deepEqual(
      later.results.filter((x) => x.action.kind === 'delete-agent').map((x) => [x.name, x.action.reason.code, x.outcome]),
      [[n('ghst'), 'server-missing', 'done']],
    );
    assert.ok(!s.wp.agents.has(100), 'the ghost is gone');
  });

  it('dry run observes and plans but changes nothing', async () => {
    const s = setup({ dryRun: true });
    s.wp.seed(agent(1, n('stal'), { contact: HOUR, work: HOUR }));
    s.provider.seed(server(n('stal')), server(n('orph'), { age: HOUR }));
    s.wp.queue = () => queue({ pending: 2 });
    const r = await s.reconciler.tick();
    assert.deepEqual(
      r.results.map((x) => [x.action.kind, x.outcome]),
      [
        ['create', 'dry-run'],
        ['create', 'dry-run'],
        ['remove-server', 'dry-run'],
        ['remove-agent', 'dry-run'],
      ],
    );
    assert.deepEqual(mutating(s.log.calls), []);
    assert.equal(s.reconciler.state.provisionFailures, 0);
  });

  it('admin controls take effect at the next tick', async () => {
    const s = setup({ policy: 'upstream' });
    s.wp.seed(agent(1, n('aaaa'), { work: null }), agent(2, n('bbbb'), { work: null }));
    s.provider.seed(server(n('aaaa')), server(n('bbbb')));
    s.wp.queue = () => queue({ free: 2 });
    s.reconciler.setPaused(true);
    assert.deepEqual((await s.reconciler.tick()).plan?.actions, []);
    s.reconciler.setPaused(false);
    s.reconciler.setCordoned(n('aaaa'), true);
    const r = await s.reconciler.tick();
    assert.deepEqual(
      r.results.map((x) => [x.action.kind, x.name, x.outcome]),
      [
        ['drain', n('bbbb'), 'done'],
        ['remove-agent', n('bbbb'), 'done'],
      ],
    );
    s.reconciler.setCordoned(n('aaaa'), false);
    s.reconciler.requestDrain(n('aaaa'));
    s.wp.queue = () => queue({ free: 1 });
    const d = await s.reconciler.tick();
    assert.deepEqual(d.plan?.actions.map((a) => [a.kind, a.reason.code]), [
      ['drain', 'idle-timeout'],
      ['remove-agent', 'drained'],
    ]);
    assert.deepEqual(s.reconciler.state.drainRequested, [n('aaaa')], 'forgotten only once the agent is gone');
  });

  it("a 429 on a create waits for Retry-After: one register/unregister, no back-off, then a create", async () => {
    const s = setup();
    s.wp.queue = () => queue({ pending: 1 });
    s.provider.deployError = new RateLimitedError('429', 60 * SEC);
    const first = await s.reconciler.tick();
    assert.deepEqual(first.results.map((x) => [x.action.kind, x.outcome]), [['create', 'skipped']]);
    assert.equal(first.ok, true, 'a rate limit is not an error of the tick');
    assert.equal(s.reconciler.state.provisionFailures, 0);
    assert.equal(s.reconciler.state.createRateLimitedUntil, NOW + 60 * SEC);
    for (const t of [5, 30, 59]) {
      s.clock.t = NOW + t * SEC;
      const held = await s.reconciler.tick('scale-up');
      assert.deepEqual(held.plan?.actions, [], `nothing at +${t}s`);
      assert.ok(held.plan?.notes.some((x) => /creates wait for the provider's rate limit until/.test(x)));
    }
    assert.equal(s.log.calls.filter((c) => c.startsWith('wp.createAgent')).length, 1, 'one registration per Retry-After');
    s.clock.t = NOW + 60 * SEC;
    s.provider.deployError = undefined;
    const retry = await s.reconciler.tick('scale-up');
    assert.deepEqual(retry.results.map((x) => [x.action.kind, x.outcome]), [['create', 'done']]);
  });

  it('reports the pool after its actions: created agent and server booting, removed ones gone, drained flagged', async () => {
    const s = setup({ random: spelling('abcd') });
    s.wp.seed(agent(1, n('stal'), { contact: HOUR, work: HOUR }), agent(2, n('busy'), { work: 30 * MIN }));
    s.wp.tasks.set(2, 1);
    s.provider.seed(server(n('stal')), server(n('busy')));
    s.wp.queue = () => queue({ pending: 1, running: [0] });
    s.reconciler.requestDrain(n('busy'));
    const r = await s.reconciler.tick();
    assert.deepEqual(r.observation?.agents.map((a) => [a.name, a.no_schedule]), [
      [n('stal'), false],
      [n('busy'), false],
    ]);
    assert.deepEqual(r.state?.agents.map((a) => [a.name, a.no_schedule, a.last_contact, a.token]), [
      [n('busy'), true, r.observation?.agents[1]?.last_contact, 'secret-token-2'],
      [n('abcd'), false, 0, ''],
    ]);
    assert.deepEqual(r.state?.servers?.map((x) => [x.name, x.state]), [
      [n('busy'), 'running'],
      [n('abcd'), 'booting'],
    ]);
  });

  it('an agent deleted whose server removal failed: the server is removed as agent-missing on a later tick', async () => {
    const s = setup();
    s.wp.seed(agent(1, n('stuk'), { contact: HOUR, work: HOUR }));
    s.provider.seed(server(n('stuk'), { age: HOUR, now: NOW }));
    s.provider.removeError = new Error('HTTP 423 locked');
    const first = await s.reconciler.tick();
    assert.deepEqual(first.results.map((x) => [x.action.kind, x.outcome]), [['remove-agent', 'failed']]);
    assert.equal(s.wp.agents.size, 0);
    s.provider.removeError = undefined;
    s.clock.t = NOW + MIN;
    const later = await s.reconciler.tick();
    assert.deepEqual(later.results.map((x) => [x.action.kind, x.name, x.action.reason.code, x.outcome]), [
      ['remove-server', n('stuk'), 'agent-missing', 'done'],
    ]);
    assert.equal(s.provider.servers.size, 0);
  });

  it('refuses to run two ticks at once', async () => {
    const s = setup();
    let release: () => void = () => undefined;
    s.wp.onList = () => new Promise<void>((resolve) => (release = resolve));
    const first = s.reconciler.tick();
    await assert.rejects(s.reconciler.tick(), /already running/);
    release();
    assert.equal((await first).ok, true);
  });
});
