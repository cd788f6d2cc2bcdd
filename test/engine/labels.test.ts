import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveAgentLabels,
  formatLabels,
  matchTask,
  matchingLabels,
  poolAgentLabels,
} from '../../src/engine/labels.js';
import { ADMIN_TOKEN, makeFake } from '../woodpecker/helpers.js';
import type { WoodpeckerAgent } from '../../src/woodpecker/types.js';
import { labelCases } from './label-cases.js';

describe('matchTask: Woodpecker filter rules', () => {
  for (const c of labelCases) {
    it(`${c.what} → ${c.ok ? `match, score ${c.score}` : 'no match'}`, () => {
      assert.deepEqual(matchTask(c.task, c.agent), { ok: c.ok, score: c.score });
    });
  }

  it('null task labels match any agent without required labels', () => {
    assert.deepEqual(matchTask(null, { platform: 'linux/amd64' }), { ok: true, score: 0 });
    assert.deepEqual(matchTask(null, { '!gpu': 'yes' }), { ok: false, score: 0 });
  });

  it('inherited object keys are not labels', () => {
    assert.deepEqual(matchTask({ constructor: 'x' }, {}), { ok: false, score: 0 });
    assert.deepEqual(matchTask({ toString: 'x' }, { toString: '*' }), { ok: true, score: 1 });
  });
});

const restAgent = (over: Partial<WoodpeckerAgent> = {}): WoodpeckerAgent => ({
  id: 1,
  created: 0,
  updated: 0,
  name: 'pool-1-agent-abcd',
  owner_id: 1,
  token: 'secret',
  last_contact: 0,
  last_work: 0,
  platform: 'linux/amd64',
  backend: 'docker',
  capacity: 2,
  version: '3.17.0',
  no_schedule: false,
  custom_labels: null,
  org_id: -1,
  ...over,
});

describe('effective agent labels', () => {
  it('a registered agent: defaults, custom labels over them, the server org-id over all', () => {
    const a = restAgent({ custom_labels: { type: 'gpu', platform: 'linux/arm64', 'org-id': '5' }, org_id: -1 });
    assert.deepEqual(effectiveAgentLabels(a), {
      hostname: 'pool-1-agent-abcd',
      platform: 'linux/arm64',
      backend: 'docker',
      repo: '*',
      type: 'gpu',
      'org-id': '*',
    });
  });

  it('an org agent gets its org id; repo=* can be narrowed by a custom label', () => {
    const a = restAgent({ org_id: 7, custom_labels: { repo: 'acme/app' } });
    const labels = effectiveAgentLabels(a);
    assert.equal(labels['org-id'], '7');
    assert.equal(matchTask({ repo: 'acme/app', 'org-id': '7' }, labels).ok, true);
    assert.equal(matchTask({ repo: 'acme/app', 'org-id': '8' }, labels).ok, false);
    assert.equal(matchTask({ repo: 'acme/lib', 'org-id': '7' }, labels).ok, false);
  });

  it("a pool's future agents: linux/amd64, docker, repo=*, org-id=*, no hostname, the pool's labels", () => {
    assert.deepEqual(poolAgentLabels({ type: 'gpu' }), {
      platform: 'linux/amd64',
      backend: 'docker',
      repo: '*',
      type: 'gpu',
      'org-id': '*',
    });
    assert.deepEqual(poolAgentLabels({}, { platform: 'linux/arm64', hostname: 'h' }), {
      hostname: 'h',
      platform: 'linux/arm64',
      backend: 'docker',
      repo: '*',
      'org-id': '*',
    });
  });

  it('a plain workflow matches a default pool agent; a hostname-pinned one does not', () => {
    const pool = poolAgentLabels({});
    assert.deepEqual(matchTask({ repo: 'acme/app', 'org-id': '1' }, pool), { ok: true, score: 2 });
    assert.equal(matchTask({ repo: 'acme/app', 'org-id': '1', hostname: 'box' }, pool).ok, false);
  });

  it('matchingLabels drops internal and empty labels and sorts; formatLabels prints k=v', () => {
    const m = matchingLabels({ type: 'gpu', 'woodpecker-ci.org/x': '1', empty: '', a: 'b' });
    assert.deepEqual(Object.keys(m), ['a', 'type']);
    assert.equal(formatLabels(m), 'a=b,type=gpu');
    assert.deepEqual(matchingLabels(null), {});
  });
});

describe('matchTask agrees with the fake Woodpecker (what its scheduler runs)', () => {
  for (const c of labelCases) {
    it(c.what, async () => {
      const { fake } = makeFake();
      const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      const res = await fake.fetch('http://wp.test/api/agents', {
        method: 'POST',
        headers: { ...admin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'static-1' }),
      });
      const created = (await res.json()) as WoodpeckerAgent;
      fake.connectAgent(created.token, { capacity: 1, labels: c.agent });
      const id = fake.addWorkflow({ durationMs: 60_000, labels: c.task });
      const listed = (await (
        await fake.fetch('http://wp.test/api/agents', { headers: admin })
      ).json()) as WoodpeckerAgent[];
      const agent = listed[0];
      assert.ok(agent);
      const task = fake.state().pending.find((w) => w.id === id) ?? fake.state().running.find((w) => w.id === id);
      assert.ok(task);
      const expected = matchTask(task.labels, effectiveAgentLabels(agent)).ok;
      assert.equal(fake.state().running.length === 1, expected, `fake runs it: ${!expected}; matchTask says ${expected}`);
    });
  }
});
