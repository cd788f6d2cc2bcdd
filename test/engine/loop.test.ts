import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runLoop } from '../../src/engine/loop.js';
import { Reconciler, type TickReport } from '../../src/engine/reconciler.js';
import type { Policy } from '../../src/engine/types.js';
import { Wake } from '../../src/engine/wake.js';
import { silentLogger } from '../../src/observability/logger.js';
import { SteppedClock, VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { MIN, NOW, SEC, config, queue } from './fixtures.js';
import { ALL_PROVIDER, ALL_WP, CallLog, StubProvider, StubWoodpecker } from './stubs.js';

interface Harness {
  clock: VirtualClock;
  wp: StubWoodpecker;
  provider: StubProvider;
  ticks: TickReport[];
  /** virtual times (relative to NOW) at which the queue was read */
  queueReads: number[];
  abort: AbortController;
  /** resolves when runLoop returns */
  done: Promise<void>;
  finished: () => boolean;
}

interface StartOptions {
  policy?: Policy;
  interval?: number;
  poll?: number;
  pendingAt?: (t: number) => number;
  /** The daemon's clock (wall time may be stepped) built on the virtual clock; default: the virtual clock itself. */
  daemonClock?: (vc: VirtualClock) => SteppedClock;
  /** Runs before the loop starts (the first tick begins synchronously). */
  before?: (h: Omit<Harness, 'done' | 'finished'>) => void;
  wake?: Wake;
}

function start(opts: StartOptions = {}): Harness {
  const clock = new VirtualClock({ start: NOW });
  const log = new CallLog();
  const wp = new StubWoodpecker(log, ALL_WP);
  const provider = new StubProvider(log, ALL_PROVIDER);
  provider.now = () => clock.now();
  wp.now = () => clock.now();
  const queueReads: number[] = [];
  wp.queue = () => {
    const t = clock.now() - NOW;
    queueReads.push(t);
    return queue({ pending: opts.pendingAt?.(t) ?? 0 });
  };
  const daemonClock = opts.daemonClock?.(clock) ?? clock;
  const reconciler = new Reconciler({
    config: config({ policy: opts.policy ?? 'default', reconciliationInterval: opts.interval ?? MIN }),
    woodpecker: wp,
    provider,
    clock: daemonClock,
    random: seededRandom(3),
    logger: silentLogger(),
    renderUserData: () => '#cloud-config\n',
    sweepInterval: 0,
  });
  const ticks: TickReport[] = [];
  reconciler.onTick((r) => ticks.push(r));
  const abort = new AbortController();
  opts.before?.({ clock, wp, provider, ticks, queueReads, abort });
  let finished = false;
  const done = runLoop({
    reconciler,
    woodpecker: wp,
    clock: daemonClock,
    logger: silentLogger(),
    interval: opts.interval ?? MIN,
    queuePollInterval: opts.poll ?? 0,
    signal: abort.signal,
    wake: opts.wake,
  }).then(() => {
    finished = true;
  });
  return { clock, wp, provider, ticks, queueReads, abort, done, finished: () => finished };
}

async function stop(h: Harness): Promise<void> {
  h.abort.abort();
  await h.clock.settle();
  assert.ok(h.finished(), 'runLoop returned after the abort');
  await h.done;
}

const at = (ticks: readonly TickReport[]): Array<[string, number]> => ticks.map((t) => [t.mode, t.startedAt - NOW]);

describe('runLoop', () => {
  it('reconciles right at start, then every interval', async () => {
    const h = start({ interval: MIN });
    await h.clock.settle();
    assert.deepEqual(at(h.ticks), [['full', 0]], 'the first reconcile does not wait an interval');
    await h.clock.runUntil(NOW + 3 * MIN);
    assert.deepEqual(at(h.ticks), [
      ['full', 0],
      ['full', MIN],
      ['full', 2 * MIN],
      ['full', 3 * MIN],
    ]);
    assert.deepEqual(h.queueReads, [0, MIN, 2 * MIN, 3 * MIN], 'no queue poll when it is disabled');
    await stop(h);
  });

  it('the queue poll runs a scale-up tick only while work is pending', async () => {
    const h = start({ interval: MIN, poll: 5 * SEC, pendingAt: (t) => (t >= 12 * SEC && t < 17 * SEC ? 1 : 0) });
    await h.clock.runUntil(NOW + MIN);
    assert.deepEqual(at(h.ticks), [
      ['full', 0],
      ['scale-up', 15 * SEC],
      ['full', MIN],
    ]);
    const s = SEC;
    assert.deepEqual(h.queueReads, [0, 5 * s, 10 * s, 15 * s, 15 * s, 20 * s, 25 * s, 30 * s, 35 * s, 40 * s, 45 * s, 50 * s, 55 * s, 60 * s]);
    // the scale-up tick acted on the pending workflow
    assert.deepEqual(
      h.ticks[1]?.plan?.actions.map((a) => a.kind),
      ['create'],
    );
    assert.equal(h.provider.servers.size, 1);
    await stop(h);
  });

  it('a full reconcile postpones the next poll', async () => {
    const h = start({ interval: 10 * SEC, poll: 4 * SEC, pendingAt: () => 0 });
    await h.clock.runUntil(NOW + 20 * SEC);
    // full at 0, polls at 4 and 8, full at 10 (poll re-armed to 14), poll at 14, 18, full at 20
    assert.deepEqual(h.queueReads, [0, 4 * SEC, 8 * SEC, 10 * SEC, 14 * SEC, 18 * SEC, 20 * SEC]);
    await stop(h);
  });

  it('a tick longer than the interval is never overlapped; the next one starts right after it', async () => {
    let first = true;
    const h = start({
      interval: MIN,
      before: ({ wp, clock }) => {
        wp.onList = async () => {
          if (!first) return;
          first = false;
          await clock.sleep(90 * SEC);
        };
      },
    });
    await h.clock.runUntil(NOW + 150 * SEC);
    assert.deepEqual(at(h.ticks), [
      ['full', 0],
      ['full', 90 * SEC],
      ['full', 150 * SEC],
    ]);
    for (let i = 1; i < h.ticks.length; i++) {
      const prev = h.ticks[i - 1];
      const cur = h.ticks[i];
      assert.ok(prev && cur && prev.finishedAt <= cur.startedAt, 'ticks do not overlap');
    }
    await stop(h);
  });

  it('a failed tick is logged and the loop goes on', async () => {
    const h = start({ interval: MIN, before: ({ wp }) => (wp.listError = new Error('502 bad gateway')) });
    await h.clock.settle();
    h.wp.listError = undefined;
    await h.clock.runUntil(NOW + MIN);
    assert.deepEqual(
      h.ticks.map((t) => t.ok),
      [false, true],
    );
    assert.match(h.ticks[0]?.errors.join('\n') ?? '', /502 bad gateway/);
    await stop(h);
  });

  it('abort during a tick finishes that tick (its creates complete) and returns', async () => {
    const harness = start({
      interval: MIN,
      poll: 5 * SEC,
      pendingAt: () => 2,
      before: ({ wp, abort }) => (wp.onList = () => abort.abort()),
    });
    await harness.clock.settle();
    assert.ok(harness.finished(), 'runLoop returned');
    assert.deepEqual(at(harness.ticks), [['full', 0]]);
    assert.deepEqual(
      harness.ticks[0]?.results.map((r) => [r.action.kind, r.outcome]),
      [
        ['create', 'done'],
        ['create', 'done'],
      ],
    );
    assert.equal(harness.provider.servers.size, 2);
    await harness.clock.runFor(5 * MIN);
    assert.equal(harness.ticks.length, 1, 'no tick after the abort');
    await harness.done;
  });

  it('abort while waiting returns without another tick', async () => {
    const h = start({ interval: MIN, poll: 5 * SEC });
    await h.clock.runUntil(NOW + 30 * SEC);
    await stop(h);
    await h.clock.runFor(5 * MIN);
    assert.deepEqual(at(h.ticks), [['full', 0]]);
  });

  it('schedules on monotonic time: the wall clock stepped back 1 h and forward 1 h neither stalls nor bursts ticks', async () => {
    let wall: SteppedClock | undefined;
    const h = start({
      interval: MIN,
      poll: 5 * SEC,
      pendingAt: () => 0,
      daemonClock: (vc) => (wall = new SteppedClock(vc)),
    });
    assert.ok(wall);
    await h.clock.runUntil(NOW + 150 * SEC);
    wall.step(-3_600_000);
    await h.clock.runUntil(NOW + 270 * SEC);
    wall.step(+3_600_000);
    await h.clock.runUntil(NOW + 390 * SEC);
    // Ticks by virtual (monotonic) time: one full tick per minute throughout, polls every 5 s in between.
    assert.deepEqual(
      h.ticks.map((t) => t.mode),
      ['full', 'full', 'full', 'full', 'full', 'full', 'full'],
      'a full tick at 0, 1, …, 6 min of monotonic time',
    );
    assert.equal(h.ticks[3]?.startedAt, NOW + 3 * MIN - 3_600_000, 'reports still carry the (stepped) wall time');
    const reads = h.queueReads;
    for (let i = 1; i < reads.length; i++) {
      const gap = (reads[i] ?? 0) - (reads[i - 1] ?? 0);
      assert.ok(gap <= 5 * SEC, `queue polled every 5 s at most (gap ${gap} ms at read ${i})`);
      assert.ok(gap >= 0, 'no burst of reads');
    }
    assert.deepEqual(
      reads,
      Array.from({ length: 390 / 5 + 1 }, (_, i) => i * 5 * SEC),
      'every 5 s exactly (the full ticks at whole minutes cover the poll), no stall, no extra reads after a jump',
    );
    await stop(h);
  });

  it('an event wakes the queue poll at once; a burst of events costs one poll', async () => {
    const wake = new Wake();
    const h = start({ interval: MIN, poll: 5 * SEC, wake, pendingAt: (t) => (t >= 1_200 ? 1 : 0) });
    await h.clock.runUntil(NOW + 1_200);
    wake.notify();
    wake.notify();
    wake.notify();
    await h.clock.settle();
    assert.deepEqual(h.queueReads, [0, 1_200, 1_200], 'poll at the event (pending, so a scale-up tick reads it again)');
    assert.deepEqual(at(h.ticks), [
      ['full', 0],
      ['scale-up', 1_200],
    ]);
    await h.clock.runUntil(NOW + 7 * SEC);
    assert.deepEqual(h.queueReads.slice(3), [6_200, 6_200], 'the next poll comes one interval after the woken one');
    await stop(h);
  });

  it('an event that arrives during a tick is not lost', async () => {
    const wake = new Wake();
    const h = start({
      interval: MIN,
      poll: 30 * SEC,
      wake,
      before: ({ wp }) => {
        let first = true;
        wp.onList = () => {
          if (first) wake.notify();
          first = false;
        };
      },
    });
    await h.clock.settle();
    assert.deepEqual(h.queueReads, [0, 0], 'the event during the first reconcile polled right after it');
    await stop(h);
  });

  it('the upstream policy ignores events (it reacts once per interval)', async () => {
    const wake = new Wake();
    const h = start({ policy: 'upstream', interval: MIN, poll: 5 * SEC, wake });
    await h.clock.runUntil(NOW + 2 * SEC);
    wake.notify();
    await h.clock.runUntil(NOW + 30 * SEC);
    assert.deepEqual(h.queueReads, [0]);
    await stop(h);
  });
});
