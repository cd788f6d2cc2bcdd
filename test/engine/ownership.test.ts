import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextMemory } from '../../src/engine/memory.js';
import { agentNameFor, poolMembership } from '../../src/engine/pool.js';
import { plan } from '../../src/engine/planner.js';
import type { Observation, Policy } from '../../src/engine/types.js';
import { HOUR, MIN, type Row, agent, config, creates, legacy, memory, n, rows, server, world } from './fixtures.js';

const POLICIES: readonly Policy[] = ['upstream', 'default'];
const STALE = { contact: HOUR, work: HOUR } as const;
const IDLE = { work: null } as const;

/** Another installation on the same Woodpecker pool name and cloud account: its names verify only with its key. */
const otherName = agentNameFor({ poolId: '1', installationId: 'inst-b' }, 'k3x9q0');

/** Look-alikes: a person's agent, the Go autoscaler's, another installation's; all named like pool 1. */
const lookalikes = [
  agent(101, legacy('manual'), STALE),
  agent(102, legacy('AbCd'), IDLE),
  agent(103, otherName, { contact: null, created: HOUR }),
];
const lookalikeNames = lookalikes.map((a) => a.name);

describe('planner: look-alikes are never drained, deleted or counted', () => {
  for (const policy of POLICIES) {
    it(`no server for any of them, idle, stale or never connected [${policy}]`, () => {
      const obs = world({ agents: lookalikes, withoutServer: lookalikeNames });
      const p = plan(obs, config({ policy, minAgents: 0 }), memory());
      // Before: server-missing deletes and stale removals of all three.
      assert.deepEqual(rows(p.actions), []);
      assert.equal(p.summary.poolAgents, 0);
      assert.deepEqual(
        p.foreign.map((f) => [f.kind, f.name]).sort(),
        lookalikeNames.map((x) => ['agent', x]).sort(),
      );
    });

    it(`they do not take slots of max-agents, and excess capacity drains only ours [${policy}]`, () => {
      const obs = world({ agents: [...lookalikes, agent(1, n('idle'), IDLE)], withoutServer: lookalikeNames, pending: 2 });
      const p = plan(obs, config({ policy, maxAgents: 3 }), memory());
      assert.deepEqual(rows(p.actions), creates(2));
      const idleWorld = world({ agents: [...lookalikes, agent(1, n('idle'), IDLE)], withoutServer: lookalikeNames, free: 1 });
      const down = plan(idleWorld, config({ policy }), memory());
      assert.deepEqual(rows(down.actions)[0], ['drain', n('idle'), 'idle-timeout']);
      assert.deepEqual([...new Set(rows(down.actions).map((r) => r[1]))], [n('idle')], 'only ours is touched');
    });

    it(`an admin drain of a look-alike does nothing [${policy}]`, () => {
      const p = plan(world({ agents: lookalikes, withoutServer: lookalikeNames }), config({ policy }), memory({ drainRequested: [legacy('AbCd')] }));
      assert.deepEqual(rows(p.actions), []);
    });
  }
});

describe('planner: adoption of the current release', () => {
  /** A current-release server: its marker names agent 7 (no installation id). */
  const legacyServer = { ...server(legacy('AbCd'), { age: 2 * HOUR }), agentId: 7 };

  function obsWith(agentId: number, over: Partial<Observation> = {}): Observation {
    return {
      ...world({ agents: [agent(agentId, legacy('AbCd'), { work: 30 * MIN })], servers: [] }),
      legacyServers: [legacyServer],
      ...over,
    };
  }

  for (const policy of POLICIES) {
    it(`adopts when this Woodpecker server lists the agent with that name AND id; no removal before the upgrade [${policy}]`, () => {
      const p = plan(obsWith(7), config({ policy }), memory());
      assert.deepEqual(rows(p.actions), [['adopt', legacy('AbCd'), 'adopt-legacy']]);
      assert.equal(p.summary.poolAgents, 1, 'its agent counts as ours');
      assert.equal(p.summary.servers.running, 1, 'its server counts as ours');
      assert.deepEqual(p.foreign, []);
    });

    it(`after the upgrade (marker with the installation and agent id) it is removed normally once idle [${policy}]`, () => {
      const adopted = { ...legacyServer };
      const later: Observation = world({ agents: [agent(7, legacy('AbCd'), { work: 30 * MIN, drained: true })], servers: [adopted] });
      const p = plan(later, config({ policy }), memory());
      assert.deepEqual(rows(p.actions), [['remove-agent', legacy('AbCd'), 'drained']]);
    });

    it(`not adopted when the agent id differs, or no agent has its name: both stay foreign [${policy}]`, () => {
      for (const obs of [obsWith(8), { ...world({ agents: [], servers: [] }), legacyServers: [legacyServer] }]) {
        const p = plan(obs, config({ policy, minAgents: 0 }), memory());
        assert.deepEqual(rows(p.actions), []);
        assert.equal(p.summary.poolAgents, 0);
        assert.equal(p.summary.servers.running, 0);
        assert.ok(p.foreign.some((f) => f.kind === 'server' && f.name === legacy('AbCd')));
      }
    });
  }

  it('an adopted agent stays ours while it exists, even when the provider list fails later', () => {
    const cfg = config();
    const m1 = nextMemory(memory(), obsWith(7), [], cfg);
    assert.deepEqual(m1.adopted, [{ id: 7, name: legacy('AbCd') }]);
    const blind: Observation = world({ agents: [agent(7, legacy('AbCd'), STALE)], servers: 'unavailable' });
    assert.deepEqual(poolMembership(blind, cfg, m1.adopted).agents.map((a) => a.id), [7]);
    const m2 = nextMemory(m1, world({ agents: [], servers: 'unavailable' }), [], cfg);
    assert.deepEqual(m2.adopted, [], 'forgotten once the agent is gone');
  });
});

describe('membership: a server marker of ours proves its agent', () => {
  it('by name AND id; a same-name agent with another id is foreign', () => {
    const cfg = config();
    const srv = { ...server(legacy('AbCd')), agentId: 7 };
    const m = poolMembership(world({ agents: [agent(7, legacy('AbCd')), agent(9, legacy('AbCd'))], servers: [srv] }), cfg);
    assert.deepEqual(m.agents.map((a) => a.id), [7]);
    assert.deepEqual(m.foreign.map((f) => f.id), ['9']);
  });
});

// Keep the Row type import used (table rows above).
export type { Row };
