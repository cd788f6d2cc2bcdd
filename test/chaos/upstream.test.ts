import { after, describe } from 'node:test';
import type { ChaosOutcome } from './harness.js';
import { chaosTests, summarize } from './suite.js';

// The upstream policy gets the same faults and the same invariants, except max-agents: upstream does not count
// booting servers or servers without an agent against it, so it may exceed it; the summary says how often it did.
describe('chaos: upstream policy', () => {
  const outcomes: ChaosOutcome[] = [];
  chaosTests('upstream', 48, 'test/chaos/upstream', outcomes);
  after(() => console.log(summarize('upstream', outcomes)));
});
