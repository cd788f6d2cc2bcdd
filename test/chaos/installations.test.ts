import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAssembled } from '../../src/assemble.js';
import type { Policy } from '../../src/engine/types.js';
import { legacyServerComment, parseMarker } from '../../src/providers/timeweb/ownership.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { buildSandboxEngine, sandboxValues } from '../../src/sandbox/engine.js';
import type { SandboxEngine } from '../../src/sandbox/engine.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld } from '../../src/sandbox/world.js';
import { seededRandom } from '../../src/util/clock.js';
import type { FetchFn } from '../../src/util/clock.js';
import { captureLogger } from '../timeweb/helpers.js';

/**
 * Two installations in ONE Timeweb account with the SAME pool id (issue 9): A (its own Woodpecker server) runs
 * workflows; B (another Woodpecker server) has an empty queue and reconciles again and again. Before, B deleted
 * A's servers and IPs (its marker said only `pool=1`), and both deleted agents a person or the Go autoscaler named
 * like the pool. Bounded by count: B's full reconciles and A's finished workflows, not wall-clock speed.
 */

const S = 1000;
const M = 60 * S;
const B_URL = 'http://woodpecker-b.sandbox.internal';
const B_TOKEN = 'sandbox-woodpecker-b-admin-token';
const B_TICKS = 60;

interface Outcome {
  bWritesToA: string[];
  bWrites: string[];
  bFullTicks: number;
  bForeignServersSeen: number;
  bWarningsPerResource: Map<string, number>;
  aWorkflows: { queued: number; success: number; other: number };
  aLostServer: string[];
  lookalikesTouched: string[];
  aServersCreated: number;
}

