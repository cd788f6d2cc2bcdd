import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideLease,
  initialLeaseMemory,
  leaseName,
  leaseRecords,
  leaseTtl,
  type LeaseMemory,
  type LeaseRecord,
  type LeaseStep,
} from '../../src/engine/lease.js';
import { poolNamePattern } from '../../src/engine/pool.js';
import type { WoodpeckerAgent } from '../../src/woodpecker/types.js';

const INST = 'inst1';
const TTL = 90_000;

function rec(id: number, holder: string, seq = 0): LeaseRecord {
  return { id, name: leaseName(INST, holder, seq), holder, seq };
}

function wpAgent(id: number, name: string, over: Partial<WoodpeckerAgent> = {}): WoodpeckerAgent {
  return {
    id,
    created: 1,
    updated: 1,
    name,
    owner_id: 1,
    token: 'tok',
    last_contact: 0,
    last_work: 0,
    platform: '',
    backend: '',
    capacity: 0,
    version: '',
    no_schedule: true,
    custom_labels: {},
    org_id: -1,
    ...over,
  };
}

/** A short description of a step, for the tables. */
function show(step: LeaseStep): string {
  switch (step.kind) {
    case 'create':
      return 'create';
    case 'renew':
      return `renew #${step.record.id} → ${step.name.split('.').slice(1).join('.')}${step.cleanup.length ? ` cleanup ${step.cleanup.map((r) => `#${r.id}`).join(',')}` : ''}`;
    case 'yield':
      return `yield #${step.own.id} to #${step.holder.id}`;
    case 'wait':
      return `wait #${step.holder.id}`;
    case 'take-over':
      return `take-over #${step.holder.id}`;
    case 'hold':
      return `hold #${step.record.id}`;
    case 'not-holder':
      return `not-holder${step.holder ? ` #${step.holder.id}` : ''}`;
  }
}

describe('lease: records', () => {
  it('only drained, never-connected records named for this installation are lease records, lowest id first', () => {
    const agents = [
      wpAgent(9, leaseName(INST, 'bbb', 3)),
      wpAgent(4, leaseName(INST, 'aaa', 12)),
      wpAgent(5, leaseName('inst10', 'ccc', 0)), // another installation
      wpAgent(6, leaseName(INST, 'ddd', 0), { last_contact: 100 }), // a real agent someone named like ours
      wpAgent(7, leaseName(INST, 'eee', 0), { no_schedule: false }),
      wpAgent(8, `${leaseName(INST, 'fff', 0)}x`),
      wpAgent(10, 'pool-1-agent-abcd', { no_schedule: false, last_contact: 5 }),
    ];
    assert.deepEqual(
      leaseRecords(agents, INST).map((r) => [r.id, r.holder, r.seq]),
      [
        [4, 'aaa', 12],
        [9, 'bbb', 3],
      ],
    );
  });

  it('a lease record never matches the pool pattern (never counted, drained or removed as an agent)', () => {
    for (const pool of ['1', INST, 'lease', 'twcloud-scaler']) {
      assert.equal(poolNamePattern(pool).test(leaseName(INST, 'abcdefgh', 7)), false, pool);
    }
  });

  it('TTL: 3 × interval, at least 90 s', () => {
    assert.equal(leaseTtl(10_000), 90_000);
    assert.equal(leaseTtl(60_000), 180_000);
  });
});

