import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { allOptionSpecs } from '../../src/config/sections.js';
import { createFakeTimeweb } from '../../src/sandbox/fake-timeweb.js';
import { createFakeWoodpecker } from '../../src/sandbox/fake-woodpecker.js';
import { serveFake } from '../../src/sandbox/serve.js';
import type { ServedFake } from '../../src/sandbox/serve.js';
import { seededRandom, systemClock } from '../../src/util/clock.js';

/**
 * The two compose deployments (DEPLOY.md §5), checked with the real `docker-compose config` (Debian's v1; skipped
 * when missing unless REQUIRE_VALIDATORS=1), and the README/DEPLOY walk-through's `--once --dry-run` step run
 * against the fakes on 127.0.0.1 with the settings of .env.autoscaler.example.
 */

const ROOT = process.cwd();
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
const requireValidators = process.env.REQUIRE_VALIDATORS === '1';
const hasCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).status === 0;
const skipCompose =
  hasCompose || requireValidators ? false : 'docker-compose not found (apt-get install --no-install-recommends docker-compose); set REQUIRE_VALIDATORS=1 to fail instead';

/** Where the image keeps the budget's ledger (WOODPECKER_STATE_FILE); a volume must be mounted there. */
const STATE_DIR = /^ENV WOODPECKER_STATE_FILE=(.*)\/[^/]+$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? 'unset';
const KNOWN = new Set(allOptionSpecs().flatMap((s) => [...s.env, ...(s.fileEnv ?? [])]));
/** The variables only the Woodpecker server may see (its forge secret among them). */
const SERVER_ONLY = ['WOODPECKER_HOST', 'WOODPECKER_ADMIN', 'WOODPECKER_FORGEJO_URL', 'WOODPECKER_FORGEJO_CLIENT', 'WOODPECKER_FORGEJO_SECRET'];

