import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { createHttpApp } from '../../src/observability/http.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createStatusTracker } from '../../src/observability/status.js';
import type { StatusTracker } from '../../src/observability/status.js';
import type { Metrics } from '../../src/observability/metrics.js';
import { simulate } from '../../src/sandbox/simulate.js';
import type { World } from '../../src/sandbox/world.js';
import type { VirtualClock } from '../../src/sandbox/virtual-clock.js';
import type { Workload } from '../../src/sandbox/workloads.js';

/**
 * Safety rule 3 end to end: the real engine (Woodpecker client, Timeweb provider, reconciler) runs ticks against
 * the fakes in virtual time with logs at DEBUG, while both APIs fail in ways that echo our requests back. No log
 * line, status snapshot, decision, metric or HTTP response may carry the admin token, the Timeweb API token, an
 * agent token, a server's root or VNC password, the user-data, or a value that went into the user-data.
 */

const M = 60_000;
const REGISTRY_SECRET = 'registry-pass-7f3e9c1a55';

const workload: Workload = {
  name: 'secrets',
  span: 40 * M,
  items: [
    { arrival: 0, duration: 4 * M },
    ...Array.from({ length: 5 }, (_, i) => ({ arrival: 10 * M + i * 1_000, duration: 6 * M })),
  ],
};

interface Captured {
  logs: string;
  secrets: Map<string, string>;
  status: StatusTracker;
  metrics: Metrics;
  world: World;
}

async function run(): Promise<Captured> {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  const secrets = new Map<string, string>();
  let world: World | undefined;
  let clockRef: VirtualClock | undefined;
  const status = (): StatusTracker => {
    if (!statusTracker) throw new Error('no status tracker');
    return statusTracker;
  };
  let statusTracker: StatusTracker | undefined;
  const metrics = createMetrics({ poolId: '1', processMetrics: false });

  const collect = (): void => {
    if (!world) return;
    secrets.set('Woodpecker admin token', world.woodpeckerToken);
    secrets.set('Timeweb API token', world.timewebToken);
    for (const a of world.woodpecker.state().agents) if (a.token) secrets.set(`agent token of ${a.name}`, a.token);
    for (const s of world.timeweb.servers()) {
      if (s.root_pass) secrets.set(`root_pass of ${s.name}`, s.root_pass);
      if (s.vnc_pass) secrets.set(`vnc_pass of ${s.name}`, s.vnc_pass);
    }
    for (const r of world.timeweb.requests()) {
      const body = r.body as { cloud_init?: unknown; name?: unknown } | undefined;
      if (typeof body?.cloud_init !== 'string') continue;
      secrets.set(`user-data of ${String(body.name)}`, body.cloud_init);
      // Its longer lines, as they are and JSON-escaped (an error body may quote our request).
      for (const line of body.cloud_init.split('\n').map((l) => l.trim())) {
        if (line.length < 20) continue;
        secrets.set(`user-data line "${line}"`, line);
        secrets.set(`JSON-escaped user-data line "${line}"`, JSON.stringify(line).slice(1, -1));
      }
      const tokenLine = body.cloud_init.split('\n').find((l) => l.includes('WOODPECKER_AGENT_SECRET='));
      const token = tokenLine?.slice(tokenLine.indexOf('=') + 1).trim();
      if (token) secrets.set(`agent token in the user-data of ${String(body.name)}`, token);
    }
  };

  await simulate({
    workload,
    seed: 4,
    tail: 30 * M,
    logger,
    values: { minAgents: 0, maxAgents: 3, agentEnv: [`REGISTRY_PASSWORD=${REGISTRY_SECRET}`] },
    setup: (w, clock) => {
      world = w;
      clockRef = clock;
      statusTracker = createStatusTracker({ clock });
      collect();
      // The first create is rejected with a message that quotes the user-data and the token it carries.
      const echo: string[] = ['(filled in by match)'];
      w.timeweb.rejectCreate({
        match: (req) => {
          const ud = typeof req.cloud_init === 'string' ? req.cloud_init : '';
          const token = /WOODPECKER_AGENT_SECRET=(\S+)/.exec(ud)?.[1] ?? '';
          echo[0] = `cloud_init is invalid: ${ud}`;
          echo[1] = `request was ${JSON.stringify(req)}`;
          echo[2] = `agent secret ${token} rejected`;
          return true;
        },
        status: 400,
        errorCode: 'bad_request',
        message: echo,
        times: 1,
      });
      // Then an ambiguous create (the server is created, the answer is a 500).
      w.timeweb.ambiguousCreate('error', 1);
      // A proxy error page that echoes the request headers (Authorization included).
      w.timeweb.failNext('GET /api/v1/servers', 502, {
        body: `<html><pre>Authorization: Bearer ${w.timewebToken}</pre></html>`,
        contentType: 'text/html',
      });
      w.woodpecker.failNext('GET /api/agents', 500, { body: `upstream said: Authorization: Bearer ${w.woodpeckerToken}`, times: 4 });
      w.woodpecker.failNext('POST /api/agents', 502, { body: `bad gateway for token ${w.woodpeckerToken}` });
    },
    onTick: (report) => {
      collect();
      status().observeTick(report);
      metrics.observeTick(report);
    },
  });
  collect();
  assert.ok(world && clockRef);
  return { logs: lines.join(''), secrets, status: status(), metrics, world };
}

function assertClean(where: string, text: string, secrets: Map<string, string>): void {
  for (const [what, secret] of secrets) {
    assert.ok(secret.length >= 6, `${what} is too short to search for`);
    assert.ok(!text.includes(secret), `${where} carries the ${what}`);
  }
  assert.ok(!text.includes(REGISTRY_SECRET), `${where} carries a value of --agent-env (user-data)`);
  assert.ok(!text.includes('#cloud-config'), `${where} carries user-data`);
}

describe('no secret reaches a log line or a response (end to end, debug level)', () => {
  it('ticks against the fakes under echoing API errors: logs, status, decisions, metrics and HTTP stay clean', async () => {
    const c = await run();
    const kinds = [...c.secrets.keys()];
    assert.ok(kinds.some((k) => k.startsWith('agent token of')), 'agents were registered');
    assert.ok(kinds.some((k) => k.startsWith('root_pass of')), 'servers were created');
    assert.ok(kinds.some((k) => k.startsWith('user-data of')), 'user-data was sent');
    // The faults really happened, and the logs are at debug level.
    assert.match(c.logs, /"level":20/, 'debug lines are written');
    assert.match(c.logs, /cloud_init is invalid: \[redacted\]/);
    assert.match(c.logs, /HTTP 502/);
    assert.match(c.logs, /POST \/api\/agents failed with HTTP 502/);

    assertClean('the logs', c.logs, c.secrets);
    assertClean('the status snapshot', JSON.stringify(c.status.snapshot()), c.secrets);
    assertClean('the decisions', JSON.stringify(c.status.decisions(1000)), c.secrets);
    assertClean('the metrics', (await c.metrics.render()).body, c.secrets);

    const app = createHttpApp({
      status: c.status,
      metrics: c.metrics,
      clock: c.world.scheduler,
      readiness: { maxTickAge: 60_000 },
    });
    for (const path of ['/api/status', '/api/decisions?limit=1000', '/metrics', '/readyz', '/']) {
      const res = await app.fetch(new Request(`http://127.0.0.1${path}`));
      assertClean(`GET ${path}`, await res.text(), c.secrets);
    }
  });
});
