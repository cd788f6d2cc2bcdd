import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { allOptionSpecs } from '../../src/config/sections.js';

/**
 * The deployment files, checked with real tools: dockerfile-utils' linter (npm), `systemd-analyze verify` and the
 * esbuild bundle run with a bare `node`. The compose files: test/deploy/compose.test.ts.
 */

const ROOT = process.cwd();
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
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

  it('keeps the budget\'s state file in a directory the non-root user owns', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /^ENV WOODPECKER_STATE_FILE=\/var\/lib\/twcloud-scaler\/state\.json$/m);
    assert.match(runtime, /chown node:node \/var\/lib\/twcloud-scaler/);
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

// docker-compose*.yml and the .env examples: test/deploy/compose.test.ts.

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
      // The budget's ledger survives restarts in the unit's own writable state directory.
      'StateDirectory=twcloud-scaler',
      'Environment=WOODPECKER_STATE_FILE=/var/lib/twcloud-scaler/state.json',
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

      // Any file name: a renamed copy runs too (it used to print nothing and exit 0).
      const renamed = join(dir, `scaler-${randomBytes(4).toString('hex')}.mjs`);
      copyFileSync(out, renamed);
      const again = spawnSync(process.execPath, [renamed, '--version'], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '' } });
      assert.equal(again.status, 0, again.stderr);
      assert.equal(again.stdout.trim(), pkg.version);
      // Unconfigured, it fails loudly (no demo): exit 2 with the missing settings.
      const bare = spawnSync(process.execPath, [renamed], { encoding: 'utf8', cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(bare.status, 2, bare.stderr);
      assert.match(bare.stderr, /missing settings[^]*--server-token \(WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm package', () => {
  it('npm pack of a clean checkout builds dist/ and installs and runs with production dependencies only (offline)', { timeout: 600_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), 'twcloud-pack-'));
    const run = (cmd: string, args: string[], cwd: string): ReturnType<typeof spawnSync> => {
      const res = spawnSync(cmd, args, {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
      });
      assert.equal(res.status, 0, `${cmd} ${args.join(' ')}:\n${String(res.stdout)}\n${String(res.stderr)}`);
      return res;
    };
    try {
      // A clean checkout: the files git knows (committed or new, not ignored), so no dist/; the dev dependencies only
      // for the build (linked).
      const src = join(work, 'src');
      const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT);
      for (const file of String(listed.stdout).split('\0')) {
        if (file === '' || !existsSync(join(ROOT, file))) continue;
        mkdirSync(dirname(join(src, file)), { recursive: true });
        copyFileSync(join(ROOT, file), join(src, file));
      }
      assert.equal(existsSync(join(src, 'dist')), false);
      symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'), 'dir');
      const out = join(work, 'out');
      mkdirSync(out);
      run('npm', ['pack', '--pack-destination', out], src);
      const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'));
      assert.ok(tarball, 'npm pack wrote a tarball');
      const listing = run('tar', ['-tzf', join(out, tarball)], work).stdout as string;
      for (const f of ['package/bin/twcloud-scaler.js', 'package/dist/cli/entry.js', 'package/dist/cli/main.js', 'package/package.json']) {
        assert.ok(listing.split('\n').includes(f), `${f} is in the package`);
      }
      assert.doesNotMatch(listing, /^package\/(src|test)\//m, 'no sources or tests');

      // The tarball installed with production dependencies only, from the npm cache (no network): unpacked, with the
      // lock file of the checkout so that npm needs no registry metadata.
      const app = join(work, 'app');
      mkdirSync(app);
      run('tar', ['-xzf', join(out, tarball), '-C', app], work);
      const pkgDir = join(app, 'package');
      copyFileSync(join(src, 'package-lock.json'), join(pkgDir, 'package-lock.json'));
      run('npm', ['install', '--offline', '--omit=dev', '--ignore-scripts'], pkgDir);
      assert.ok(existsSync(join(pkgDir, 'node_modules', 'commander')), 'production dependencies are installed');
      assert.equal(existsSync(join(pkgDir, 'node_modules', 'tsx')), false, 'tsx is not installed');
      assert.equal(existsSync(join(pkgDir, 'node_modules', 'typescript')), false, 'typescript is not installed');
      const bin = join(pkgDir, 'bin', 'twcloud-scaler.js');
      const env = { PATH: process.env.PATH ?? '', HOME: work };
      const version = spawnSync(bin, ['--version'], { cwd: app, encoding: 'utf8', env });
      assert.equal(version.error, undefined, 'the bin is executable');
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout.trim(), (JSON.parse(read('package.json')) as { version: string }).version);
      const help = spawnSync(bin, ['--help'], { cwd: app, encoding: 'utf8', env });
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, /^Usage: twcloud-scaler/);
      const bare = spawnSync(bin, [], { cwd: app, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(bare.status, 2, `unconfigured: a configuration error, not the demo\n${bare.stderr}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
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
