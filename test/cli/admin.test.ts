import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import { adminBaseUrl, fmtDuration, registerAdminCommands, table } from '../../src/cli/admin.js';
import type { AdminCliDeps } from '../../src/cli/admin.js';
import type { EngineMemory } from '../../src/engine/types.js';
import { initialMemory } from '../../src/engine/types.js';
import { createHttpApp, startHttpServer } from '../../src/observability/http.js';
import type { AdminAccess, AdminControls } from '../../src/observability/http.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createStatusTracker } from '../../src/observability/status.js';
import type { FetchFn } from '../../src/util/clock.js';
import { MIN, T0, agent, config, manualClock, nm, queueOf, report, result, server, task } from '../observability/fixtures.js';

/** Agents of this installation (names carrying its tag). */
const AAAA = nm('aaaa');
const BBBB = nm('bbbb');

const TOKEN = 'cli-admin-token-abcdef';
const sec = (ms: number): number => Math.floor(ms / 1000);

class Controls implements AdminControls {
  calls: string[] = [];
  state: EngineMemory = initialMemory;
  setPaused(p: boolean): void {
    this.calls.push(p ? 'pause' : 'resume');
    this.state = { ...this.state, paused: p };
  }
  setCordoned(n: string, c: boolean): void {
    this.calls.push(`${c ? 'cordon' : 'uncordon'} ${n}`);
    this.state = { ...this.state, cordoned: c ? [...this.state.cordoned, n] : this.state.cordoned.filter((x) => x !== n) };
  }
  requestDrain(n: string): void {
    this.calls.push(`drain ${n}`);
  }
}

function world(access: AdminAccess = 'token') {
  const clock = manualClock(T0 + 30_000);
  const status = createStatusTracker({ clock, config, price: { perHour: 8, currency: 'RUB', description: 'p' } });
  const metrics = createMetrics();
  const controls = new Controls();
  status.observeTick(
    report({
      now: T0,
      agents: [
        agent({ id: 1, name: AAAA, last_contact: sec(T0 - 5000), created: sec(T0 - 90 * MIN) }),
        agent({ id: 2, name: BBBB }),
      ],
      queue: queueOf({ pending: [task('p1')], running: [task('r1', { agent_id: 1 })], free: 1 }),
      servers: [server(AAAA, T0 - 90 * MIN), server('pool-1-agent-orph', T0 - 30 * MIN)],
      results: [result({ kind: 'create', reason: { code: 'pending-work', message: '1 pending workflow(s) need 1 agent(s)' } }, { name: BBBB })],
    }),
  );
  const app = createHttpApp({ controls, status, metrics, token: access === 'token' ? TOKEN : undefined, adminAccess: access, clock, readiness: { maxTickAge: 3 * MIN } });
  const fetchFn: FetchFn = async (input, init) => app.fetch(new Request(input, init));
  return { app, controls, fetchFn };
}

async function run(args: string[], deps: AdminCliDeps): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const program = new Command('twcloud-scaler').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerAdminCommands(program, { ...deps, write: (s) => (out += s) });
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { out, err, code: 0 };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, code: e.exitCode };
    throw e;
  }
}

