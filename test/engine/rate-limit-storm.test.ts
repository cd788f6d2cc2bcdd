import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../../src/sandbox/simulate.js';

const S = 1000;
const M = 60 * S;

/**
 * A 429 storm on server creates, in virtual time, against the whole engine (the daemon's assembly, the real clients,
 * the fakes). Bounded by count: fixed storm length, fixed workload, one seed per case.
 */
describe('a 10-minute 429 storm on server creates', () => {
  const STORM = 10 * M;
  const QUEUE_POLL = 5 * S;
  const cases: Array<{ name: string; retryAfter: string | undefined; retryAfterMs: number }> = [
    { name: 'Retry-After: 120', retryAfter: '120', retryAfterMs: 120 * S },
    { name: 'no Retry-After (60 s assumed)', retryAfter: undefined, retryAfterMs: 60 * S },
  ];
  for (const c of cases) {
    it(`${c.name}: creates wait for it, are no failures, and resume right after the storm`, async () => {
      let stormStart = 0;
      const registered: number[] = [];
      const unregistered: number[] = [];
      const rateLimited: number[] = [];
      const created: number[] = [];
      const r = await simulate({
        workload: { name: 'three', span: 30 * M, items: Array.from({ length: 3 }, () => ({ arrival: 0, duration: 10 * M })) },
        values: { minAgents: 0, maxAgents: 3, workflowsPerAgent: 1, queuePollInterval: QUEUE_POLL, timewebcloudBilling: 'per-second' },
        seed: 3,
        tail: 30 * M,
        setup(world, clock) {
          stormStart = clock.now();
          world.timeweb.injectFault((req) => {
            if (req.route !== 'POST /api/v1/servers' || clock.now() >= stormStart + STORM) return undefined;
            rateLimited.push(clock.now());
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (c.retryAfter !== undefined) headers['retry-after'] = c.retryAfter;
            const body = { status_code: 429, error_code: 'too_many_requests', message: 'Too Many Requests', response_id: 'storm' };
            return new Response(JSON.stringify(body), { status: 429, headers });
          });
          world.woodpecker.injectFault((req) => {
            if (req.route === 'POST /api/agents') registered.push(clock.now());
            if (req.route === 'DELETE /api/agents/:id') unregistered.push(clock.now());
            return undefined;
          });
          world.onEvent((e) => {
            if (e.kind === 'server-created') created.push(e.at);
          });
        },
      });
      const stormEnd = stormStart + STORM;
      const inStorm = (t: number): boolean => t < stormEnd;
      // One POST /api/agents of the storm is the lease record (registered once by the one process, at its first tick).
      const churned = registered.filter(inStorm).length - 1;
      assert.ok(rateLimited.length > 0, 'the storm was hit');
      assert.equal(created.filter(inStorm).length, 0);
      assert.ok(
        churned <= STORM / c.retryAfterMs + 1,
        `${churned} agents registered and deleted during the storm; at most ${STORM / c.retryAfterMs + 1}`,
      );
      assert.equal(unregistered.filter(inStorm).length, churned, 'every agent of a refused create was unregistered');
      const first = created[0];
      assert.ok(first !== undefined, 'a server was created after the storm');
      assert.ok(
        first - stormEnd <= c.retryAfterMs + QUEUE_POLL,
        `first create ${Math.round((first - stormEnd) / S)} s after the storm; at most ${(c.retryAfterMs + QUEUE_POLL) / S} s`,
      );
      assert.equal(r.actionProblems['create failed'], undefined, 'a rate-limited create is no failure');
      assert.equal(r.workflows.completed, 3);
    });
  }
});
