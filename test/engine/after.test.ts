import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyResults } from '../../src/engine/after.js';
import type { ActionResult } from '../../src/engine/executor.js';
import type { Action, Reason } from '../../src/engine/types.js';
import { agent, n, server, world } from './fixtures.js';

const why: Reason = { code: 'pending-work', message: 'test' };
const ref = (id: number, suffix: string): { id: number; name: string } => ({ id, name: n(suffix) });

function res(action: Action, name: string, p: Partial<ActionResult> = {}): ActionResult {
  return { action, outcome: 'done', name, durationMs: 0, ...p };
}

describe('applyResults: the pool after a tick', () => {
  const obs = world({
    agents: [agent(1, n('drai')), agent(2, n('reac'), { drained: true }), agent(3, n('gone')), agent(4, n('busy')), agent(5, n('half'))],
    extraServers: [server(n('orph'))],
  });
  const created = { ...agent(9, n('newa'), { contact: null, work: null }), token: 'secret' };
  const results: ActionResult[] = [
    res({ kind: 'create', reason: why }, n('newa'), { agent: created, server: server(n('newa'), { state: 'booting' }) }),
    res({ kind: 'drain', agent: ref(1, 'drai'), reason: why }, n('drai')),
    res({ kind: 'reactivate', agent: ref(2, 'reac'), reason: why }, n('reac')),
    res({ kind: 'remove-agent', agent: ref(3, 'gone'), reason: why }, n('gone'), { agentGone: true, serverGone: true }),
    res({ kind: 'remove-agent', agent: ref(4, 'busy'), reason: why }, n('busy'), { outcome: 'skipped', drained: true }),
    res({ kind: 'remove-agent', agent: ref(5, 'half'), reason: why }, n('half'), { outcome: 'failed', agentGone: true }),
    res({ kind: 'remove-server', name: n('orph'), reason: why }, n('orph'), { serverGone: true }),
    res({ kind: 'create', reason: why }, n('fail'), { outcome: 'failed' }),
  ];

  it('adds created agents (booting, no token) and servers, flags drains, drops what is gone', () => {
    const after = applyResults(obs, results);
    assert.deepEqual(
      after.agents.map((a) => [a.name, a.no_schedule, a.last_contact, a.token === '']),
      [
        [n('drai'), true, obs.agents[0]?.last_contact, false],
        [n('reac'), false, obs.agents[1]?.last_contact, false],
        [n('busy'), true, obs.agents[3]?.last_contact, false],
        [n('newa'), false, 0, true],
      ],
    );
    assert.deepEqual(
      after.servers?.map((s) => [s.name, s.state]),
      [
        [n('drai'), 'running'],
        [n('reac'), 'running'],
        [n('busy'), 'running'],
        [n('half'), 'running'],
        [n('newa'), 'booting'],
      ],
    );
    assert.equal(after.now, obs.now);
    assert.equal(after.queue, obs.queue);
  });

  it('is pure, and returns the observation itself when nothing changed', () => {
    const before = structuredClone(obs);
    applyResults(obs, results);
    assert.deepEqual(obs, before);
    const dry = results.map((r) => ({ ...r, outcome: 'dry-run' as const, agentGone: undefined, serverGone: undefined, drained: undefined }));
    assert.equal(applyResults(obs, dry), obs);
  });

  it('an unknown server list stays unknown', () => {
    const unknown = world({ agents: [agent(1, n('aaaa'))], servers: 'unavailable' });
    assert.equal(applyResults(unknown, [res({ kind: 'remove-server', name: n('aaaa'), reason: why }, n('aaaa'), { serverGone: true })]).servers, undefined);
  });
});
