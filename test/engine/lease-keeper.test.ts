import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { leaseName } from '../../src/engine/lease.js';
import { fenceWrites, LeaseFenceError, LeaseKeeper } from '../../src/engine/lease-keeper.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { seededRandom } from '../../src/util/clock.js';
import { WoodpeckerClient } from '../../src/woodpecker/client.js';

const TOKEN = 'admin-token-0123456789abcdef';
const TTL = 90_000;
const INST = 'i1';

function world() {
  const clock = new VirtualClock();
  const fake = createFakeWoodpecker({ clock, random: seededRandom(1), adminToken: TOKEN, pick: 'first' });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const keeper = (seed: number, dryRun = false): { k: LeaseKeeper; wp: WoodpeckerClient } => {
    const wp = new WoodpeckerClient({ baseUrl: 'http://wp.test', token: TOKEN, fetch: fake.fetch, clock, timeoutClock: clock });
    const k = new LeaseKeeper({
      api: wp,
      installationId: INST,
      clock,
      random: seededRandom(seed),
      logger: pino({ level: 'info' }, sink),
      ttl: TTL,
      dryRun,
    });
    return { k, wp };
  };
  const leaseAgents = () => fake.state().agents.filter((a) => a.name.startsWith('twcloud-scaler-lease-'));
  return { clock, fake, keeper, lines, leaseAgents };
}

async function fullTick(x: { k: LeaseKeeper; wp: WoodpeckerClient }): Promise<string> {
  const s = await x.k.check(await x.wp.listAgents(), 'full');
  return s.role;
}

