import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { EXIT, buildProgram, main } from '../../src/cli/main.js';
import { helpWidth, wrapText } from '../../src/cli/help.js';

/** Runs the CLI in-process with a clean environment, capturing stderr. */
async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main({ argv, env, cwd: '/nonexistent-dir-without-dotenv' });
    return { code, stderr };
  } finally {
    process.stderr.write = original;
  }
}

/** `--help` of a command, as the CLI lays it out (commander's output captured, not the process's stdout). */
async function help(argv: string[], env: Record<string, string>): Promise<string> {
  const io = { argv: [...argv, '--help'], env, cwd: '/nonexistent-dir-without-dotenv' };
  const program = await buildProgram(io, () => undefined);
  let out = '';
  const capture = (c: Command): void => {
    c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    for (const sub of c.commands) capture(sub);
  };
  capture(program);
  await assert.rejects(program.parseAsync(io.argv, { from: 'user' }), (e: unknown) => e instanceof CommanderError && e.exitCode === 0);
  return out;
}

const TW_TOKEN = { WOODPECKER_TIMEWEBCLOUD_API_TOKEN: 'tw-token' };

const cases: Array<{ name: string; argv: string[]; env?: Record<string, string>; message: RegExp }> = [
  {
    name: '--once without configuration asks for the token (it does not start the demo)',
    argv: ['--once'],
    message: /--server-token \(WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE\)/,
  },
  {
    name: '--dry-run without configuration lists what is missing',
    argv: ['--dry-run'],
    message: /missing settings/,
  },
  {
    name: 'an unknown option (a command-line error is a configuration error)',
    argv: ['--max-agent', '3'],
    message: /unknown option '--max-agent'/,
  },
  {
    name: 'an unknown command lists the known ones',
    argv: ['simluate'],
    message: /unknown command 'simluate'; commands: demo, simulate, timeweb, status/,
  },
  {
    name: 'an unknown provider lists the known ones',
    argv: ['--provider', 'hetznercloud', '--server-token', 't'],
    message: /unknown provider: hetznercloud; known: timewebcloud/,
  },
  {
    name: 'min-agents above max-agents names both flags',
    argv: ['--server-token', 't', '--provider', 'timewebcloud'],
    env: { WOODPECKER_MIN_AGENTS: '5', WOODPECKER_MAX_AGENTS: '2', ...TW_TOKEN },
    message: /--min-agents \(WOODPECKER_MIN_AGENTS\).*--max-agents \(WOODPECKER_MAX_AGENTS\)/,
  },
  {
    name: 'a bad duration names the flag and its env vars',
    argv: ['--server-token', 't', '--provider', 'timewebcloud', '--agent-idle-timeout', '10 minutes'],
    env: TW_TOKEN,
    message: /--agent-idle-timeout \(WOODPECKER_AGENT_IDLE_TIMEOUT\)/,
  },
];

for (const c of cases) {
  test(`configuration errors exit 2: ${c.name}`, async () => {
    const { code, stderr } = await run(c.argv, c.env);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /configuration error|error: unknown option/);
    assert.match(stderr, c.message);
  });
}

