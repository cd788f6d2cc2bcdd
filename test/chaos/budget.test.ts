import { after, describe } from 'node:test';
import type { ChaosOutcome } from './harness.js';
import { chaosTests, summarize } from './suite.js';

/** Seeds per run: a few in `npm test`, more in `npm run chaos`. */
const SEEDS = { quick: 4, long: 24 };
/** RUB per day: about 4 server-hours at the chaos world's 1150 RUB/month (1.58 RUB/h), well below what the work asks. */
const DAILY_BUDGET = Number(process.env.CHAOS_BUDGET ?? 7);

// The default policy under the same chaos with a daily budget that binds, the ledger kept across the process
// restarts (like --state-file): the world's billed spend per day, from its own server records, never passes the cap,
// and running work is never cut (the request checks: no VM of an agent with running tasks is deleted).
describe('chaos: default policy with a daily budget', () => {
  const outcomes: ChaosOutcome[] = [];
  chaosTests('default', SEEDS, 'test/chaos/budget', outcomes, { dailyBudget: DAILY_BUDGET });
  after(() => console.log(summarize('default', outcomes)));
});
