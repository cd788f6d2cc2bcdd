import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Policy } from '../../src/engine/types.js';
import { chaosScenario, chaosSeeds, describeScenario, runChaos } from './harness.js';
import type { ChaosOutcome } from './harness.js';

/**
 * Registers one test per seed for a policy: `seeds` in `npm test`, `longSeeds` in `npm run chaos`. A failure prints
 * the seed, the scenario and the violations, and how to replay it (`CHAOS_SEED=<n>`, with `CHAOS_TRACE=1` for a line
 * per event).
 */
export function chaosTests(
  policy: Policy,
  seeds: { quick: number; long: number },
  file: string,
  outcomes: ChaosOutcome[] = [],
  scenario: { dailyBudget?: number } = {},
): void {
  for (const seed of chaosSeeds(seeds.quick, seeds.long)) {
    it(`seed ${seed}`, async () => {
      const sc = chaosScenario(seed, policy, scenario);
      const trace = process.env.CHAOS_TRACE === '1' ? (line: string): void => console.log(line) : undefined;
      const out = await runChaos(sc, trace ? { trace } : {});
      outcomes.push(out);
      assert.deepEqual(
        out.violations,
        [],
        `chaos ${describeScenario(sc)}\n` +
          `  replay: CHAOS_SEED=${seed} CHAOS_TRACE=1 npm test -- ${file}\n` +
          out.violations.map((v) => `  ${v}`).join('\n'),
      );
    });
  }
}

/** A one-line summary of what the runs injected and survived. */
export function summarize(policy: Policy, outcomes: readonly ChaosOutcome[]): string {
  const sum = (f: (o: ChaosOutcome) => number): number => outcomes.reduce((n, o) => n + f(o), 0);
  const restarts = sum((o) => Object.values(o.stats.restarts).reduce((a, b) => a + b, 0));
  const injected = sum((o) => Object.values(o.stats.injected).reduce((a, b) => a + b, 0));
  const over = outcomes.filter((o) => o.stats.overMaxAgents.instants > 0);
  const worst = Math.max(0, ...outcomes.map((o) => o.stats.overMaxAgents.worst));
  const spends = outcomes.flatMap((o) => (o.stats.spend ? [o.stats.spend] : []));
  const cap = spends[0]?.cap;
  const budget =
    cap === undefined
      ? ''
      : `; busiest day billed ${Math.max(0, ...spends.map((x) => x.worstDay)).toFixed(2)} of a ${cap.toFixed(2)} daily budget, ` +
        `${sum((o) => o.stats.workflows.queued - o.stats.workflows.completed)} workflows left waiting for the budget`;
  return (
    `chaos ${policy}: ${outcomes.length} runs, ${sum((o) => o.stats.requests)} requests, ${injected} faults injected, ` +
    `${restarts} process restarts, ${sum((o) => o.stats.agentsKilled)} agents killed, ` +
    `${sum((o) => o.stats.neverBooted)} VMs that never booted, ${sum((o) => o.stats.serversCreated)} servers created; ` +
    `owned servers above max-agents in ${over.length} run(s)` +
    (over.length > 0 ? ` (${sum((o) => o.stats.overMaxAgents.instants)} creations, worst +${worst})` : '') +
    budget
  );
}
