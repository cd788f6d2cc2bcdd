import { after, describe } from 'node:test';
import type { ChaosOutcome } from './harness.js';
import { chaosTests, summarize } from './suite.js';

/** Seeds per run: a quick sweep in `npm test`, the long one in `npm run chaos` (CI runs both). */
const SEEDS = { quick: 12, long: 96 };

// Random faults, agent deaths and process restarts against the default policy; every invariant, including
// "owned servers ≤ max-agents at every instant", must hold on every seed.
describe('chaos: default policy', () => {
  const outcomes: ChaosOutcome[] = [];
  chaosTests('default', SEEDS, 'test/chaos/default', outcomes);
  after(() => console.log(summarize('default', outcomes)));
});
