import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseGoDuration } from '../../src/config/duration.js';

describe('parseGoDuration', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['0s', 0],
    ['90s', 90_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['300ms', 300],
    ['1m30s', 90_000],
    ['.5s', 500],
    ['5.s', 5000],
    ['+5s', 5000],
    ['-2m', -120_000],
    ['1h1m1s1ms', 3_661_001],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['0.001s', 1],
    ['10m', 600_000],
    ['24h', 86_400_000],
  ];
  for (const [input, ms] of valid) {
    it(`parses ${JSON.stringify(input)} as ${ms} ms`, () => {
      assert.equal(parseGoDuration(input), ms);
    });
  }

  const invalid: [string, RegExp][] = [
    ['', /invalid duration ""/],
    ['60', /missing unit in duration "60"/],
    ['00', /missing unit/],
    ['1d', /unknown unit "d" in duration "1d"/],
    ['1h 30m', /unknown unit "h "/],
    [' 1h', /invalid duration/],
    ['1h ', /unknown unit "h "/],
    ['.s', /invalid duration/],
    ['-', /invalid duration/],
    ['s', /invalid duration/],
    ['1..5s', /missing unit/],
    ['1S', /unknown unit "S"/],
    ['abc', /invalid duration/],
    ['1e3s', /unknown unit "e"/],
    ['3000000h', /too large/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseGoDuration(input), message);
    });
  }
});

describe('formatDuration', () => {
  const table: [number, string][] = [
    [0, '0s'],
    [300, '300ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [45_000, '45s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_601_000, '1h1s'],
    [9_900_000, '2h45m'],
    [-120_000, '-2m'],
    [0.5, '500us'],
    [0.0015, '1500ns'],
  ];
  for (const [ms, text] of table) {
    it(`formats ${ms} ms as ${text} and parses back`, () => {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseGoDuration(text), ms);
    });
  }
});
