import { instancesSuite } from './instances-suite.js';

// Both daemons' wall clocks half an hour off the servers' (one ahead, one behind), then stepped back and forward by
// an hour, twice: no full-tick gap beyond two intervals, no healthy agent removed as stale or never-connected.
instancesSuite('chaos: daemon wall clocks skewed and stepped ±1 h', { quick: 2, long: 8 }, (seed) => ({
  seed: 1000 + seed,
  instances: 2,
  maxAgents: 3,
  freeze: false,
  restarts: false,
  clockJumps: true,
  jitterMs: 1_000,
}));
