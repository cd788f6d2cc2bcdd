import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inTeardownWindow } from '../../src/engine/planner.js';
import { HOUR, MIN, SEC, config } from './fixtures.js';

/** Creation time of the agent: unix seconds. */
const CREATED = 1_700_000_000;
const CREATED_MS = CREATED * 1000;

interface Case {
  name: string;
  /** agent `created` (unix s) */
  created?: number;
  /** now - created (ms); `now` is passed explicitly */
  age: number;
  margin?: number;
  interval?: number;
  want: boolean;
}

// window = margin + interval = 2 m + 1 m = 3 m unless a case says otherwise (reference §4.10).
const cases: Case[] = [
  { name: 'created 0 (unknown) is never in the window', created: 0, age: 59 * MIN, want: false },
  { name: 'created 0 even with a window of an hour or more', created: 0, age: 59 * MIN, margin: HOUR, want: false },
  { name: 'negative age (created in the future) is never in the window', age: -SEC, want: false },
  { name: 'negative age with a window of an hour or more', age: -MIN, margin: HOUR, want: false },
  { name: 'brand new agent', age: 0, want: false },
  { name: 'in its first paid hour, far from the boundary', age: 30 * MIN, want: false },
  { name: '1 ms before the window opens', age: 57 * MIN - 1, want: false },
  { name: 'exactly at the window start (>=)', age: 57 * MIN, want: true },
  { name: 'inside the window', age: 58 * MIN + 30 * SEC, want: true },
  { name: '1 ms before the hour boundary', age: HOUR - 1, want: true },
  { name: 'exactly at the hour boundary: a new hour has started', age: HOUR, want: false },
  { name: 'second hour, outside the window', age: HOUR + 30 * MIN, want: false },
  { name: 'second hour, inside the window', age: 2 * HOUR - 2 * MIN, want: true },
  { name: 'many hours later, inside the window', age: 25 * HOUR - MIN, want: true },
  { name: 'window of exactly 1 h: always (age 0)', age: 0, margin: 59 * MIN, interval: MIN, want: true },
  { name: 'window over 1 h: always (mid-hour)', age: 30 * MIN, margin: 2 * HOUR, want: true },
  { name: 'window of 1 h - 1 ms: closed only at the boundary itself', age: 0, margin: HOUR - MIN - 1, interval: MIN, want: false },
  { name: 'window of 1 h - 1 ms: open 1 ms after the boundary', age: 1, margin: HOUR - MIN - 1, interval: MIN, want: true },
  { name: 'window 0: never', age: HOUR - 1, margin: 0, interval: 0, want: false },
  { name: 'margin 0: the window is the interval', age: HOUR - MIN, margin: 0, interval: MIN, want: true },
  { name: 'margin 0: just before the interval-wide window', age: HOUR - MIN - 1, margin: 0, interval: MIN, want: false },
];

describe('inTeardownWindow (reference §4.10)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const cfg = config({
        billingModel: 'hourly',
        agentBillingTeardownMargin: c.margin ?? 2 * MIN,
        reconciliationInterval: c.interval ?? MIN,
      });
      const created = c.created ?? CREATED;
      const now = CREATED_MS + c.age;
      assert.equal(inTeardownWindow({ created }, cfg, now), c.want);
    });
  }
});
