import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { calcDelta } from '../../src/engine/planner.js';
import type { Policy } from '../../src/engine/types.js';

interface Case {
  name: string;
  free: number;
  running: number;
  pending: number;
  /** schedulable pool agents (booting ones included) */
  active: number;
  /** of which never contacted and young (incoming capacity in the default policy) */
  booting?: number;
  min: number;
  max: number;
  wpa: number;
  /** expected delta per policy; one number when the policies agree */
  delta: number | Record<Policy, number>;
  available?: number | Record<Policy, number>;
  required?: number;
}

// The upstream formula (reference §4.2): available = ceil((free+running)/wpa), required = ceil((pending+running)/wpa),
// delta = clamp(required - available, -(active-min), max-active) with MAX applied last.
const cases: Case[] = [
  { name: 'nothing to do, empty pool', free: 0, running: 0, pending: 0, active: 0, min: 0, max: 10, wpa: 2, delta: 0, available: 0, required: 0 },
  { name: 'pending work scales up', free: 0, running: 0, pending: 3, active: 0, min: 0, max: 10, wpa: 2, delta: 2, available: 0, required: 2 },
  { name: 'pending work with wpa 1', free: 0, running: 0, pending: 3, active: 0, min: 0, max: 10, wpa: 1, delta: 3 },
  { name: 'a free slot covers one pending workflow', free: 1, running: 0, pending: 1, active: 1, min: 0, max: 10, wpa: 1, delta: 0 },
  { name: 'half-free agent rounds up to one agent of capacity', free: 1, running: 0, pending: 1, active: 1, min: 0, max: 10, wpa: 2, delta: 0, available: 1, required: 1 },
  { name: 'idle capacity scales down', free: 4, running: 0, pending: 0, active: 2, min: 0, max: 10, wpa: 2, delta: -2, available: 2, required: 0 },
  { name: 'MIN limits the scale-down', free: 4, running: 0, pending: 0, active: 4, min: 3, max: 10, wpa: 1, delta: -1 },
  { name: 'pool at MIN with idle capacity: no change', free: 4, running: 0, pending: 0, active: 1, min: 1, max: 10, wpa: 1, delta: 0 },
  { name: 'MIN forces a positive delta with no work at all', free: 0, running: 0, pending: 0, active: 0, min: 2, max: 10, wpa: 1, delta: 2 },
  { name: 'MIN forces a positive delta despite idle slots', free: 5, running: 0, pending: 0, active: 1, min: 3, max: 10, wpa: 1, delta: 2 },
  { name: 'MAX caps the scale-up', free: 0, running: 0, pending: 20, active: 2, min: 0, max: 5, wpa: 1, delta: 3 },
  { name: 'pool at MAX: no scale-up', free: 0, running: 5, pending: 5, active: 5, min: 0, max: 5, wpa: 1, delta: 0 },
  { name: 'MAX forces a negative delta on a busy pool', free: 0, running: 7, pending: 0, active: 7, min: 0, max: 5, wpa: 1, delta: -2 },
  { name: 'MIN > MAX: MAX wins (below both)', free: 0, running: 0, pending: 0, active: 0, min: 5, max: 3, wpa: 1, delta: 3 },
  { name: 'MIN > MAX: MAX wins (between them)', free: 0, running: 0, pending: 0, active: 4, min: 5, max: 3, wpa: 1, delta: -1 },
  // Upstream PR #674: the formula must not subtract the pool again; a fully busy pool with a backlog grows.
  { name: 'fully busy pool with a backlog grows', free: 0, running: 4, pending: 2, active: 2, min: 0, max: 10, wpa: 2, delta: 1, available: 2, required: 3 },
  { name: 'fully busy pool without backlog is stable', free: 0, running: 4, pending: 0, active: 2, min: 0, max: 10, wpa: 2, delta: 0 },
  // Free slots of static (non-pool) agents count too, even if they cannot run the pending work (upstream #133).
  { name: 'free slots on static agents suppress the scale-up', free: 2, running: 0, pending: 2, active: 0, min: 0, max: 10, wpa: 1, delta: 0 },
  // Default policy: booting agents are incoming capacity (upstream #137). Same inputs, different delta.
  {
    name: 'backlog while two agents boot',
    free: 0, running: 0, pending: 2, active: 2, booting: 2, min: 0, max: 10, wpa: 1,
    delta: { upstream: 2, default: 0 },
    available: { upstream: 0, default: 2 },
    required: 2,
  },
  {
    name: 'bigger backlog than the booting agents cover',
    free: 0, running: 0, pending: 6, active: 1, booting: 1, min: 0, max: 10, wpa: 2,
    delta: { upstream: 3, default: 2 },
  },
  {
    name: 'booting agents with no work: the default policy sees excess capacity (MIN still holds)',
    free: 0, running: 0, pending: 0, active: 3, booting: 3, min: 1, max: 10, wpa: 1,
    delta: { upstream: 0, default: -2 },
  },
  {
    name: 'booting agents next to a fully busy pool',
    free: 0, running: 4, pending: 4, active: 3, booting: 1, min: 0, max: 10, wpa: 2,
    delta: { upstream: 2, default: 1 },
  },
];

function pick(v: number | Record<Policy, number>, policy: Policy): number {
  return typeof v === 'number' ? v : v[policy];
}

describe('calcDelta (reference §4.2)', () => {
  for (const policy of ['upstream', 'default'] as const) {
    describe(policy, () => {
      for (const c of cases) {
        it(c.name, () => {
          const got = calcDelta(
            { free: c.free, running: c.running, pending: c.pending, active: c.active, booting: c.booting ?? 0 },
            { policy, minAgents: c.min, maxAgents: c.max, workflowsPerAgent: c.wpa },
          );
          assert.equal(got.delta, pick(c.delta, policy), 'delta');
          if (c.available !== undefined) assert.equal(got.available, pick(c.available, policy), 'available');
          if (c.required !== undefined) assert.equal(got.required, c.required, 'required');
          assert.ok(Number.isInteger(got.delta), 'delta is an integer');
        });
      }
    });
  }
});