async function twoInstallations(seed: number, policy: Policy): Promise<Outcome> {
  const clock = new VirtualClock();
  const start = clock.now();
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(seed),
    grpcAddr: 'woodpecker-server:9000',
    track: (p) => clock.track(p),
  });
  const wpB = createFakeWoodpecker({ clock, random: seededRandom(seed + 1), adminToken: B_TOKEN });

  // Look-alikes on both Woodpecker servers: a person's agent and the Go autoscaler's (4 random letters).
  const lookalikes = [
    ...['pool-1-agent-manual', 'pool-1-agent-AbCd'].map((name) => ({ wp: world.woodpecker, a: world.woodpecker.seedAgent({ name }) })),
    ...['pool-1-agent-manual', 'pool-1-agent-QwEr'].map((name) => ({ wp: wpB, a: wpB.seedAgent({ name }) })),
  ];

  /** Ids of A's servers and IPs as they appear (by A's own creates). */
  const aServerIds = new Set<number>();
  const aServerNames = new Set<string>();
  world.onEvent((e) => {
    if (e.kind !== 'server-created') return;
    for (const s of world.timeweb.serverByName(e.subject)) {
      aServerIds.add(s.id);
      aServerNames.add(s.name);
    }
  });
  const aIp = (id: string): boolean => {
    const ip = world.timeweb.floatingIps().find((x) => x.id === id);
    if (!ip) return false;
    return (ip.resource_id !== null && aServerIds.has(ip.resource_id)) || aServerNames.has(parseMarker(ip.comment)?.server ?? '');
  };

  const out: Outcome = {
    bWritesToA: [],
    bWrites: [],
    bFullTicks: 0,
    bForeignServersSeen: 0,
    bWarningsPerResource: new Map(),
    aWorkflows: { queued: 0, success: 0, other: 0 },
    aLostServer: [],
    lookalikesTouched: [],
    aServersCreated: 0,
  };

  const agentWrite = (path: string, method: string, who: string): void => {
    const m = /^\/api\/agents\/(\d+)/.exec(path);
    if (!m || method === 'GET') return;
    for (const l of lookalikes) if (String(l.a.id) === m[1]) out.lookalikesTouched.push(`${who} ${method} agent ${l.a.name}`);
  };

  // A: the world's own routing. Every DELETE of a server is checked against A's running work.
  const fetchA: FetchFn = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? 'GET').toUpperCase();
    if (url.host === new URL(world.urls.woodpecker).host) agentWrite(url.pathname, method, 'A');
    const del = /^\/api\/v1\/servers\/(\d+)$/.exec(url.pathname);
    if (del && method === 'DELETE') {
      const s = world.timeweb.server(Number(del[1]));
      const busy = s && world.woodpecker.state().agents.find((a) => a.name === s.name && a.runningTaskIds.length > 0);
      if (busy) out.aLostServer.push(`A deleted ${s.name} while it ran ${busy.runningTaskIds.length} task(s)`);
    }
    return world.fetch(input, init);
  };
  // B: its own Woodpecker, the SAME Timeweb account.
  const fetchB: FetchFn = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? 'GET').toUpperCase();
    if (url.host === new URL(B_URL).host) {
      agentWrite(url.pathname, method, 'B');
      return clock.track(wpB.fetch(input, init));
    }
    if (method !== 'GET') {
      out.bWrites.push(`${method} ${url.pathname}`);
      const srv = /^\/api\/v1\/servers\/(\d+)/.exec(url.pathname);
      const ip = /^\/api\/v1\/floating-ips\/([^/]+)/.exec(url.pathname);
      if ((srv && aServerIds.has(Number(srv[1]))) || (ip && aIp(ip[1] ?? ''))) out.bWritesToA.push(`${method} ${url.pathname}`);
    }
    return world.fetch(input, init);
  };

  const common = { policy, minAgents: 0, maxAgents: 3, workflowsPerAgent: 1, agentIdleTimeout: 5 * M, timewebcloudBilling: 'per-second' };
  const a: SandboxEngine = await buildSandboxEngine({
    values: sandboxValues(world, common),
    clock,
    fetch: fetchA,
    random: seededRandom(seed + 2),
    logger: captureLogger().logger,
  });
  const bLog = captureLogger();
  const b: SandboxEngine = await buildSandboxEngine({
    values: { ...sandboxValues(world, common), serverUrl: B_URL, serverToken: B_TOKEN },
    clock,
    fetch: fetchB,
    random: seededRandom(seed + 3),
    logger: bLog.logger,
  });
  assert.notEqual(a.engine.installationId, b.engine.installationId, 'derived from different Woodpecker URLs');
  b.reconciler.onTick((r) => {
    if (r.mode !== 'full') return;
    out.bFullTicks++;
    out.bForeignServersSeen = Math.max(out.bForeignServersSeen, (r.plan?.foreign ?? []).filter((f) => f.kind === 'server').length);
  });

  // A's work: long workflows (they outlive many of B's reconciles), in two waves.
  const items = [0, 0, 0, 20 * M, 20 * M].map((arrival, i) => ({ arrival, duration: (25 + 5 * i) * M }));
  world.feed({ name: 'a-work', items, span: 20 * M });
  out.aWorkflows.queued = items.length;

  const stopA = new AbortController();
  const stopB = new AbortController();
  const loopA = runAssembled(a, { clock, logger: captureLogger().logger, signal: stopA.signal });
  const loopB = runAssembled(b, { clock, logger: bLog.logger, signal: stopB.signal });
  const done = (): boolean => out.bFullTicks >= B_TICKS && world.woodpecker.state().completed.length >= items.length;
  await clock.runWhile(done, start + 6 * 60 * M);
  stopA.abort(new Error('done'));
  stopB.abort(new Error('done'));
  let finished = false;
  void Promise.allSettled([loopA, loopB]).then(() => {
    finished = true;
  });
  await clock.runWhile(() => finished, clock.now() + 10 * M);

  const completed = world.woodpecker.state().completed;
  out.aWorkflows.success = completed.filter((w) => w.status === 'success').length;
  out.aWorkflows.other = completed.length - out.aWorkflows.success;
  out.aServersCreated = aServerIds.size;
  for (const line of bLog.lines) {
    const m = /"msg":"(?:server|agent) (\S+) \(id (\S+)\) looks like this pool's/.exec(line);
    if (m) out.bWarningsPerResource.set(`${m[1]} ${m[2]}`, (out.bWarningsPerResource.get(`${m[1]} ${m[2]}`) ?? 0) + 1);
  }
  for (const l of lookalikes) {
    const now = l.wp.agent(l.a.id);
    if (!now) out.lookalikesTouched.push(`agent ${l.a.name} was deleted`);
    else if (now.no_schedule) out.lookalikesTouched.push(`agent ${l.a.name} was drained`);
  }
  await world.close();
  return out;
}

describe('two installations, one Timeweb account, the same pool id', () => {
  for (const [seed, policy] of [
    [1, 'default'],
    [2, 'upstream'],
  ] as const) {
    it(`B (empty queue) never writes to A's servers or IPs; A's workflows keep their servers [seed ${seed}, ${policy}]`, async () => {
      const o = await twoInstallations(seed, policy);
      assert.ok(o.bFullTicks >= B_TICKS, `B ran ${o.bFullTicks} full reconciles`);
      assert.ok(o.aServersCreated >= 2, `A scaled up (${o.aServersCreated} servers)`);
      assert.deepEqual(o.bWritesToA, [], "B's writes to A's servers/IPs");
      assert.deepEqual(o.bWrites, [], 'B has no work: it writes nothing at all to the shared account');
      assert.ok(o.bForeignServersSeen >= 2, `B lists A's servers as foreign (saw ${o.bForeignServersSeen})`);
      for (const [resource, n] of o.bWarningsPerResource) assert.equal(n, 1, `one warning for ${resource}, got ${n}`);
      assert.ok(o.bWarningsPerResource.size >= 3, `B warned about the look-alikes (${[...o.bWarningsPerResource.keys()].join(', ')})`);
      assert.deepEqual(o.aLostServer, []);
      assert.deepEqual(o.aWorkflows, { queued: 5, success: 5, other: 0 });
      assert.deepEqual(o.lookalikesTouched, [], 'look-alike agents on either Woodpecker server');
    });
  }
});

