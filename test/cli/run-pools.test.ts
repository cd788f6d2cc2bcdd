import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPoolsDaemon } from '../../src/cli/run-pools.js';
import { parsePoolsFile } from '../../src/config/pools-file.js';
import { sandboxValues } from '../../src/sandbox/engine.js';
import { createWorld, realTimeScheduler } from '../../src/sandbox/world.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';

/** `--once --dry-run` with a pools file, against the fakes served on 127.0.0.1: what each pool would do. */
describe('runPoolsDaemon --once --dry-run', () => {
  it('prints each pool’s plan for its own work and the unservable work, and writes nothing', async () => {
    const world = createWorld({ scheduler: realTimeScheduler(systemClock), random: seededRandom(2), grpcAddr: 'woodpecker-server:9000' });
    await world.serve();
    let out = '';
    const original = process.stdout.write.bind(process.stdout);
    try {
      world.queueWorkflow({ durationMs: 60_000, labels: { size: 'large' } });
      world.queueWorkflow({ durationMs: 60_000, labels: { type: 'gpu' } });
      const values = { ...sandboxValues(world, { logLevel: 'error', minAgents: 0 }), once: true, dryRun: true };
      const pools = parsePoolsFile(
        'pools:\n  - id: small\n    agent-labels: size=small\n  - id: large\n    agent-labels: size=large\n',
        'pools.yaml',
        values,
      );
      process.stdout.write = ((chunk: string | Uint8Array): boolean => {
        out += String(chunk);
        return true;
      }) as typeof process.stdout.write;
      const code = await runPoolsDaemon(pools, { grpcProbe: false }, globalThis.fetch);
      process.stdout.write = original;
      // The test runner reports on stdout too: only the daemon's lines count.
      out = out.slice(out.indexOf('[pool small]'));
      assert.equal(code, 0, out);
      const [small, large] = out.split(/^\[pool large\]$/m);
      assert.match(small ?? '', /^\[pool small\]\n(?: {2}.*\n)* {2}pool: .*queue: 0 pending/);
      assert.match(small ?? '', /no action needed/);
      assert.match(large ?? '', /queue: 1 pending/);
      assert.match(large ?? '', /would: create .* pending-work/);
      assert.match(out, /^unservable: 1 pending task\(s\) with labels org-id=1,repo=acme\/app,type=gpu/m);
      assert.equal(world.vms().length, 0, 'a dry run creates nothing');
    } finally {
      process.stdout.write = original;
      await world.close();
    }
  });
});
