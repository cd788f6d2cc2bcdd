import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The CLI as a process (src/cli/entry.ts through tsx, as `npm start` runs it): what an unattended start, a pipe and
 * the exit code look like from outside.
 */

const ROOT = process.cwd();
const ENTRY = join(ROOT, 'src', 'cli', 'entry.ts');
/** tsx's loader by absolute URL: the CLI runs in other directories. */
const TSX = import.meta.resolve('tsx');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with only PATH and HOME (like `env -i PATH=$PATH HOME=$HOME`), stdin closed, in an empty directory. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const cwd = mkdtempSync(join(tmpdir(), 'twcloud-cli-'));
  return new Promise<Exit>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

describe('unattended start', () => {
  it('without any configuration: exit 2 at once, every missing setting listed, no demo', async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /starting the built-in sandbox demo/);
    for (const name of ['--provider (WOODPECKER_PROVIDER)', '--server-token (WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE)', '--timewebcloud-api-token (WOODPECKER_TIMEWEBCLOUD_API_TOKEN, WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE)']) {
      assert.ok(r.stderr.includes(name), name);
    }
  });

  it('npm start (the fresh-clone quick start) still falls back to the demo', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts.start, 'tsx src/cli/entry.ts --demo-if-unconfigured');
    assert.doesNotMatch(readFileSync(join(ROOT, 'bin', 'twcloud-scaler.js'), 'utf8'), /demo-if-unconfigured/);
    assert.doesNotMatch(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /demo-if-unconfigured/);
    assert.doesNotMatch(readFileSync(join(ROOT, 'scripts', 'bundle.mjs'), 'utf8'), /demo-if-unconfigured/);

    const cwd = mkdtempSync(join(tmpdir(), 'twcloud-cli-'));
    try {
      const child = spawn(process.execPath, ['--import', TSX, ENTRY, '--demo-if-unconfigured'], {
        cwd,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, WOODPECKER_HTTP_ADDR: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const started = new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('starting the built-in sandbox demo')) resolve();
        });
      });
      // The demo's view on stdout: it is running (and handles Ctrl-C).
      const viewing = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      await Promise.race([started.then(() => viewing), closed]);
      assert.match(stderr, /starting the built-in sandbox demo/);
      child.kill('SIGINT'); // stops the demo, which cleans up and exits
      const code = await closed;
      assert.ok(code === 0 || code === 1, `exit ${code}: ${stderr}`);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('warns once about secrets given as flags and unknown WOODPECKER_* variables; never prints a secret', async () => {
    // Every API call is refused: the start fails at the provider's first look-up, after the warnings.
    const server = createServer((_req, res) => {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end('{"status_code":401,"error_code":"unauthorized","message":"invalid token"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await runCli(
        [
          '--provider', 'timewebcloud',
          '--server-url', url,
          '--server-token', 'wp-secret-0123456789',
          '--timewebcloud-api-token', 'tw-secret-9876543210',
          '--timewebcloud-api-url', url,
          '--grpc-addr', url.replace('http://', ''),
          '--http-addr', 'off',
          '--log-format', 'json',
        ],
        { WOODPECKER_MIN_AGENT: '2', WOODPECKER_HOST: 'https://ci.example.com', WOODPECKER_FORGEJO_URL: 'https://git.example.com' },
      );
      assert.equal(r.code, 2, r.stderr);
      const warnings = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level === 40)
        .map((l) => l.msg);
      assert.deepEqual(warnings, [
        '--server-token was given on the command line, where any local user can read it (ps, /proc/PID/cmdline); set WOODPECKER_TOKEN or WOODPECKER_TOKEN_FILE instead',
        '--timewebcloud-api-token was given on the command line, where any local user can read it (ps, /proc/PID/cmdline); set WOODPECKER_TIMEWEBCLOUD_API_TOKEN or WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE instead',
        'WOODPECKER_MIN_AGENT is not a twcloud-scaler setting and is ignored; did you mean WOODPECKER_MIN_AGENTS?',
      ]);
      assert.doesNotMatch(r.stderr + r.stdout, /wp-secret|tw-secret/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('output through a pipe', () => {
  it('simulate --json through a pipe that is not read until the output is queued arrives whole', async () => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, ENTRY, 'simulate', '--workload', 'steady', '--span', '16h', '--tail', '10m', '--compare', 'upstream', '--json'],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let exited = false;
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.on('exit', () => (exited = true));
    // A slow reader: nothing is consumed until the CLI has written its output (the kernel's pipe and this stream's
    // buffer fill up, well short of the output) and has had a second to exit; an exit right after the write would
    // cut the output at what the buffers hold. (Node resumes a child's paused stdout when the child exits: the listener then gets what there was.)
    const chunks: Buffer[] = [];
    child.stdout.pause();
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    for (let i = 0; i < 1200 && !exited && child.stdout.readableLength === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    child.stdout.resume();
    const code = await closed;
    const text = Buffer.concat(chunks).toString('utf8');
    assert.equal(code, 0);
    assert.ok(text.length > 256 * 1024, `output is larger than the pipe and stream buffers (${text.length} bytes)`);
    const parsed = JSON.parse(text) as { runs: unknown[] };
    assert.equal(parsed.runs.length, 2);
  });
});
