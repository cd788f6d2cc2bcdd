import { after, describe } from 'node:test';
import type { ChaosOutcome } from './harness.js';
import { chaosTests, summarize } from './suite.js';

/** Seeds per run: a quick sweep in `npm test`, the long one in `npm run chaos` (CI runs both). */
const SEEDS = { quick: 12, long: 96 };

// The upstream policy gets the same faults and the same invariants, max-agents included: both policies count every
// owned server against it (upstream's own formula only capped schedulable agents).
describe('chaos: upstream policy', () => {
  const outcomes: ChaosOutcome[] = [];
  chaosTests('upstream', SEEDS, 'test/chaos/upstream', outcomes);
  after(() => console.log(summarize('upstream', outcomes)));
});