describe('unattended start without configuration', () => {
  test('exits 2 at once listing every missing setting, flag and env vars each (no demo)', async () => {
    const { code, stderr } = await run([]);
    assert.equal(code, 2, stderr);
    assert.doesNotMatch(stderr, /starting the built-in sandbox demo/);
    const lines = stderr.split('\n').filter((l) => l.startsWith('  --'));
    assert.deepEqual(lines, [
      '  --provider (WOODPECKER_PROVIDER): one of timewebcloud',
      '  --server-token (WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE)',
      '  --timewebcloud-api-token (WOODPECKER_TIMEWEBCLOUD_API_TOKEN, WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE) (for --provider timewebcloud)',
    ]);
    assert.match(stderr, /twcloud-scaler demo/);
  });

  test('lists only what is still missing', async () => {
    const { code, stderr } = await run([], { WOODPECKER_PROVIDER: 'timewebcloud', WOODPECKER_TOKEN: 'w' });
    assert.equal(code, 2);
    assert.deepEqual(
      stderr.split('\n').filter((l) => l.startsWith('  --')),
      ['  --timewebcloud-api-token (WOODPECKER_TIMEWEBCLOUD_API_TOKEN, WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE)'],
    );
  });

  test('an empty token file is a configuration error naming the *_FILE variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-empty-token-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, '\n');
      const { code, stderr } = await run([], { WOODPECKER_PROVIDER: 'timewebcloud', WOODPECKER_TOKEN_FILE: file, ...TW_TOKEN });
      assert.equal(code, 2, stderr);
      assert.ok(stderr.includes(`the file named by WOODPECKER_TOKEN_FILE (${JSON.stringify(file)}) is empty`), stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--help', () => {
  const commands = [
    [],
    ['demo'],
    ['simulate'],
    ['timeweb'],
    ['timeweb', 'list'],
    ['timeweb', 'test'],
    ['status'],
    ['decisions'],
    ['pause'],
    ['resume'],
    ['cordon'],
    ['uncordon'],
    ['drain'],
  ];
  for (const cmd of commands) {
    test(`${['twcloud-scaler', ...cmd].join(' ')} --help fits 80 columns at COLUMNS=80`, async () => {
      const stdout = await help(cmd, { COLUMNS: '80' });
      assert.match(stdout, /^Usage: twcloud-scaler/);
      const lines = stdout.split('\n');
      assert.ok(lines.length > 5);
      const long = lines.filter((l) => [...l].length > 80);
      assert.deepEqual(long, [], 'lines longer than 80 columns');
    });
  }

  test('lists the exit codes', async () => {
    const stdout = await help([], { COLUMNS: '80' });
    assert.match(stdout, /Exit codes:\n {2}0 +success[^]*\n {2}1 +runtime failure[^]*\n {2}2 +configuration error[^]*\n {2}130 +interrupted/);
    assert.doesNotMatch(stdout, /demo-if-unconfigured/, 'the npm start switch is not advertised');
  });

  test('README documents the same exit codes as the code and --help', async () => {
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Exit codes'));
    const documented = [...section.slice(0, section.indexOf('\n\n', section.indexOf('| ---'))).matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    assert.deepEqual(documented, Object.values(EXIT));
    const text = await help([], { COLUMNS: '80' });
    const inHelp = [...text.slice(text.indexOf('Exit codes:')).matchAll(/^ {2}(\d+) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(inHelp, Object.values(EXIT));
  });

  test('width: the TTY columns, else COLUMNS, else 80; within 40..100', () => {
    assert.equal(helpWidth({ isTTY: false }, {}), 80);
    assert.equal(helpWidth({ isTTY: false }, { COLUMNS: '72' }), 72);
    assert.equal(helpWidth({ isTTY: false }, { COLUMNS: 'wide' }), 80);
    assert.equal(helpWidth({ isTTY: true, columns: 90 }, { COLUMNS: '72' }), 90);
    assert.equal(helpWidth({ isTTY: true, columns: 300 }, {}), 100);
    assert.equal(helpWidth({ isTTY: true, columns: 20 }, {}), 40);
  });

  test('wrapping breaks words longer than the line', () => {
    const text = wrapText('use cpu=N,ram=MB,disk=MB[,configurator=ID][,gpu=N] here', 20);
    for (const line of text.split('\n')) assert.ok(line.length <= 20, line);
    assert.equal(text.replace(/\s+/g, ''), 'usecpu=N,ram=MB,disk=MB[,configurator=ID][,gpu=N]here');
  });
});

describe('--pools-file errors at start-up exit 2 naming the file, the pool and the setting', () => {
  const base = ['--server-token', 't', '--provider', 'timewebcloud'];
  const cases: Array<{ name: string; yaml?: string; args?: string[]; env?: Record<string, string>; message: RegExp }> = [
    {
      name: '--pool-id beside a pools file',
      yaml: 'pools:\n  - id: cpu\n',
      args: ['--pool-id', 'main'],
      message: /--pool-id is not used with --pools-file: every pool has its own `id` in the file/,
    },
    {
      name: 'WOODPECKER_FILTER_LABELS beside a pools file',
      yaml: 'pools:\n  - id: cpu\n',
      env: { WOODPECKER_FILTER_LABELS: 'platform=linux/arm64' },
      message: /WOODPECKER_FILTER_LABELS is not used with --pools-file: each pool is scaled only by the queued work its `agent-labels` match/,
    },
    {
      name: 'a bad value',
      yaml: 'pools:\n  - id: cpu\n  - id: gpu\n    max-agents: many\n',
      message: /pools\.yaml: pool "gpu" \(2nd\): max-agents: /,
    },
    {
      name: 'a global setting in a pool',
      yaml: 'pools:\n  - id: cpu\n    reconciliation-interval: 1m\n',
      message: /pool "cpu" \(1st\): reconciliation-interval: not a pool setting/,
    },
    { name: 'a file that cannot be read', message: /cannot read the pools file .*--pools-file/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pools-'));
      try {
        const path = join(dir, 'pools.yaml');
        if (c.yaml !== undefined) writeFileSync(path, c.yaml);
        const { code, stderr } = await run([...base, ...(c.args ?? []), '--pools-file', path], { ...TW_TOKEN, ...c.env });
        assert.equal(code, 2, stderr);
        assert.match(stderr, /configuration error/);
        assert.match(stderr, c.message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