/** KEY=value lines of an env file, commented (`# KEY=value`) ones included when `commented`. */
function envKeys(text: string, commented: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = (commented ? /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/).exec(line.trim());
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

interface ComposeResult {
  status: number | null;
  stderr: string;
  services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
}

/** `docker-compose -f FILE config` in a scratch directory holding only `files`. */
function composeConfig(file: string, files: Record<string, string>): ComposeResult {
  const dir = mkdtempSync(join(tmpdir(), 'twcloud-compose-'));
  try {
    copyFileSync(join(ROOT, file), join(dir, file));
    copyFileSync(join(ROOT, 'Dockerfile'), join(dir, 'Dockerfile'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    const q = spawnSync('docker-compose', ['-f', file, 'config', '-q'], { cwd: dir, encoding: 'utf8', env });
    if (q.status !== 0) return { status: q.status, stderr: q.stderr, services: {} };
    const full = spawnSync('docker-compose', ['-f', file, 'config'], { cwd: dir, encoding: 'utf8', env });
    const doc = parseYaml(full.stdout) as { services: ComposeResult['services'] };
    return { status: full.status, stderr: full.stderr, services: doc.services };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('.env.autoscaler.example (the autoscaler, in both deployments)', () => {
  const text = read('.env.autoscaler.example');

  it('sets exactly what the autoscaler needs; every variable is an autoscaler option; no forge setting', () => {
    assert.deepEqual(
      [...envKeys(text, false).keys()].sort(),
      ['WOODPECKER_GRPC_ADDR', 'WOODPECKER_SERVER', 'WOODPECKER_TIMEWEBCLOUD_API_TOKEN', 'WOODPECKER_TOKEN'],
    );
    for (const key of envKeys(text, true).keys()) assert.ok(KNOWN.has(key), `${key} in .env.autoscaler.example is not an autoscaler option`);
    for (const key of SERVER_ONLY) assert.ok(!text.includes(key), key);
    assert.match(text, /^# WOODPECKER_TOKEN_FILE=\/run\/secrets\/woodpecker-token$/m);
    assert.match(text, /^WOODPECKER_GRPC_ADDR=ci\.example\.com:9000$/m);
  });
});

describe('docker-compose.autoscaler.yml (next to an existing Woodpecker server)', () => {
  const compose = read('docker-compose.autoscaler.yml');
  const example = read('.env.autoscaler.example');

  it('interpolates nothing, reads .env.autoscaler only, and has one service', () => {
    assert.doesNotMatch(compose, /\$\{/);
    assert.match(compose, /^ {4}env_file: \.env\.autoscaler$/m);
    assert.doesNotMatch(compose, /woodpecker-server/);
  });

  it('passes docker-compose config with .env.autoscaler alone; the container gets the autoscaler settings and nothing else', { skip: skipCompose }, () => {
    const ok = composeConfig('docker-compose.autoscaler.yml', { '.env.autoscaler': example });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(Object.keys(ok.services), ['autoscaler']);
    const env = ok.services.autoscaler?.environment ?? {};
    assert.equal(env.WOODPECKER_SERVER, 'https://ci.example.com', 'the server by its public address');
    assert.equal(env.WOODPECKER_GRPC_ADDR, 'ci.example.com:9000');
    assert.equal(env.WOODPECKER_PROVIDER, 'timewebcloud');
    assert.ok(ok.services.autoscaler?.volumes?.some((v) => v.startsWith(`autoscaler-state:${STATE_DIR}`)), 'the state file survives a new container');
    for (const key of Object.keys(env)) assert.ok(KNOWN.has(key), `${key} is not an autoscaler option`);

    const missing = composeConfig('docker-compose.autoscaler.yml', {});
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /\.env\.autoscaler/);
  });
});

describe('docker-compose.yml (all in one) and .env.example', () => {
  const compose = read('docker-compose.yml');
  const serverEnv = read('.env.example');
  const autoscalerEnv = read('.env.autoscaler.example');

  it('.env.example holds the server settings the compose file needs, and only those', () => {
    const interpolated = new Set([...compose.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] as string));
    const listed = envKeys(serverEnv, true);
    for (const v of interpolated) assert.ok(listed.has(v), `${v} is used by docker-compose.yml but missing from .env.example`);
    for (const v of listed.keys()) assert.ok(interpolated.has(v), `${v} in .env.example is not used by docker-compose.yml`);
    const required = [...compose.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1] as string);
    const active = envKeys(serverEnv, false);
    for (const v of required) assert.ok(active.has(v), `${v} is required: it must be an uncommented line in .env.example`);
    for (const [key, value] of active) assert.notEqual(value, '', `${key} is set to an empty value`);
  });

  it('passes docker-compose config; the forge secret reaches the server only, the tokens the autoscaler only', { skip: skipCompose }, () => {
    const ok = composeConfig('docker-compose.yml', { '.env': serverEnv, '.env.autoscaler': autoscalerEnv });
    assert.equal(ok.status, 0, ok.stderr);
    const scaler = ok.services.autoscaler?.environment ?? {};
    const server = ok.services['woodpecker-server']?.environment ?? {};
    for (const key of SERVER_ONLY) assert.equal(scaler[key], undefined, `${key} must not reach the autoscaler`);
    assert.equal(server.WOODPECKER_FORGEJO_SECRET, 'replace-with-oauth-client-secret');
    for (const key of ['WOODPECKER_TOKEN', 'WOODPECKER_TIMEWEBCLOUD_API_TOKEN']) {
      assert.equal(server[key], undefined, `${key} must not reach the server`);
      assert.ok(scaler[key], key);
    }
    assert.equal(scaler.WOODPECKER_SERVER, 'http://woodpecker-server:8000', 'the compose network in the all-in-one');
    assert.ok(ok.services.autoscaler?.volumes?.some((v) => v.startsWith(`autoscaler-state:${STATE_DIR}`)), 'the state file survives a new container');

    // A required server variable missing is reported by name.
    const bad = composeConfig('docker-compose.yml', { '.env': serverEnv.replace(/^WOODPECKER_HOST=.*$/m, ''), '.env.autoscaler': autoscalerEnv });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /set WOODPECKER_HOST in \.env/);
  });
});

describe('walk-through: "I already run Woodpecker" → --once --dry-run (README, DEPLOY.md §5)', () => {
  const open: ServedFake[] = [];
  const emptyDir = mkdtempSync(join(tmpdir(), 'twcloud-walkthrough-'));
  after(async () => {
    for (const s of open) await s.close();
    rmSync(emptyDir, { recursive: true, force: true });
  });

  /** The CLI as a child process (the fakes answer from this process), env = the example file + compose's environment. */
  function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/entry.ts'), ...args],
        // An empty working directory: no .env of the developer's is loaded.
        { cwd: emptyDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('plans with the example settings pointed at the fakes, changes nothing, and says what will not work', async () => {
    const wp = createFakeWoodpecker({ clock: systemClock, random: seededRandom(7), adminToken: 'wp-admin-token', pick: 'first' });
    const tw = createFakeTimeweb({ clock: systemClock, random: seededRandom(8) });
    const wpServed = await serveFake(wp.app);
    const twServed = await serveFake(tw.app);
    open.push(wpServed, twServed);
    // The user's edits of .env.autoscaler: their server, its token, its gRPC address, their Timeweb token.
    const file = read('.env.autoscaler.example')
      .replace(/^WOODPECKER_SERVER=.*$/m, `WOODPECKER_SERVER=${wpServed.url}`)
      .replace(/^WOODPECKER_TOKEN=.*$/m, 'WOODPECKER_TOKEN=wp-admin-token')
      .replace(/^WOODPECKER_GRPC_ADDR=.*$/m, `WOODPECKER_GRPC_ADDR=127.0.0.1:${wpServed.port}`)
      .replace(/^WOODPECKER_TIMEWEBCLOUD_API_TOKEN=.*$/m, `WOODPECKER_TIMEWEBCLOUD_API_TOKEN=${tw.token}`)
      .replace(/^# WOODPECKER_AGENT_IDLE_TIMEOUT=10m$/m, 'WOODPECKER_AGENT_IDLE_TIMEOUT=20m');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(parseEnv(file))) if (v !== undefined) env[k] = v;
    // docker-compose.autoscaler.yml's `environment:` (the listener is off here: the test needs no port).
    Object.assign(env, { WOODPECKER_PROVIDER: 'timewebcloud', WOODPECKER_HTTP_ADDR: 'off', WOODPECKER_TIMEWEBCLOUD_API_URL: twServed.url });
    const serversBefore = tw.servers().length;

    const r = await cli(['--once', '--dry-run'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would: create\b.*min-agents/m);
    assert.equal(tw.servers().length, serversBefore, 'a dry run creates nothing');
    assert.deepEqual(wp.state().agents, [], 'a dry run registers no agent');
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40)
      .map((l) => l.msg);
    assert.ok(
      warnings.some((m) => /^--agent-idle-timeout \(WOODPECKER_AGENT_IDLE_TIMEOUT\) has no effect with hourly billing/.test(m)),
      warnings.join('\n'),
    );
    assert.ok(warnings.some((m) => /--grpc-addr 127\.0\.0\.1:\d+ \(WOODPECKER_GRPC_ADDR\): 127\.0\.0\.1 is a loopback address/.test(m)), warnings.join('\n'));
    for (const secret of ['wp-admin-token', tw.token]) assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
  });

  it('a scheme in WOODPECKER_GRPC_ADDR stops the start with exit 2, before any server is created', async () => {
    const r = await cli(['--once', '--dry-run'], {
      WOODPECKER_SERVER: 'http://127.0.0.1:9',
      WOODPECKER_TOKEN: 't',
      WOODPECKER_PROVIDER: 'timewebcloud',
      WOODPECKER_TIMEWEBCLOUD_API_TOKEN: 'x',
      WOODPECKER_TIMEWEBCLOUD_API_URL: 'http://127.0.0.1:9',
      WOODPECKER_GRPC_ADDR: 'https://ci.example.com:9000',
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid value for --grpc-addr \(WOODPECKER_GRPC_ADDR\): "https:\/\/ci\.example\.com:9000" has a scheme/);
  });
});
