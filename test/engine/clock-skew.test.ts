import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plan } from '../../src/engine/planner.js';
import { MIN, NOW, SEC, agent, config, memory, n, queue, server, world } from './fixtures.js';

/**
 * Agent timestamps are stamped by the Woodpecker server's clock; the planner measures ages against the estimate of
 * that clock the observation carries (from the `Date` header), not against the daemon's wall clock.
 */
describe('planner: ages on the Woodpecker server clock', () => {
  const cfg = config({ agentInactivityTimeout: 10 * MIN, agentIdleTimeout: 10 * MIN });
  // Woodpecker's clock reads NOW; the daemon's is 30 minutes ahead.
  const wpNow = NOW;
  const daemonNow = NOW + 30 * MIN;
  const fresh = agent(1, n('frsh'), { created: 20 * SEC, contact: null, work: null, now: wpNow });
  const healthy = agent(2, n('hlth'), { created: 2 * 60 * MIN, contact: 3 * SEC, work: MIN, now: wpNow });
  const servers = [server(fresh.name, { age: 20 * SEC, now: daemonNow }), server(healthy.name, { age: 2 * 60 * MIN, now: daemonNow })];

  const cases: Array<[string, number | undefined, string[]]> = [
    ['with the server clock: nothing to remove', wpNow, []],
    // Without a Date header the daemon clock is all there is: the same agents look never-connected and stale.
    ['without it (fallback to the daemon clock)', undefined, ['never-connected', 'stale']],
  ];
  for (const [what, woodpeckerNow, reasons] of cases) {
    it(`daemon clock 30 min ahead, inactivity timeout 10 min, ${what}`, () => {
      const obs = {
        ...world({ now: daemonNow, agents: [fresh, healthy], servers, pending: 0 }),
        ...(woodpeckerNow !== undefined ? { woodpeckerNow } : {}),
      };
      const p = plan(obs, cfg, memory(), 'full');
      assert.deepEqual(
        p.actions.map((a) => a.reason.code).sort(),
        reasons.sort(),
        p.actions.map((a) => `${a.kind} ${'agent' in a ? a.agent.name : ''}: ${a.reason.message}`).join('\n'),
      );
      if (woodpeckerNow !== undefined) assert.equal(p.summary.booting, 1, 'the fresh agent counts as booting');
    });
  }

  it('the healthy agent has no running task (so only its age protects it)', () => {
    assert.equal(queue({}).running.length, 0);
  });
});