describe('lease: decisions', () => {
  const me = 'me';
  const base = initialLeaseMemory(me);
  const holding: LeaseMemory = { ...base, heldSince: 0, renewedAt: 1_000 };
  const cases: Array<{
    what: string;
    records: LeaseRecord[];
    memory?: LeaseMemory;
    now?: number;
    mode?: 'full' | 'scale-up';
    want: string;
  }> = [
    { what: 'alone, no record: create one', records: [], want: 'create' },
    { what: 'ours is the only record: renew it', records: [rec(3, me, 4)], memory: holding, want: 'renew #3 → me.5' },
    { what: 'ours is the lowest of two: renew (the other one yields itself)', records: [rec(3, me), rec(5, 'other')], memory: holding, want: 'renew #3 → me.1' },
    { what: 'a lower record than ours: yield', records: [rec(2, 'other'), rec(3, me)], want: 'yield #3 to #2' },
    { what: 'another holder, first seen now: wait', records: [rec(2, 'other', 8)], want: 'wait #2' },
    {
      what: 'another holder renewed (name changed) since it was first seen: wait',
      records: [rec(2, 'other', 9)],
      memory: { ...base, seen: [{ id: 2, name: leaseName(INST, 'other', 8), since: 0 }] },
      now: 200_000,
      want: 'wait #2',
    },
    {
      what: 'another holder unchanged for less than the TTL: wait',
      records: [rec(2, 'other', 8)],
      memory: { ...base, seen: [{ id: 2, name: leaseName(INST, 'other', 8), since: 0 }] },
      now: TTL - 1,
      want: 'wait #2',
    },
    {
      what: 'another holder unchanged for the TTL of our monotonic time: take over',
      records: [rec(2, 'other', 8)],
      memory: { ...base, seen: [{ id: 2, name: leaseName(INST, 'other', 8), since: 0 }] },
      now: TTL,
      want: 'take-over #2',
    },
    {
      what: 'holder: an abandoned higher record unchanged for the TTL is cleaned up',
      records: [rec(3, me), rec(7, 'dead')],
      memory: { ...holding, seen: [{ id: 7, name: leaseName(INST, 'dead', 0), since: 0 }] },
      now: TTL,
      want: 'renew #3 → me.1 cleanup #7',
    },
    {
      what: 'holder: a duplicate record of ours (after an ambiguous create) is cleaned up at once',
      records: [rec(3, me), rec(4, me)],
      memory: holding,
      want: 'renew #3 → me.1 cleanup #4',
    },
    { what: 'scale-up tick, holder renewed recently: hold', records: [rec(3, me)], memory: holding, now: 2_000, mode: 'scale-up', want: 'hold #3' },
    {
      what: 'scale-up tick, our last renew older than the write window (2/3 TTL): do not act',
      records: [rec(3, me)],
      memory: holding,
      now: 1_000 + (TTL * 2) / 3,
      mode: 'scale-up',
      want: 'not-holder #3',
    },
    { what: 'scale-up tick, our record is gone: do not act', records: [rec(5, 'other')], memory: holding, now: 2_000, mode: 'scale-up', want: 'not-holder #5' },
    { what: 'scale-up tick, no record at all: never creates', records: [], mode: 'scale-up', want: 'not-holder' },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const { step } = decideLease({ records: c.records, memory: c.memory ?? base, now: c.now ?? 0, ttl: TTL, mode: c.mode ?? 'full' });
      assert.equal(show(step), c.want);
    });
  }

  it('expiry is judged on our own monotonic time from when the name was first seen, across ticks', () => {
    let mem = base;
    const steps: string[] = [];
    const holderSeq = [1, 2, 2, 2, 2];
    const times = [0, 60_000, 120_000, 150_000, 210_000];
    times.forEach((t, i) => {
      const r = decideLease({ records: [rec(2, 'other', holderSeq[i])], memory: mem, now: t, ttl: TTL, mode: 'full' });
      mem = r.memory;
      steps.push(show(r.step));
    });
    // renewed at 60 s (seq 2), then silent: 150 s is exactly 90 s later.
    assert.deepEqual(steps, ['wait #2', 'wait #2', 'wait #2', 'take-over #2', 'take-over #2']);
  });

  it('losing the lease (a lower record appears, or ours is gone) forgets that we held it', () => {
    const yielded = decideLease({ records: [rec(2, 'other'), rec(3, me)], memory: holding, now: 5, ttl: TTL, mode: 'full' });
    assert.equal(yielded.memory.renewedAt, undefined);
    const gone = decideLease({ records: [rec(9, 'other')], memory: holding, now: 5, ttl: TTL, mode: 'full' });
    assert.equal(show(gone.step), 'wait #9');
    assert.equal(gone.memory.heldSince, undefined);
  });
});
