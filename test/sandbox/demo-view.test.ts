import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { queueWaitLine, queueWaits, workflowTally } from '../../src/sandbox/demo.js';

const S = 1000;
const wf = (queuedAt: number, startedAt?: number) => ({ queuedAt, ...(startedAt !== undefined ? { startedAt } : {}) });

describe('demo view figures', () => {
  it('queue waits include the workflows still waiting, and the line says how many', () => {
    const st = {
      completed: [wf(0, 0), wf(0, 2 * S)],
      running: [wf(10 * S, 14 * S)],
      pending: Array.from({ length: 6 }, () => wf(30 * S)),
      waitingOnDeps: [],
    };
    const now = 90 * S;
    const { waits, waiting } = queueWaits(st as never, now);
    assert.equal(waiting, 6);
    assert.deepEqual(waits.sort((a, b) => a - b), [0, 2 * S, 4 * S, ...Array.from({ length: 6 }, () => 60 * S)]);
    // before the fix: "p50 0s" from the finished ones only
    assert.equal(queueWaitLine(st as never, now), 'queue wait p50 1m00s, max 1m00s (incl. 6 still waiting)');
    assert.equal(queueWaitLine({ completed: [wf(0, 3 * S)], running: [], pending: [], waitingOnDeps: [] } as never, now), 'queue wait p50 3s, max 3s');
  });

  it('the closing tally counts the workflows still running or queued at the stop', () => {
    assert.equal(workflowTally({ queued: 9, completed: 0, running: 6, pending: 3 }), '0 workflow(s) finished, 6 still running and 3 still queued at the stop (cancelled)');
    assert.equal(workflowTally({ queued: 4, completed: 4, running: 0, pending: 0 }), '4 workflow(s) finished');
  });
});