describe('admin CLI', () => {
  it('turns addresses into base URLs', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1:8080', 'http://127.0.0.1:8080'],
      ['0.0.0.0:9000', 'http://127.0.0.1:9000'],
      [':8080', 'http://127.0.0.1:8080'],
      ['[::]:8080', 'http://[::1]:8080'],
      ['[::1]:81', 'http://[::1]:81'],
      ['https://ci.example.com/scaler/', 'https://ci.example.com/scaler'],
    ];
    for (const [addr, want] of cases) assert.equal(adminBaseUrl(addr), want, addr);
    assert.throws(() => adminBaseUrl('off'), /listener is off/);
  });

  it('formats durations and tables', () => {
    assert.equal(fmtDuration(5_000), '5s');
    assert.equal(fmtDuration(185_000), '3m 05s');
    assert.equal(fmtDuration(2 * 3_600_000 + 10 * MIN), '2h 10m');
    assert.equal(fmtDuration(null), '-');
    assert.equal(table(['A', 'BB'], [['xxx', 'y']]), 'A    BB\nxxx  y');
  });

  it('mutating commands send the token and report the server message', async () => {
    const { controls, fetchFn } = world();
    const cases: Array<[string[], string, RegExp]> = [
      [['pause'], 'pause', /scaling paused/],
      [['resume'], 'resume', /scaling resumed/],
      [['cordon', AAAA], `cordon ${AAAA}`, /cordoned/],
      [['uncordon', AAAA], `uncordon ${AAAA}`, /uncordoned/],
      [['drain', BBBB], `drain ${BBBB}`, /drained at the next reconcile/],
    ];
    for (const [args, call, msg] of cases) {
      controls.calls = [];
      const r = await run([...args, '--http-token', TOKEN], { fetch: fetchFn, env: {} });
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, msg);
      assert.deepEqual(controls.calls, [call]);
    }
  });

  it('reads the token from WOODPECKER_HTTP_TOKEN_FILE and explains a refusal', async () => {
    const { controls, fetchFn } = world();
    const ok = await run(['pause'], {
      fetch: fetchFn,
      env: { WOODPECKER_HTTP_TOKEN_FILE: '/run/secrets/http-token' },
      readFile: (p) => (p === '/run/secrets/http-token' ? `${TOKEN}\n` : ''),
    });
    assert.equal(ok.code, 0);
    assert.deepEqual(controls.calls, ['pause']);
    const denied = await run(['resume'], { fetch: fetchFn, env: {} });
    assert.equal(denied.code, 1);
    assert.match(denied.err, /Bearer.*--http-token or set WOODPECKER_HTTP_TOKEN/);
    const unknown = await run(['drain', 'pool-1-agent-zzzz', '--http-token', TOKEN], { fetch: fetchFn, env: {} });
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /not in this pool.*HTTP 404/);
  });

  it('status prints a readable summary, or JSON', async () => {
    const { fetchFn } = world();
    const r = await run(['status'], { fetch: fetchFn, env: {} });
    assert.equal(r.code, 0);
    assert.match(r.out, /^Pool 1: running \(policy default, 1-5 agents, 2 workflows\/agent, hourly billing\)/);
    assert.match(r.out, /Queue: 1 pending, 0 waiting on deps, 1 running, 1 free slot/);
    assert.match(r.out, /AGENT\s+STATE\s+AGE\s+LAST CONTACT\s+TASKS\s+SERVER/);
    assert.match(r.out, new RegExp(`${AAAA}\\s+busy\\s+1h 30m\\s+35s ago\\s+1/2\\s+on 203\\.0\\.113\\.10`));
    assert.match(r.out, new RegExp(`${BBBB}\\s+booting`));
    assert.match(r.out, /Servers without an agent:\n.*\npool-1-agent-orph/);
    const j = await run(['status', '--json'], { fetch: fetchFn, env: {} });
    const parsed = JSON.parse(j.out) as { agents: unknown[] };
    assert.equal(parsed.agents.length, 2);
  });

  it('decisions lists reasons; bad limits are refused', async () => {
    const { fetchFn } = world();
    const r = await run(['decisions', '--limit', '5'], { fetch: fetchFn, env: {} });
    assert.equal(r.code, 0);
    assert.match(r.out, /TIME\s+ACTION\s+AGENT\s+REASON\s+OUTCOME\s+WHY/);
    assert.match(r.out, new RegExp(`create\\s+${BBBB}\\s+pending-work\\s+done\\s+1 pending workflow`));
    const bad = await run(['decisions', '--limit', 'x'], { fetch: fetchFn, env: {} });
    assert.equal(bad.code, 1);
  });

  it('talks to a real listener, and says so when nothing listens', async () => {
    const { app, controls } = world('loopback');
    const srv = await startHttpServer(app, '127.0.0.1:0');
    try {
      const r = await run(['pause', '--http-addr', `127.0.0.1:${srv.port}`], { env: {} });
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(controls.calls, ['pause']);
      const viaEnv = await run(['status'], { env: { WOODPECKER_HTTP_ADDR: `127.0.0.1:${srv.port}` } });
      assert.match(viaEnv.out, /Pool 1: PAUSED/);
    } finally {
      await srv.close();
    }
    const down = await run(['status', '--http-addr', `127.0.0.1:${srv.port}`], { env: {} });
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach twcloud-scaler at http:\/\/127\.0\.0\.1:\d+/);
  });
});