describe('lease keeper against the fake Woodpecker', () => {
  it('first comes holds it; the second stands by; a silent holder is taken over after the TTL; it then stands by', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    assert.equal(await fullTick(a), 'acting');
    assert.equal(await fullTick(b), 'standby');
    assert.deepEqual(w.leaseAgents().map((x) => [x.name, x.no_schedule]), [[leaseName(INST, a.k.self, 1 - 1), true]]);
    // A renews every minute: B keeps waiting.
    for (let i = 0; i < 3; i++) {
      await w.clock.runFor(60_000);
      assert.equal(await fullTick(a), 'acting');
      assert.equal(await fullTick(b), 'standby');
    }
    assert.equal(w.leaseAgents()[0]?.name, leaseName(INST, a.k.self, 3), 'renewed: seq in the name');
    // A pauses (no renew) for longer than the TTL of B's own time.
    await w.clock.runFor(60_000);
    assert.equal(await fullTick(b), 'standby');
    await w.clock.runFor(60_000);
    assert.equal(await fullTick(b), 'acting', 'taken over');
    assert.deepEqual(w.leaseAgents().map((x) => x.name), [leaseName(INST, b.k.self, 0)]);
    // A wakes up: its record is gone and B's is there; A stands by and does not act.
    assert.equal(await fullTick(a), 'standby');
    assert.match(a.k.last.reason, /another instance of this installation holds the lease/);
    assert.equal(await fullTick(a), 'standby');
    assert.equal(w.leaseAgents().length, 1);
    // Logs: once when standing by, once when taking over (per instance), not per tick.
    const msgs = w.lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.equal(msgs.filter((m) => m.startsWith('standing by')).length, 2, msgs.join('\n'));
    assert.equal(msgs.filter((m) => m === 'holding the lease: this instance acts').length, 2);
    assert.ok(!w.lines.some((l) => l.includes('"token"')), 'no agent token in a log line');
  });

  it('two instances racing to create: exactly one acts, the other deletes its own record', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    // Both read an empty list before either creates.
    const [la, lb] = await Promise.all([a.wp.listAgents(), b.wp.listAgents()]);
    const roles = await Promise.all([a.k.check(la, 'full'), b.k.check(lb, 'full')]);
    assert.deepEqual(roles.map((r) => r.role).sort(), ['acting', 'standby']);
    assert.equal(w.leaseAgents().length, 1);
  });

  it('a renew answering 404 (record deleted between the list and the renew) means the lease is lost', async () => {
    const w = world();
    const a = w.keeper(1);
    await fullTick(a);
    const list = await a.wp.listAgents();
    const rec = w.leaseAgents()[0];
    assert.ok(rec);
    await a.wp.deleteAgent(rec.id);
    const s = await a.k.check(list, 'full');
    assert.equal(s.role, 'standby');
    assert.match(s.reason, /deleted/);
    assert.equal(w.leaseAgents().length, 0, 'it does not re-create it in the same tick');
  });

  it('a graceful stop releases the lease: the standby takes over at its next tick', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    await fullTick(a);
    assert.equal(await fullTick(b), 'standby');
    await a.k.release();
    assert.equal(w.leaseAgents().length, 0);
    assert.equal(await fullTick(b), 'acting');
  });

  it('an operator deleting a dead holder\'s record makes the standby take over without waiting for the TTL', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    await fullTick(a);
    assert.equal(await fullTick(b), 'standby');
    const rec = w.leaseAgents()[0];
    assert.ok(rec);
    assert.equal((await b.wp.deleteAgent(rec.id)), 'deleted');
    assert.equal(await fullTick(b), 'acting');
  });

  it('a dry run never writes the lease and says who holds it', async () => {
    const w = world();
    const d = w.keeper(3, true);
    assert.equal(await fullTick(d), 'observing');
    assert.equal(w.leaseAgents().length, 0);
    const a = w.keeper(1);
    await fullTick(a);
    const s = await d.k.check(await d.wp.listAgents(), 'full');
    assert.equal(s.role, 'observing');
    assert.match(s.reason, new RegExp(`held by twcloud-scaler-lease-${INST}\\.${a.k.self}\\.0`));
    await d.k.release();
    assert.equal(w.leaseAgents().length, 1, 'a dry run releases nothing');
    const before = w.fake.requestCounts();
    assert.equal((before['POST /api/agents'] ?? 0) + (before['PATCH /api/agents/:id'] ?? 0), 1, 'only the real instance wrote');
  });

  it('scale-up ticks check the lease without writing it', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    await fullTick(a);
    await fullTick(b);
    w.fake.resetRequestCounts();
    assert.equal((await a.k.check(await a.wp.listAgents(), 'scale-up')).role, 'acting');
    assert.equal((await b.k.check(await b.wp.listAgents(), 'scale-up')).role, 'standby');
    const counts = w.fake.requestCounts();
    assert.deepEqual(Object.keys(counts), ['GET /api/agents']);
  });

  it('writes are fenced: none is sent by a standby, nor by a holder frozen past 2/3 of the TTL since its renew', async () => {
    const w = world();
    const a = w.keeper(1);
    const b = w.keeper(2);
    const sent: string[] = [];
    const target = { deleteAgent: (id: number) => Promise.resolve(void sent.push(`delete ${id}`)), listAgents: () => Promise.resolve('read') };
    const fencedA = fenceWrites(target, ['deleteAgent'], () => a.k.writeBlocked());
    const fencedB = fenceWrites(target, ['deleteAgent'], () => b.k.writeBlocked());
    await fullTick(a);
    await fullTick(b);
    await fencedA.deleteAgent(1);
    await assert.rejects(fencedB.deleteAgent(2), LeaseFenceError);
    assert.equal(await fencedB.listAgents(), 'read', 'reads pass');
    await w.clock.runFor(59_000);
    await fencedA.deleteAgent(3);
    await w.clock.runFor(1_000); // 60 s = 2/3 of the 90 s TTL since the renew was sent
    await assert.rejects(fencedA.deleteAgent(4), /not sent: the lease was last renewed 60s ago \(write window 60s\)/);
    assert.deepEqual(sent, ['delete 1', 'delete 3']);
    assert.equal(await fullTick(a), 'acting');
    await fencedA.deleteAgent(5);
    assert.deepEqual(sent, ['delete 1', 'delete 3', 'delete 5']);
  });
});
