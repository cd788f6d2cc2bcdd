import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAgentEnvironment, renderUserData } from '../../src/cloudinit/render.js';
import { seededRandom } from '../../src/util/clock.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { createWorld, parseDelaySpec, sampleDelay } from '../../src/sandbox/world.js';
import type { World, WorldOptions } from '../../src/sandbox/world.js';

const GRPC = 'woodpecker-server:9000';

function setup(extra: Partial<WorldOptions> = {}): { world: World; clock: VirtualClock } {
  const clock = new VirtualClock({ start: Date.UTC(2025, 0, 6) });
  const world = createWorld({
    scheduler: clock,
    random: seededRandom(5),
    grpcAddr: GRPC,
    bootDelay: 60_000,
    agentStartDelay: 20_000,
    track: (p) => clock.track(p),
    ...extra,
  });
  return { world, clock };
}

async function registerAgent(world: World, name: string): Promise<{ id: number; token: string }> {
  const res = await world.fetch(`${world.urls.woodpecker}/api/agents`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${world.woodpeckerToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, no_schedule: false }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as { id: number; token: string };
}

function userData(token: string, opts: { grpc?: string; wpa?: number } = {}): string {
  return renderUserData({
    image: 'woodpeckerci/woodpecker-agent:v3',
    environment: buildAgentEnvironment({
      grpcAddr: opts.grpc ?? GRPC,
      agentToken: token,
      workflowsPerAgent: opts.wpa ?? 3,
      grpcSecure: false,
      agentEnv: {},
      agentLabels: { pool: '1' },
    }),
    preExec: [],
    postExec: [],
  });
}

async function createServer(world: World, name: string, cloudInit: string): Promise<number> {
  const cat = world.timeweb.catalog();
  const res = await world.fetch(`${world.urls.timeweb}/api/v1/servers`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${world.timewebToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name,
      comment: 'test',
      preset_id: cat.presets[0]?.id,
      os_id: cat.os[0]?.id,
      cloud_init: cloudInit,
      network: { floating_ip: 'create_ip' },
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { server: { id: number } };
  return body.server.id;
}

describe('simulated world', () => {
  it('a created server boots, reads its cloud-init and connects the agent with its token and capacity', async () => {
    const { world, clock } = setup();
    const events: string[] = [];
    world.onEvent((e) => events.push(e.kind));
    const agent = await registerAgent(world, 'pool-1-agent-abcd');
    const id = await createServer(world, 'pool-1-agent-abcd', userData(agent.token, { wpa: 3 }));
    await clock.runFor(59_000);
    assert.equal(world.vms()[0]?.fate, 'booting');
    assert.equal(world.sample().agents.booting, 1);
    await clock.runFor(20_000);
    assert.equal(world.vms()[0]?.fate, 'starting');
    await clock.runFor(2_000);
    const vm = world.vms()[0];
    assert.equal(vm?.fate, 'agent');
    assert.equal(vm?.agentId, agent.id);
    assert.equal(vm?.agentAt, vm ? vm.createdAt + 80_000 : 0);
    const a = world.woodpecker.agent(agent.id);
    assert.equal(a?.capacity, 3);
    assert.equal(a?.connection, 'online');
    assert.deepEqual(a?.custom_labels, { pool: '1' });
    assert.deepEqual(events, ['server-created', 'server-booted', 'agent-connected']);

    // work runs on it
    world.queueWorkflow({ durationMs: 60_000, labels: { repo: 'acme/web' } });
    assert.equal(world.sample().agents.busy, 1);
    await clock.runFor(61_000);
    assert.equal(world.woodpecker.state().completed.length, 1);
    assert.equal(world.sample().agents.idle, 1);

    // deleting the server stops the agent
    const del = await world.fetch(`${world.urls.timeweb}/api/v1/servers/${id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${world.timewebToken}` },
    });
    assert.ok(del.status < 300);
    assert.equal(world.woodpecker.agent(agent.id)?.connection, 'dead');
    assert.equal(world.vms()[0]?.fate, 'deleted');
    assert.equal(world.sample().servers, 0);
    const audit = world.audit(/^pool-1-agent-[A-Za-z0-9]+$/);
    assert.deepEqual(audit.agentsWithoutServer, ['pool-1-agent-abcd']);
    assert.equal(audit.unattachedFloatingIps.length, 1, 'the floating IP outlives its server');
    assert.deepEqual(audit.foreignTouched, []);
    await world.close();
  });

  const broken: [string, (token: string) => string, RegExp][] = [
    ['a wrong gRPC address', (t) => userData(t, { grpc: 'localhost:9000' }), /dials localhost:9000/],
    ['not cloud-config', (t) => userData(t).replace('#cloud-config', '#!/bin/bash'), /not a #cloud-config/],
    ['no secret', (t) => userData(t).replace(`WOODPECKER_AGENT_SECRET=${t}`, 'X=1'), /WOODPECKER_AGENT_SECRET/],
    ['an unknown token', () => userData('not-a-real-token'), /cannot authenticate/],
    ['invalid YAML', (t) => `${userData(t)}\n  - : [`, /cannot parse/],
  ];
  for (const [name, make, re] of broken) {
    it(`broken user-data yields no agent: ${name}`, async () => {
      const { world, clock } = setup();
      const agent = await registerAgent(world, 'pool-1-agent-bad');
      await createServer(world, 'pool-1-agent-bad', make(agent.token));
      await clock.runFor(10 * 60_000);
      const vm = world.vms()[0];
      assert.equal(vm?.fate, 'no-agent');
      assert.match(vm?.reason ?? '', re);
      assert.equal(world.woodpecker.agent(agent.id)?.last_contact, 0);
      assert.equal(world.sample().agents.booting, 1);
      await world.close();
    });
  }

  it('some VMs never boot; agents can die mid-workflow', async () => {
    const { world, clock } = setup({ neverBootRate: 1 });
    const a = await registerAgent(world, 'pool-1-agent-nb');
    await createServer(world, 'pool-1-agent-nb', userData(a.token));
    await clock.runFor(3_600_000);
    assert.equal(world.vms()[0]?.fate, 'never-boots');
    assert.equal(world.timeweb.servers().find((s) => s.name === 'pool-1-agent-nb')?.status, 'installing');
    await world.close();

    const d = setup({ agentDeathRate: 1, agentDeathAfter: 5 * 60_000 });
    const b = await registerAgent(d.world, 'pool-1-agent-die');
    await createServer(d.world, 'pool-1-agent-die', userData(b.token));
    await d.clock.runFor(90_000);
    d.world.queueWorkflow({ durationMs: 30 * 60_000 });
    assert.equal(d.world.sample().agents.busy, 1);
    await d.clock.runFor(5 * 60_000);
    assert.equal(d.world.vms()[0]?.fate, 'agent-died');
    assert.equal(d.world.woodpecker.agent(b.id)?.connection, 'dead');
    assert.equal(d.world.sample().agents.lost, 1);
    await d.world.close();
  });

  it('feeds a workload at its arrival times', async () => {
    const { world, clock } = setup();
    world.feed({ name: 't', span: 120_000, items: [{ arrival: 0, duration: 1_000 }, { arrival: 120_000, duration: 1_000 }] });
    await clock.runFor(1);
    assert.equal(world.sample().pending, 1);
    await clock.runFor(120_000);
    assert.equal(world.sample().pending, 2);
    await world.close();
  });

  it('in-process fetch never leaves the sandbox', async () => {
    const { world } = setup();
    await assert.rejects(world.fetch('https://example.com/'), /not part of the sandbox/);
    await world.close();
  });

  it('delay specs', () => {
    assert.equal(parseDelaySpec('90s'), 90_000);
    assert.deepEqual(parseDelaySpec('60s..3m'), { min: 60_000, max: 180_000 });
    assert.deepEqual(parseDelaySpec('1m-2m'), { min: 60_000, max: 120_000 });
    assert.equal(parseDelaySpec('500ms'), 500);
    assert.throws(() => parseDelaySpec('soon'), /invalid delay/);
    const r = seededRandom(1);
    for (let i = 0; i < 50; i++) {
      const v = sampleDelay({ min: 10, max: 20 }, r);
      assert.ok(v >= 10 && v <= 20);
    }
  });
});
