import { instancesSuite } from './instances-suite.js';

// Two instances of one installation: interleaved requests, the acting one frozen mid-tick past the lease TTL,
// kills, graceful stops and restarts. Safety invariants throughout; exactly one acting instance at the end.
instancesSuite('chaos: two instances of one installation', { quick: 5, long: 24 }, (seed) => ({
  seed,
  instances: 2,
  maxAgents: 2 + (seed % 2),
  freeze: true,
  restarts: true,
  clockJumps: false,
  jitterMs: 3_000,
}));
