import { gcExposed, readMemory } from './memory-sample.js';
import type { MemoryReading } from './memory-sample.js';
/**
 * Child process of the memory benchmark (bundled, `node --expose-gc --max-semi-space-size=1`): the daemon's Woodpecker
 * clients over real sockets, Node's `fetch` (undici) on 127.0.0.1, the part the in-process world of rss-child.ts does
 * not exercise (connections, sockets, response streams, native buffers). `node memory-sockets.mjs CALLS`:
 * CALLS queue reads (the 2 s poll), an agent list every 5th and an agent update (the lease renew) every 30th, while
 * the event-stream client runs with a 50 ms idle timeout, so the fake's quiet stream is dropped and opened again
 * hundreds of times. Prints one JSON line: memory readings at rest after a forced GC (bench/memory-sample.ts).
 *
 * The fake Woodpecker serves in the same process; its virtual clock moves 20 s every 10 calls so its own timers
 * (stream pings, workflows) run and end as they do in the world.
 */
import { silentLogger } from '../src/observability/logger.js';
import { createFakeWoodpecker } from '../src/sandbox/fake-woodpecker.js';
import { serveFake } from '../src/sandbox/serve.js';
import { VirtualClock } from '../src/sandbox/virtual-clock.js';
import { seededRandom, systemClock } from '../src/util/clock.js';
import { WoodpeckerClient } from '../src/woodpecker/client.js';
import { watchEvents } from '../src/woodpecker/events.js';

export interface SocketSample extends MemoryReading {
  calls: number;
  streamConnections: number;
}

const callsWanted = Number(process.argv[2] ?? '12000');
const TOKEN = 'bench-admin-token';

async function main(): Promise<void> {
  const clock = new VirtualClock();
  const fake = createFakeWoodpecker({ clock, random: seededRandom(2), adminToken: TOKEN, pick: 'first' });
  for (let i = 0; i < 30; i++) fake.addWorkflow({ durationMs: 60_000, repo: 'acme/app' });
  const served = await serveFake(fake.app);
  const fetchFn = (input: Request | string | URL, init?: RequestInit): Promise<Response> => fetch(input, init);
  const client = new WoodpeckerClient({ baseUrl: served.url, token: TOKEN, fetch: fetchFn, clock: systemClock });
  const lease = await client.createAgent('bench-lease', undefined, { noSchedule: true });
  let streamConnections = 0;
  const stop = new AbortController();
  const stream = watchEvents({
    baseUrl: served.url,
    token: TOKEN,
    fetch: (input, init) => {
      streamConnections++;
      return fetchFn(input, init);
    },
    clock: systemClock,
    random: seededRandom(3),
    logger: silentLogger(),
    signal: stop.signal,
    onEvent: () => undefined,
    idleTimeoutMs: 50,
    retryBaseMs: 1,
    retryMaxMs: 5,
  });
  const samples: SocketSample[] = [];
  const sample = async (calls: number): Promise<void> => {
    samples.push({ calls, streamConnections, ...(await readMemory()) });
  };
  await sample(0);
  const every = Math.max(10, Math.round(callsWanted / 10));
  for (let i = 1; i <= callsWanted; i++) {
    await client.queueInfo();
    if (i % 5 === 0) await client.listAgents();
    if (i % 30 === 0) await client.updateAgent({ id: lease.id, name: lease.name, no_schedule: true });
    if (i % 10 === 0) await clock.runUntil(clock.now() + 20_000);
    if (i % every === 0 || i === callsWanted) await sample(i);
  }
  stop.abort();
  await stream;
  await served.close();
  process.stdout.write(`${JSON.stringify({ samples, gcExposed: gcExposed() })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
