import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { allOptionSpecs } from '../../src/config/sections.js';

/**
 * The deployment files, checked with real tools: dockerfile-utils' linter (npm), `docker-compose config -q`
 * (Debian `docker-compose`), `systemd-analyze verify` and the esbuild bundle run with a bare `node`.
 * A missing docker-compose skips its test, unless REQUIRE_VALIDATORS=1.
 */

const ROOT = process.cwd();
const required = process.env.REQUIRE_VALIDATORS === '1';
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

function skipUnless(cmd: string, how: string): string | false {
  if (onPath(cmd) || required) return false;
  return `${cmd} not found (${how}); set REQUIRE_VALIDATORS=1 to fail instead`;
}

/** KEY=value lines of an env file, commented (`# KEY=value`) ones included when `commented`. */
function envKeys(text: string, commented: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = (commented ? /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/).exec(line.trim());
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('passes the dockerfile-utils linter with no problem', () => {
    const problems = validate(dockerfile);
    assert.deepEqual(
      problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`),
      [],
    );
    // The linter is live: a broken copy is reported.
    assert.ok(validate(dockerfile.replace('FROM node', 'FRM node').replace('WORKDIR /app', 'WORKDIR app')).length >= 2);
  });

  it('is multi-stage, production-only, non-root, with a healthcheck and the port', () => {
    const stages = dockerfile.match(/^FROM /gm) ?? [];
    assert.equal(stages.length, 2, 'a build stage and a runtime stage');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /npm ci --omit=dev/);
    assert.match(runtime, /COPY --from=build \/src\/dist \.\/dist/);
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^EXPOSE 8080$/m);
    assert.match(runtime, /^HEALTHCHECK .*\n\s+CMD \["node", "-e", .*\/healthz/m);
    assert.doesNotMatch(runtime, /curl|wget/, 'no extra tools needed for the healthcheck');
    assert.match(runtime, /ENTRYPOINT \["node", "--max-semi-space-size=1", "\/app\/bin\/twcloud-scaler\.js"\]/);
  });

  it('has a healthcheck command that works as written', async () => {
    const m = /CMD \["node", "-e", "(.*)"\]\s*$/m.exec(dockerfile);
    assert.ok(m);
    const script = JSON.parse(`"${m[1]}"`) as string;
    const { serve } = await import('@hono/node-server');
    const { Hono } = await import('hono');
    const app = new Hono().get('/healthz', (c) => c.text('ok'));
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    try {
      const run = (addr: string): Promise<number | null> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, ['-e', script], { env: { WOODPECKER_HTTP_ADDR: addr }, stdio: 'ignore' });
          child.on('exit', (code) => resolve(code));
        });
      assert.equal(await run(`0.0.0.0:${port}`), 0, 'healthy');
      assert.equal(await run('off'), 0, 'listener off: nothing to check');
    } finally {
      await new Promise((r) => server.close(r));
    }
    const down = spawnSync(process.execPath, ['-e', script], { env: { WOODPECKER_HTTP_ADDR: `127.0.0.1:${port}` } });
    assert.equal(down.status, 1, 'unhealthy when nothing answers');
  });

  it('.dockerignore keeps secrets, dependencies and build output out of the context', () => {
    const ignore = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.env', 'test']) assert.ok(ignore.includes(entry), entry);
  });
});

describe('docker-compose.yml and .env.example', () => {
  const compose = read('docker-compose.yml');
  const example = read('.env.example');

  it('.env.example lists every variable the compose file needs, and only known settings', () => {
    const interpolated = new Set([...compose.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1] as string));
    const listed = envKeys(example, true);
    for (const v of interpolated) assert.ok(listed.has(v), `${v} is used by docker-compose.yml but missing from .env.example`);
    const required = [...compose.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1] as string);
    const active = envKeys(example, false);
    for (const v of required) assert.ok(active.has(v), `${v} is required: it must be an uncommented line in .env.example`);

    // Every autoscaler variable in the example is a real option (typos would be silently ignored at run time).
    const known = new Set(allOptionSpecs().flatMap((s) => [...s.env, ...(s.fileEnv ?? [])]));
    const serverOnly = new Set(interpolated);
    for (const key of listed.keys()) {
      if (serverOnly.has(key)) continue;
      assert.ok(known.has(key), `${key} in .env.example is not an autoscaler option`);
    }
    // Nothing optional is left set to an empty value (an empty value replaces the default).
    for (const [key, value] of active) assert.notEqual(value, '', `${key} is set to an empty value`);
  });

  it('passes docker-compose config -q', { skip: skipUnless('docker-compose', 'apt-get install --no-install-recommends docker-compose') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-compose-'));
    try {
      copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
      copyFileSync(join(ROOT, 'Dockerfile'), join(dir, 'Dockerfile'));
      writeFileSync(join(dir, '.env'), example);
      const run = (): ReturnType<typeof spawnSync> =>
        spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
          cwd: dir,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
        });
      const ok = run();
      assert.equal(ok.status, 0, `docker-compose config -q failed:\n${String(ok.stderr)}`);
      // A required variable missing is reported by name.
      writeFileSync(join(dir, '.env'), example.replace(/^WOODPECKER_HOST=.*$/m, ''));
      const bad = run();
      assert.notEqual(bad.status, 0);
      assert.match(String(bad.stderr), /set WOODPECKER_HOST in \.env/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('systemd unit', () => {
  const unit = read('deploy/twcloud-scaler.service');

  it('is hardened and reads its settings from an environment file', () => {
    for (const line of [
      'DynamicUser=yes',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'EnvironmentFile=/etc/twcloud-scaler/env',
      'RestartPreventExitStatus=2',
    ]) {
      assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), line);
    }
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs W+X memory');
  });

  it('passes systemd-analyze verify without warnings', { skip: onPath('systemd-analyze') ? false : 'systemd-analyze not found' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-unit-'));
    try {
      // The node binary of this machine stands in for /usr/bin/node.
      const path = join(dir, 'twcloud-scaler.service');
      writeFileSync(path, unit.replace('/usr/bin/node', process.execPath));
      const res = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr.trim(), '', 'no warnings (unknown keys are only warnings)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('single-file bundle', () => {
  it('builds and runs with a bare node, without node_modules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-bundle-'));
    try {
      const out = join(dir, 'twcloud-scaler.mjs');
      const built = spawnSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), '--outfile', out], { encoding: 'utf8', cwd: ROOT });
      assert.equal(built.status, 0, built.stderr);
      const pkg = JSON.parse(read('package.json')) as { version: string };
      const version = spawnSync(process.execPath, [out, '--version'], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '' } });
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), pkg.version);
      const help = spawnSync(process.execPath, [out, '--help'], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '' } });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: twcloud-scaler/);
      assert.match(help.stdout, /--http-addr/);
      assert.match(readFileSync(out, 'utf8').slice(0, 400), /^#!\/usr\/bin\/env node\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DEPLOY.md', () => {
  it('names only real settings (autoscaler options, or the Woodpecker server/agent variables it explains)', () => {
    const known = new Set(allOptionSpecs().flatMap((s) => [...s.env, ...(s.fileEnv ?? [])]));
    const woodpeckerSide = new Set([
      'WOODPECKER_HOST',
      'WOODPECKER_ADMIN',
      'WOODPECKER_OPEN',
      'WOODPECKER_FORGEJO',
      'WOODPECKER_GRPC_VERIFY',
      'WOODPECKER_GRPC_SKIP_VERIFY',
    ]);
    const text = read('DEPLOY.md');
    const unknown = [...new Set([...text.matchAll(/WOODPECKER_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]))].filter(
      (n) => !known.has(n) && !woodpeckerSide.has(n) && !/^WOODPECKER_(HETZNERCLOUD|TIMEWEBCLOUD)$/.test(n),
    );
    assert.deepEqual(unknown, []);
    for (const file of ['docker-compose.yml', '.env.example', 'deploy/twcloud-scaler.service', 'Dockerfile']) {
      assert.ok(text.includes(file.split('/').pop() as string), `DEPLOY.md mentions ${file}`);
    }
  });
});
