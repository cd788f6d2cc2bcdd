import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_WORKLOADS,
  WorkloadError,
  builtinWorkload,
  loadWorkload,
  parseCsvWorkload,
  parseJsonWorkload,
} from '../../src/sandbox/workloads.js';

const H = 3_600_000;

describe('built-in workloads', () => {
  for (const name of BUILTIN_WORKLOADS) {
    it(`${name}: a day of sorted arrivals, deterministic per seed`, () => {
      const a = builtinWorkload(name, { seed: 7 });
      const b = builtinWorkload(name, { seed: 7 });
      const c = builtinWorkload(name, { seed: 8 });
      assert.deepEqual(a, b);
      assert.notDeepEqual(a.items, c.items);
      assert.ok(a.items.length > 20, `${a.items.length} workflows`);
      assert.equal(a.span, 24 * H);
      for (let i = 1; i < a.items.length; i++) {
        assert.ok((a.items[i]?.arrival ?? 0) >= (a.items[i - 1]?.arrival ?? 0));
      }
      for (const it of a.items) {
        assert.ok(it.arrival >= 0 && it.arrival < 24 * H);
        assert.ok(it.duration >= 60_000 && it.duration <= 40 * 60_000);
      }
    });
  }

  it('office-day is quiet at night and busy in office hours', () => {
    const w = builtinWorkload('office-day', { seed: 3 });
    const inHours = (from: number, to: number): number =>
      w.items.filter((i) => i.arrival >= from * H && i.arrival < to * H).length;
    assert.ok(inHours(10, 12) > 4 * inHours(3, 7));
  });

  it('span shortens the generated workload', () => {
    const w = builtinWorkload('steady', { seed: 1, span: 2 * H });
    assert.equal(w.span, 2 * H);
    assert.ok(w.items.every((i) => i.arrival < 2 * H));
  });
});

describe('workload files', () => {
  it('JSON: seconds or ISO arrivals, labels', () => {
    const w = parseJsonWorkload(
      JSON.stringify([
        { arrival: 60, duration: 300, labels: { repo: 'acme/web' } },
        { arrival: 0, duration: 30.5 },
      ]),
    );
    assert.deepEqual(w.items, [
      { arrival: 0, duration: 30_500 },
      { arrival: 60_000, duration: 300_000, labels: { repo: 'acme/web' } },
    ]);
    const iso = parseJsonWorkload(
      JSON.stringify({
        workflows: [
          { arrival: '2025-03-01T10:05:00Z', duration: 60 },
          { arrival: '2025-03-01T10:00:00Z', duration: 60 },
        ],
      }),
    );
    assert.deepEqual(
      iso.items.map((i) => i.arrival),
      [0, 300_000],
    );
  });

  it('CSV: optional header, comments, k=v;k2=v2 labels, quotes', () => {
    const w = parseCsvWorkload(
      ['arrival,duration,labels', '# a comment', '0,120,repo=acme/web;size=large', '', '30,60,', '"45","90","a=b"'].join('\n'),
    );
    assert.deepEqual(w.items, [
      { arrival: 0, duration: 120_000, labels: { repo: 'acme/web', size: 'large' } },
      { arrival: 30_000, duration: 60_000 },
      { arrival: 45_000, duration: 90_000, labels: { a: 'b' } },
    ]);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['JSON not an array', () => parseJsonWorkload('{"x":1}'), /expected an array/],
    ['JSON invalid', () => parseJsonWorkload('[{'), /invalid JSON/],
    ['negative duration', () => parseJsonWorkload('[{"arrival":0,"duration":-1}]'), /duration/],
    ['bad arrival', () => parseJsonWorkload('[{"arrival":"soon","duration":1}]'), /arrival/],
    ['CSV missing duration', () => parseCsvWorkload('10'), /arrival,duration/],
    ['CSV bad label', () => parseCsvWorkload('1,2,oops'), /key=value/],
  ];
  for (const [name, fn, re] of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(fn, (e: unknown) => e instanceof WorkloadError && re.test(e.message));
    });
  }

  it('loadWorkload: built-in name, a file by extension, or a clear error', () => {
    assert.equal(loadWorkload('bursty', { seed: 2 }).name, 'bursty');
    const files: Record<string, string> = { 'w.csv': '0,60\n', 'w.json': '[{"arrival":1,"duration":2}]' };
    const readFile = (p: string): string => {
      const t = files[p];
      if (t === undefined) throw new Error('ENOENT');
      return t;
    };
    assert.equal(loadWorkload('w.csv', { readFile }).items.length, 1);
    assert.equal(loadWorkload('w.json', { readFile }).items[0]?.arrival, 1_000);
    assert.throws(() => loadWorkload('nope', { readFile }), /neither a built-in/);
  });
});

describe('docs/simulator.md', () => {
  it('its workload examples parse', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../docs/simulator.md', import.meta.url), 'utf8');
    const blocks = [...text.matchAll(/```(json|csv)\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 3);
    for (const [, kind, body] of blocks) {
      const w = kind === 'json' ? parseJsonWorkload(body ?? '') : parseCsvWorkload(body ?? '');
      assert.ok(w.items.length >= 2, `${kind} example`);
    }
  });
});
