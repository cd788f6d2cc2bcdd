import { gcExposed, readMemory } from './memory-sample.js';
import type { MemoryReading } from './memory-sample.js';
import { runAssembled } from '../src/assemble.js';
/**
 * Child process of `npm run bench` (bundled like the production single-file bundle, run with `node --expose-gc`):
 * the daemon as `runDaemon` builds it — assembleEngine, observability (metrics, status tracker; no listener) and the
 * real loop — against the simulated world in virtual time, for a number of reconciler ticks. Prints one JSON line:
 * memory samples after a forced GC. `node rss-child.mjs TICKS ['{"eventStream":false}']`: the optional second
 * argument is option values (as the config table names them) for bisecting which feature costs what.
 *
 * Each sample is read when the process rests after a forced GC (bench/memory-sample.ts says why).
 *
 * The world runs in the same process; the fake Timeweb request log and the world's history (completed workflows, deleted VMs) are cleared as they go, so what grows
 * is the daemon's own state (and the world's live state: queued work, live servers).
 */
import type { OptionValues } from '../src/config/types.js';
import { silentLogger } from '../src/observability/logger.js';
import { createObservability } from '../src/observability/wire.js';
import { buildSandboxEngine, sandboxValues } from '../src/sandbox/engine.js';
import { drive } from '../src/sandbox/simulate.js';
import { VirtualClock } from '../src/sandbox/virtual-clock.js';
import { builtinWorkload } from '../src/sandbox/workloads.js';
import { createWorld } from '../src/sandbox/world.js';
import { seededRandom } from '../src/util/clock.js';

export interface Sample extends MemoryReading {
  ticks: number;
  virtualHours: number;
}

const ticksWanted = Number(process.argv[2] ?? '10000');
const overrides = JSON.parse(process.argv[3] ?? '{}') as OptionValues;

async function sample(ticks: number, hours: number): Promise<Sample> {
  return { ticks, virtualHours: Math.round(hours * 10) / 10, ...(await readMemory()) };
}

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const start = clock.now();
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(1),
    grpcAddr: 'woodpecker-server:9000',
    track: (p) => clock.track(p),
  });
  const logger = silentLogger();
  const values = sandboxValues(world, overrides);
  const obs = createObservability({ httpAddr: 'off', poolId: '1', clock });
  const sim = await drive(
    clock,
    buildSandboxEngine({
      values,
      clock,
      fetch: world.fetch,
      random: seededRandom(2),
      logger,
      onRequest: (api, e) => obs.onRequest(api, e),
    }),
  );
  const stopObs = await obs.start({ reconciler: sim.reconciler, provider: sim.provider, logger });
  let ticks = 0;
  sim.reconciler.onTick(() => {
    ticks++;
  });
  // A steady stream of work for as long as the ticks take (1 full tick a minute, plus scale-up ticks).
  const span = Math.ceil(ticksWanted / 60 + 2) * 3_600_000;
  world.feed(builtinWorkload('steady', { seed: 3, span }), start);
  const stop = new AbortController();
  const loop = runAssembled(sim, { clock, logger, signal: stop.signal });
  const samples: Sample[] = [];
  const hours = (): number => (clock.now() - start) / 3_600_000;
  // The world's history (completed workflows, deleted VMs) is dropped before each sample, like the request log:
  // a real daemon does not carry it, and it would grow the heap with the run's length.
  const forgotten = { workflows: 0, vms: 0 };
  const forget = (): void => {
    const f = world.forgetHistory();
    forgotten.workflows += f.workflows;
    forgotten.vms += f.vms;
  };
  await clock.runWhile(() => ticks >= 1, start + 3_600_000);
  forget();
  samples.push(await sample(ticks, hours()));
  const every = Math.max(1, Math.round(ticksWanted / 10));
  let next = every;
  while (ticks < ticksWanted) {
    await clock.runWhile(() => ticks >= Math.min(next, ticksWanted), start + span);
    world.timeweb.resetRequestCounts();
    if (ticks >= next || ticks >= ticksWanted) {
      forget();
      samples.push(await sample(ticks, hours()));
      next += every;
    }
    if (clock.now() >= start + span) break;
  }
  stop.abort(new Error('done'));
  await drive(clock, loop, 600_000);
  await stopObs();
  await world.close();
  forget();
  process.stdout.write(
    `${JSON.stringify({ samples, gcExposed: gcExposed(), workflowsCompleted: forgotten.workflows, vms: forgotten.vms + world.vms().length })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
