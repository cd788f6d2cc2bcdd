import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';

describe('VirtualClock', () => {
  it('starts at the given time and only moves when driven', async () => {
    const clock = new VirtualClock({ start: 1_000 });
    assert.equal(clock.now(), 1_000);
    let woke = false;
    void clock.sleep(500).then(() => {
      woke = true;
    });
    await clock.settle();
    assert.equal(woke, false);
    assert.equal(clock.now(), 1_000);
    assert.equal(await clock.advance(), true);
    assert.equal(woke, true);
    assert.equal(clock.now(), 1_500);
    assert.equal(await clock.advance(), false);
  });

  it('fires timers in time order, ties in registration order', async () => {
    const clock = new VirtualClock({ start: 0 });
    const order: string[] = [];
    for (const [name, ms] of [
      ['c', 30],
      ['a', 10],
      ['b1', 20],
      ['b2', 20],
      ['d', 40],
    ] as const) {
      void clock.sleep(ms).then(() => order.push(`${name}@${clock.now()}`));
    }
    await clock.runUntil(35);
    assert.deepEqual(order, ['a@10', 'b1@20', 'b2@20', 'c@30']);
    assert.equal(clock.now(), 35);
    await clock.runUntil(100);
    assert.deepEqual(order.at(-1), 'd@40');
    assert.equal(clock.now(), 100);
  });

  it('lets async chains between sleeps run before time moves on', async () => {
    const clock = new VirtualClock({ start: 0 });
    const seen: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        // a chain of awaits and a real macrotask hop between sleeps
        await Promise.resolve();
        await new Promise((r) => setImmediate(r));
        seen.push(clock.now());
        await clock.sleep(1_000);
      }
    };
    const done = loop();
    await clock.runUntil(10_000);
    await done;
    assert.deepEqual(seen, [0, 1_000, 2_000, 3_000, 4_000]);
  });

  it('waits for tracked work before jumping', async () => {
    const clock = new VirtualClock({ start: 0 });
    let finishedAt = -1;
    const work = async (): Promise<void> => {
      // ten real macrotask turns: more than the quiet-turn threshold
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      finishedAt = clock.now();
    };
    void clock.track(work());
    void clock.sleep(1_000);
    await clock.advance();
    assert.equal(finishedAt, 0);
    assert.equal(clock.now(), 1_000);
  });

  it('aborting a sleep rejects it and drops its timer', async () => {
    const clock = new VirtualClock({ start: 0 });
    const ctrl = new AbortController();
    const p = clock.sleep(5_000, ctrl.signal);
    assert.equal(clock.pendingTimers, 1);
    ctrl.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(await clock.advance(), false);
    await assert.rejects(clock.sleep(1, ctrl.signal), /stop/);
  });

  it('every() repeats until cancelled; runWhile stops on a condition', async () => {
    const clock = new VirtualClock({ start: 0 });
    const ticks: number[] = [];
    const h = clock.every(100, () => ticks.push(clock.now()));
    const ok = await clock.runWhile(() => ticks.length >= 3, 10_000);
    assert.equal(ok, true);
    assert.deepEqual(ticks, [100, 200, 300]);
    h.cancel();
    assert.equal(await clock.runWhile(() => false, 1_000), false);
    assert.equal(clock.now(), 1_000);
    assert.equal(ticks.length, 3);
  });

  it('many timers stay ordered (heap)', async () => {
    const clock = new VirtualClock({ start: 0 });
    const fired: number[] = [];
    const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    for (const t of times) clock.at(t, () => fired.push(t));
    await clock.runUntil(1_000);
    assert.deepEqual(fired, [...times].sort((a, b) => a - b));
  });
});
