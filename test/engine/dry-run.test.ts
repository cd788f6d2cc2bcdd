import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OptionValues } from '../../src/config/types.js';
import type { ActionKind } from '../../src/engine/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { isOwnedFloatingIp } from '../../src/providers/timeweb/ownership.js';
import { buildSandboxEngine, sandboxValues } from '../../src/sandbox/engine.js';
import { drive } from '../../src/sandbox/simulate.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld } from '../../src/sandbox/world.js';
import { seededRandom } from '../../src/util/clock.js';
import type { FetchFn } from '../../src/util/clock.js';

const S = 1000;
const M = 60 * S;

/**
 * `--dry-run` observes and plans, and sends no write to either API: every request both fakes receive during dry-run
 * ticks is a GET, in a world that invites every kind of write (floating IPs without our comment, idle agents to
 * drain, a failed server to remove, pending work to create servers for).
 */
describe('--dry-run', () => {
  it('sends only GET requests to Woodpecker and Timeweb, whatever it plans', async () => {
    const clock = new VirtualClock();
    const world = createWorld({
      scheduler: clock,
      random: seededRandom(3),
      grpcAddr: 'woodpecker-server:9000',
      bootDelay: 60 * S,
      agentStartDelay: 20 * S,
      track: (p) => clock.track(p),
    });
    const user: OptionValues = {
      minAgents: 0,
      maxAgents: 4,
      workflowsPerAgent: 1,
      timewebcloudBilling: 'per-second',
      agentIdleTimeout: 60 * M,
    };
    const build = (values: OptionValues) =>
      drive(clock, buildSandboxEngine({ values, clock, fetch: world.fetch, random: seededRandom(9), logger: silentLogger() }));
    const ticks = async (engine: Awaited<ReturnType<typeof build>>, n: number): Promise<Set<ActionKind>> => {
      const planned = new Set<ActionKind>();
      for (let i = 0; i < n; i++) {
        const r = await drive(clock, engine.reconciler.tick('full'));
        for (const a of r.plan?.actions ?? []) planned.add(a.kind);
        await clock.runFor(30 * S);
      }
      return planned;
    };

    // A real (writing) engine brings up three agents that run a workflow each.
    const live = await build(sandboxValues(world, user));
    for (let i = 0; i < 3; i++) world.queueWorkflow({ durationMs: 2 * M });
    await ticks(live, 16);
    const st = world.woodpecker.state();
    assert.equal(st.completed.length, 3, 'the warm-up ran its workflows');
    const ours = world.timeweb.servers().filter((s) => /^pool-1-agent-/.test(s.name) && s.comment !== '');
    assert.equal(ours.length, 3);
    // Our IPs lose their comment (the state right after a create), and one server stops being paid for.
    const ourIps = world.timeweb.floatingIps().filter((ip) => ours.some((s) => s.id === ip.resource_id));
    assert.equal(ourIps.length, 3);
    for (const ip of ourIps) {
      const res = await drive(
        clock,
        world.fetch(`${world.urls.timeweb}/api/v1/floating-ips/${ip.id}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${world.timewebToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ comment: '' }),
        }),
      );
      assert.equal(res.status, 200);
    }
    world.timeweb.setServerStatus(ours[0]?.id ?? 0, 'no_paid');

    // The dry run: every request is recorded.
    const seen: string[] = [];
    const recording: FetchFn = (input, init) => {
      const req = new Request(input, init);
      seen.push(`${req.method} ${new URL(req.url).pathname}`);
      return world.fetch(req);
    };
    const dry = await drive(
      clock,
      buildSandboxEngine({
        values: { ...sandboxValues(world, { ...user, agentIdleTimeout: 1 * M }), dryRun: true },
        clock,
        fetch: recording,
        random: seededRandom(11),
        logger: silentLogger(),
      }),
    );
    const idle = await ticks(dry, 4);
    for (let i = 0; i < 6; i++) world.queueWorkflow({ durationMs: 30 * M, labels: { type: 'none-yet' } });
    const busy = await ticks(dry, 4);

    const planned = new Set([...idle, ...busy]);
    for (const kind of ['drain', 'remove-agent', 'create'] as const) assert.ok(planned.has(kind), `the dry run planned a ${kind}: ${[...planned].join(', ')}`);
    assert.ok(seen.some((x) => x === 'GET /api/v1/servers') && seen.some((x) => x === 'GET /api/agents'), seen.join(', '));
    assert.deepEqual(
      seen.filter((x) => !x.startsWith('GET ')),
      [],
      'a dry run sends no write',
    );
    for (const ip of world.timeweb.floatingIps().filter((x) => ourIps.some((o) => o.id === x.id))) {
      assert.equal(isOwnedFloatingIp(ip, { poolId: '1', installationId: dry.engine.installationId }), false, 'the IPs are still unmarked');
    }

    // The same start without --dry-run marks them after its first tick (the marking moved, it did not vanish).
    await ticks(await build(sandboxValues(world, user)), 1);
    const marked = world.timeweb.floatingIps().filter((x) => ourIps.some((o) => o.id === x.id) && isOwnedFloatingIp(x, { poolId: '1', installationId: dry.engine.installationId }));
    assert.ok(marked.length >= 2, `${marked.length} of our IPs marked again`);
    await world.close();
  });
});
