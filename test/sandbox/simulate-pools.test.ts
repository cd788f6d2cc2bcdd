import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simulate } from '../../src/sandbox/simulate.js';
import type { World } from '../../src/sandbox/world.js';
import type { Workload } from '../../src/sandbox/workloads.js';

const M = 60_000;

/** `simulate` with a pools file and a labelled workload: every pool runs, each only for its own work. */
describe('simulate with --pools-file', () => {
  it('creates servers per pool for its own workflows, none for unservable ones, and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-pools-'));
    try {
      const file = join(dir, 'pools.yaml');
      writeFileSync(file, 'pools:\n  - id: small\n    max-agents: 3\n    agent-labels: size=small\n  - id: large\n    max-agents: 2\n    agent-labels: size=large\n');
      const small = { size: 'small' };
      const large = { size: 'large' };
      const workload: Workload = {
        name: 'labelled',
        span: 40 * M,
        items: [
          { arrival: 0, duration: 10 * M, labels: small },
          { arrival: 1 * M, duration: 10 * M, labels: large },
          { arrival: 2 * M, duration: 10 * M, labels: { type: 'gpu' } },
          { arrival: 5 * M, duration: 10 * M, labels: small },
          { arrival: 30 * M, duration: 5 * M, labels: small },
        ],
      };
      let world: World | undefined;
      const r = await simulate({
        workload,
        values: { poolsFile: file, minAgents: 0, timewebcloudBilling: 'per-second', agentIdleTimeout: 5 * M },
        maxOvertime: 30 * M,
        tail: 30 * M,
        setup: (w) => {
          world = w;
        },
      });
      assert.equal(r.settings.pools, 'small (size=small, 0-3 agents); large (size=large, 0-2 agents)');
      assert.equal(r.settings.unservable, 1);
      assert.deepEqual(r.workflows, { queued: 5, completed: 4, unfinished: 1, restarted: 0 });
      const names = world?.vms().map((v) => v.name) ?? [];
      const of = (pool: string): number => names.filter((n) => n.startsWith(`pool-${pool}-agent-`)).length;
      assert.ok(of('small') >= 1 && of('small') <= 3, `small servers: ${of('small')}`);
      assert.equal(of('large'), 1);
      assert.equal(names.length, of('small') + of('large'), 'nothing created for the gpu workflow');
      assert.equal(r.leftover.servers, 0, 'every pool shrank to 0 after its work although gpu work still waits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
