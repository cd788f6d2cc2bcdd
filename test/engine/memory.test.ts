import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionResult, Outcome } from '../../src/engine/executor.js';
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffFor, nextMemory } from '../../src/engine/memory.js';
import type { Action, EngineMemory, ReasonCode } from '../../src/engine/types.js';
import { MIN, NOW, SEC, agent, config, memory, n, world } from './fixtures.js';

describe('backoffFor', () => {
  const cases: Array<[failures: number, ms: number]> = [
    [-1, 0],
    [0, 0],
    [1, 15 * SEC],
    [2, 30 * SEC],
    [3, 60 * SEC],
    [4, 2 * MIN],
    [6, 8 * MIN],
    [7, 15 * MIN], // 16 min capped
    [50, 15 * MIN],
    [5000, 15 * MIN],
  ];
  for (const [failures, ms] of cases) {
    it(`${failures} failure(s) → ${ms / SEC}s`, () => assert.equal(backoffFor(failures), ms));
  }
  it('constants', () => {
    assert.equal(BACKOFF_BASE_MS, 15 * SEC);
    assert.equal(BACKOFF_MAX_MS, 15 * MIN);
  });
});

function result(action: Action, outcome: Outcome): ActionResult {
  return { action, outcome, name: 'x', durationMs: 0 };
}
const createR = (outcome: Outcome): ActionResult => result({ kind: 'create', reason: { code: 'pending-work', message: '' } }, outcome);
const removeR = (code: ReasonCode, message: string, outcome: Outcome = 'done'): ActionResult =>
  result({ kind: 'remove-agent', agent: { id: 1, name: n('aaaa') }, reason: { code, message } }, outcome);

describe('nextMemory: back-off grows on failed provisions', () => {
  const cases: Array<{ name: string; results: ActionResult[]; failures: number }> = [
    { name: 'a failed create', results: [createR('failed')], failures: 1 },
    { name: 'a failed create and the create it held back', results: [createR('failed'), createR('skipped')], failures: 1 },
    { name: 'a removed failed server', results: [removeR('server-failed', 'no_paid')], failures: 1 },
    {
      name: 'a removed agent that never connected',
      results: [removeR('never-connected', 'agent never connected within 10m of its creation')],
      failures: 1,
    },
    { name: 'a removed stale agent that had connected is no failure', results: [removeR('stale', 'no contact for 11m')], failures: 0 },
    { name: 'a failed-server removal that was skipped is no failure', results: [removeR('server-failed', 'x', 'skipped')], failures: 0 },
    { name: 'a dry-run create is no failure', results: [createR('dry-run')], failures: 0 },
    { name: 'a successful create is no failure', results: [createR('done')], failures: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = nextMemory(memory(), world(), c.results, config());
      assert.equal(m.provisionFailures, c.failures);
      if (c.failures > 0) {
        assert.equal(m.lastFailureAt, NOW);
        assert.equal(m.createBlockedUntil, NOW + backoffFor(c.failures));
      } else {
        assert.equal(m.createBlockedUntil, 0);
        assert.equal(m.lastFailureAt, 0);
      }
    });
  }

  it('consecutive failing ticks double the back-off', () => {
    let m: EngineMemory = memory();
    const blocked: number[] = [];
    for (let tick = 0; tick < 4; tick++) {
      const now = NOW + tick * MIN;
      m = nextMemory(m, world({ now }), [createR('failed')], config());
      blocked.push(m.createBlockedUntil - now);
    }
    assert.deepEqual(blocked, [15 * SEC, 30 * SEC, 60 * SEC, 2 * MIN]);
    assert.equal(m.provisionFailures, 4);
  });
});

describe('nextMemory: back-off resets on evidence', () => {
  const failed = memory({ provisionFailures: 3, lastFailureAt: NOW - 5 * MIN, createBlockedUntil: NOW + MIN });
  const cases: Array<{ name: string; agents: ReturnType<typeof agent>[]; reset: boolean }> = [
    { name: 'an agent created after the failure has connected', agents: [agent(1, n('good'), { created: 2 * MIN })], reset: true },
    {
      name: 'an agent created after the failure, not connected yet',
      agents: [agent(1, n('boot'), { created: 2 * MIN, contact: null })],
      reset: false,
    },
    { name: 'only agents older than the failure are connected', agents: [agent(1, n('oldy'), { created: 10 * MIN })], reset: false },
    {
      name: 'a connected new agent of another pool is no evidence',
      agents: [agent(1, 'pool-2-agent-good', { created: 2 * MIN })],
      reset: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = nextMemory(failed, world({ agents: c.agents }), [], config());
      if (c.reset) {
        assert.equal(m.provisionFailures, 0);
        assert.equal(m.createBlockedUntil, 0);
      } else {
        assert.equal(m.provisionFailures, 3);
        assert.equal(m.createBlockedUntil, NOW + MIN);
      }
    });
  }

  it('a reset and a new failure in the same tick start over at one failure', () => {
    const m = nextMemory(failed, world({ agents: [agent(1, n('good'), { created: 2 * MIN })] }), [createR('failed')], config());
    assert.equal(m.provisionFailures, 1);
    assert.equal(m.createBlockedUntil, NOW + 15 * SEC);
  });
});

describe('nextMemory: admin state', () => {
  it('forgets drain requests of agents that are gone, keeps the rest and the other controls', () => {
    const before = memory({ paused: true, cordoned: [n('cord')], drainRequested: [n('here'), n('gone')] });
    const m = nextMemory(before, world({ agents: [agent(1, n('here'))] }), [], config());
    assert.deepEqual(m.drainRequested, [n('here')]);
    assert.equal(m.paused, true);
    assert.deepEqual(m.cordoned, [n('cord')]);
  });

  it('is pure: the previous memory is not changed', () => {
    const before = Object.freeze(memory({ drainRequested: Object.freeze([n('gone')]) }));
    const m = nextMemory(before, world(), [createR('failed')], config());
    assert.notEqual(m, before);
    assert.deepEqual(before.drainRequested, [n('gone')]);
    assert.equal(before.provisionFailures, 0);
  });
});

describe('nextMemory: provider rate limit', () => {
  it('a rate-limited create holds creates until Retry-After, and is no provisioning failure', () => {
    const limited: ActionResult = { ...createR('skipped'), rateLimitedUntil: NOW + 90 * SEC };
    const m = nextMemory(memory(), world(), [limited, createR('skipped')], config());
    assert.equal(m.createRateLimitedUntil, NOW + 90 * SEC);
    assert.equal(m.provisionFailures, 0);
    assert.equal(m.createBlockedUntil, 0);
  });

  it('an earlier, later limit is kept', () => {
    const m = nextMemory(memory({ createRateLimitedUntil: NOW + 5 * MIN }), world(), [{ ...createR('skipped'), rateLimitedUntil: NOW + MIN }], config());
    assert.equal(m.createRateLimitedUntil, NOW + 5 * MIN);
  });
});

describe('nextMemory: when pool agents were last seen busy', () => {
  it('records the observation time for agents with running tasks, keeps older entries, drops agents that are gone', () => {
    const before = memory({ busySeenAt: { [n('idle')]: NOW - MIN, [n('gone')]: NOW - MIN, [n('busy')]: NOW - 60 * MIN } });
    const obs = world({
      agents: [agent(1, n('busy')), agent(2, n('idle')), agent(3, n('new0')), agent(4, 'static-1')],
      running: [1, 4],
    });
    const m = nextMemory(before, obs, [], config());
    assert.deepEqual(m.busySeenAt, { [n('busy')]: NOW, [n('idle')]: NOW - MIN });
  });
});
