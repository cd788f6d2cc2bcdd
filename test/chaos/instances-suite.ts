import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { chaosSeeds } from './harness.js';
import { runInstances, type InstancesOutcome, type InstancesScenario } from './instances.js';

/**
 * Suites of several instances of one installation on one pool, bounded by a count of seeds (a quick sweep in
 * `npm test`, a long one with CHAOS_SWEEP=long); generous time limits. Replay one:
 * `CHAOS_SEED=<n> CHAOS_TRACE=1 npm test -- test/chaos/<file>`.
 */
export function instancesSuite(title: string, seeds: { quick: number; long: number }, make: (seed: number) => InstancesScenario): void {
  describe(title, () => {
    const outcomes: InstancesOutcome[] = [];
    for (const seed of chaosSeeds(seeds.quick, seeds.long)) {
      it(`seed ${seed}`, { timeout: 600_000 }, async () => {
        const sc = make(seed);
        const trace = process.env.CHAOS_TRACE === '1' ? (line: string): void => console.log(line) : undefined;
        const out = await runInstances(sc, trace);
        outcomes.push(out);
        assert.deepEqual(out.violations, [], `${title} seed ${seed}: ${JSON.stringify(out.stats)}\n${out.violations.join('\n')}`);
      });
    }
    after(() => {
      const sum = (f: (o: InstancesOutcome) => number): number => outcomes.reduce((n, o) => n + f(o), 0);
      console.log(
        `${title}: ${outcomes.length} runs, ${sum((o) => o.stats.requests)} requests, ${sum((o) => o.stats.takeovers)} takeovers, ` +
          `${sum((o) => o.stats.fencedWrites)} fenced writes, ${sum((o) => o.stats.freezes)} freezes, ${sum((o) => o.stats.kills)} kills, ` +
          `${sum((o) => o.stats.gracefulStops)} graceful stops, ${sum((o) => o.stats.clockSteps)} clock steps, ` +
          `peak owned ${Math.max(0, ...outcomes.map((o) => o.stats.peakOwned))}, ` +
          `longest full-tick gap ${Math.max(0, ...outcomes.map((o) => o.stats.longestTickGapMs)) / 1000}s`,
      );
    });
  });
}
