import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus } from '../../src/cli/admin.js';
import type { LeaseStatus } from '../../src/engine/lease.js';
import { createHttpApp } from '../../src/observability/http.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createStatusTracker } from '../../src/observability/status.js';
import { SteppedClock, VirtualClock } from '../../src/sandbox/virtual-clock.js';
import { MIN, T0, agent, config, nm, report } from './fixtures.js';

const HOUR = 60 * MIN;

const standby: LeaseStatus = {
  role: 'standby',
  self: 'bbbbbbbb',
  holder: 'aaaaaaaa',
  record: { id: 7, name: 'twcloud-scaler-lease-1.aaaaaaaa.12' },
  records: [{ id: 7, name: 'twcloud-scaler-lease-1.aaaaaaaa.12' }],
  reason: 'another instance of this installation holds the lease (twcloud-scaler-lease-1.aaaaaaaa.12, renewed 30s ago)',
};
const acting: LeaseStatus = { ...standby, role: 'acting', self: 'aaaaaaaa', reason: 'this instance holds the lease' };

function setup() {
  const vc = new VirtualClock({ start: T0 });
  const clock = new SteppedClock(vc);
  const status = createStatusTracker({ clock, config });
  const app = createHttpApp({ status, metrics: createMetrics({ poolId: '1' }), clock, readiness: { maxTickAge: 3 * MIN } });
  const ready = async (): Promise<{ status: number; reason: string }> => {
    const res = await app.fetch(new Request('http://127.0.0.1:8080/readyz'));
    return { status: res.status, reason: ((await res.json()) as { reason: string }).reason };
  };
  return { vc, clock, status, ready };
}

const agents = [
  agent({ id: 1, name: nm('aaaa'), last_contact: Math.floor(T0 / 1000) }),
  agent({ id: 7, name: 'twcloud-scaler-lease-1.aaaaaaaa.12', no_schedule: true }),
];

describe('/readyz and status: the lease', () => {
  it('a standby instance is not ready (503 with the reason) until it acts again', async () => {
    const { status, ready, clock } = setup();
    status.observeTick({ ...report({ now: clock.now(), agents }), lease: standby });
    let r = await ready();
    assert.equal(r.status, 503);
    assert.match(r.reason, /^standing by, not acting: another instance of this installation holds the lease \(twcloud-scaler-lease-1\.aaaaaaaa\.12/);
    const snap = status.snapshot();
    assert.equal(snap.lease?.role, 'standby');
    assert.deepEqual(snap.lease?.records.map((x) => x.name), ['twcloud-scaler-lease-1.aaaaaaaa.12']);
    assert.deepEqual(snap.agents.map((a) => a.name), [nm('aaaa')], 'the lease record is no pool agent');
    const text = formatStatus(snap);
    assert.match(text, /^Pool 1: STANDBY/);
    assert.match(text, /Lease: standing by, not acting: .* \(this instance bbbbbbbb; records: #7 twcloud-scaler-lease-1\.aaaaaaaa\.12\)/);
    status.observeTick({ ...report({ now: clock.now(), agents }), lease: acting });
    r = await ready();
    assert.equal(r.status, 200);
    assert.match(formatStatus(status.snapshot()), /Lease: this instance holds it, acts/);
  });

  it('judges "last reconcile too long ago" on monotonic time: wall-clock steps of ±1 h change nothing', async () => {
    const { vc, clock, status, ready } = setup();
    status.observeTick({ ...report({ now: clock.now(), agents }), lease: acting });
    assert.equal((await ready()).status, 200);
    clock.step(+HOUR); // the wall clock jumps forward: the tick is not an hour old
    assert.equal((await ready()).status, 200);
    clock.step(-2 * HOUR); // and back: still fresh
    assert.equal((await ready()).status, 200);
    await vc.runFor(4 * MIN); // real (monotonic) time passes without a tick: not ready
    const r = await ready();
    assert.equal(r.status, 503);
    assert.match(r.reason, /finished 4m ago \(limit 3m\)/);
  });
});