describe('upgrade: servers and agents of the current release are adopted, not orphaned', () => {
  it('adopts a server whose marker names the agent this Woodpecker server lists; removes it normally once idle; leaves the unproven ones alone', async () => {
    const clock = new VirtualClock();
    const start = clock.now();
    const world = createWorld({ scheduler: clock, random: seededRandom(9), grpcAddr: 'woodpecker-server:9000', track: (p) => clock.track(p) });
    const wp = world.woodpecker;
    // Made by the current release: agent + server, marker `pool=1;agent=<id>` (no installation id).
    const oldA = wp.seedAgent({ name: 'pool-1-agent-OldA' });
    wp.connectAgent(oldA.token, { capacity: 1, labels: {}, hostname: oldA.name });
    const srvA = world.timeweb.seedServer({ name: oldA.name, comment: `kept ${legacyServerComment('1', oldA.id)}` });
    // Same name, but the marker names another agent id: not proven.
    const oldB = wp.seedAgent({ name: 'pool-1-agent-OldB' });
    wp.connectAgent(oldB.token, { capacity: 1, labels: {}, hostname: oldB.name });
    const srvB = world.timeweb.seedServer({ name: oldB.name, comment: legacyServerComment('1', oldB.id + 1000) });
    // No agent of that name at all: not proven.
    const srvC = world.timeweb.seedServer({ name: 'pool-1-agent-OldC', comment: legacyServerComment('1', 77) });

    const a = await buildSandboxEngine({
      values: sandboxValues(world, { minAgents: 0, maxAgents: 3, agentIdleTimeout: 5 * M, timewebcloudBilling: 'per-second' }),
      clock,
      fetch: world.fetch,
      random: seededRandom(10),
      logger: captureLogger().logger,
    });
    const first = await a.reconciler.tick('full');
    assert.deepEqual(first.results[0] && [first.results[0].action.kind, first.results[0].name, first.results[0].outcome], [
      'adopt',
      oldA.name,
      'done',
    ]);
    assert.ok(
      first.results.every((r) => r.name === oldA.name && (r.action.kind === 'adopt' || r.action.kind === 'drain')),
      'nothing else is touched, and nothing is removed before the marker is upgraded',
    );
    assert.equal(world.timeweb.server(srvA.id)?.comment, `kept twcloud-scaler:inst=${a.engine.installationId};pool=1;agent=${oldA.id}`);
    assert.equal(first.plan?.summary.poolAgents, 1, 'its agent counts as ours');
    assert.deepEqual(first.plan?.foreign.map((f) => `${f.kind} ${f.name}`).sort(), [
      `agent ${oldB.name}`,
      'server pool-1-agent-AbCd',
      `server ${oldB.name}`,
      'server pool-1-agent-OldC',
    ]);

    // A fresh process (restart) sees the upgraded marker as the proof and scales the idle agent in as usual.
    const b = await buildSandboxEngine({
      values: sandboxValues(world, { minAgents: 0, maxAgents: 3, agentIdleTimeout: 5 * M, timewebcloudBilling: 'per-second' }),
      clock,
      fetch: world.fetch,
      random: seededRandom(11),
      logger: captureLogger().logger,
    });
    const stop = new AbortController();
    const loop = runAssembled(b, { clock, logger: captureLogger().logger, signal: stop.signal });
    await clock.runWhile(() => world.timeweb.server(srvA.id) === undefined && wp.agent(oldA.id) === undefined, start + 60 * M);
    stop.abort(new Error('done'));
    let finished = false;
    void loop.finally(() => {
      finished = true;
    });
    await clock.runWhile(() => finished, clock.now() + 10 * M);
    assert.equal(world.timeweb.server(srvA.id), undefined, 'the adopted server is removed once idle');
    assert.equal(wp.agent(oldA.id), undefined, 'and its agent');
    assert.equal(world.timeweb.server(srvB.id)?.comment, srvB.comment, 'unproven: untouched');
    assert.equal(world.timeweb.server(srvC.id)?.comment, srvC.comment, 'unproven: untouched');
    assert.equal(wp.agent(oldB.id)?.no_schedule, false, 'its look-alike agent is neither drained nor deleted');
    await world.close();
  });
});
