import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SteppedClock } from '../../src/sandbox/virtual-clock.js';
import { WoodpeckerClient } from '../../src/woodpecker/client.js';
import { ADMIN_TOKEN, AutoClock, makeFake } from './helpers.js';

const MIN = 60_000;

describe('woodpecker client: the server clock from the Date header', () => {
  it('the fake answers with a Date header in http.TimeFormat, like Go net/http', async () => {
    const { fake, clock } = makeFake();
    clock.t = Date.UTC(2026, 0, 1, 12, 0, 0, 750);
    const res = await fake.fetch('http://wp.test/api/agents', { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.headers.get('date'), 'Thu, 01 Jan 2026 12:00:00 GMT');
  });

  it('estimates the server clock on its own monotonic time, whatever the daemon wall clock says', async () => {
    const { fake, clock: serverClock } = makeFake();
    // The daemon's wall clock is 30 min ahead of the server's, and is then stepped back an hour.
    const daemonBase = new AutoClock(serverClock.t);
    const daemon = new SteppedClock(daemonBase);
    daemon.step(30 * MIN);
    const wp = new WoodpeckerClient({ baseUrl: 'http://wp.test', token: ADMIN_TOKEN, fetch: fake.fetch, clock: daemon });
    assert.equal(wp.serverNow(), undefined, 'unknown before any answer');
    await wp.listAgents();
    const first = wp.serverNow();
    assert.ok(first !== undefined);
    assert.ok(Math.abs(first - serverClock.t) <= 1000, 'within the header resolution');
    daemonBase.advance(10_000);
    serverClock.advance(10_000);
    daemon.step(-60 * MIN);
    const later = wp.serverNow();
    assert.ok(later !== undefined && Math.abs(later - serverClock.t) <= 1000, 'carried forward on monotonic time');
  });

  it('without a Date header there is no estimate (the planner falls back to the daemon clock)', async () => {
    const fetchNoDate = (): Promise<Response> =>
      Promise.resolve(new Response('null', { status: 200, headers: { 'content-type': 'application/json' } }));
    const wp = new WoodpeckerClient({ baseUrl: 'http://wp.test', token: ADMIN_TOKEN, fetch: fetchNoDate, clock: new AutoClock() });
    await wp.listAgents();
    assert.equal(wp.serverNow(), undefined);
  });
});
