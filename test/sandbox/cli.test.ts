import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerSimulateCommand } from '../../src/cli/simulate.js';
import { registerDemoCommand } from '../../src/cli/demo.js';
import type { SimulationResult } from '../../src/sandbox/result.js';
import { ConfigError } from '../../src/config/types.js';

function harness(files: Record<string, string>): {
  program: Command;
  out: () => string;
  written: Record<string, string>;
} {
  let stdout = '';
  const written: Record<string, string> = {};
  const io = {
    env: {},
    cwd: '/nowhere',
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => true },
    readFile: (p: string): string => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return t;
    },
    writeFile: (p: string, t: string) => {
      written[p] = t;
    },
  };
  const program = new Command('twcloud-scaler').enablePositionalOptions().exitOverride();
  registerSimulateCommand(program, io);
  registerDemoCommand(program, { ...io, onInterrupt: () => () => undefined });
  return { program, out: () => stdout, written };
}

const CSV = 'arrival,duration,labels\n0,300,repo=acme/web\n10,300\n20,240\n600,120\n';

describe('simulate command', () => {
  it('runs a CSV workload with --compare, --json and --html', async () => {
    const h = harness({ 'w.csv': CSV });
    await h.program.parseAsync(
      ['simulate', '--workload', 'w.csv', '--compare', 'upstream', '--json', '--html', 'r.html', '--min-agents', '0', '--tail', '30m'],
      { from: 'user' },
    );
    const parsed = JSON.parse(h.out()) as { runs: SimulationResult[] };
    assert.deepEqual(
      parsed.runs.map((r) => [r.label, r.policy, r.workflows.completed]),
      [
        ['default', 'default', 4],
        ['upstream', 'upstream', 4],
      ],
    );
    assert.equal(parsed.runs[0]?.settings.minAgents, 0);
    assert.match(h.written['r.html'] ?? '', /<svg /);
  });

  it('compares against an env file of WOODPECKER_* settings; prints a table', async () => {
    const h = harness({ 'w.csv': CSV, 'big.env': 'WOODPECKER_MAX_AGENTS=7\nWOODPECKER_WORKFLOWS_PER_AGENT=1\n' });
    await h.program.parseAsync(
      ['simulate', '--workload', 'w.csv', '--compare', 'big.env', '--min-agents', '0', '--tail', '10m', '--span', '1h'],
      { from: 'user' },
    );
    assert.match(h.out(), /default\s+big\.env\s+big\.env ÷ default/);
    assert.match(h.out(), /workflows completed\s+4 \/ 4\s+4 \/ 4/);
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown workload', ['--workload', 'nope'], /neither a built-in/],
    ['bad seed', ['--seed', 'x'], /--seed/],
    ['bad rate', ['--never-boot-rate', '2'], /--never-boot-rate/],
    ['bad engine flag', ['--max-agents', '0'], /max-agents/],
    ['compare file without settings', ['--compare', 'empty.env'], /sets no option/],
  ];
  for (const [name, args, re] of bad) {
    it(`configuration errors: ${name}`, async () => {
      const h = harness({ 'w.csv': CSV, 'empty.env': 'FOO=1\n' });
      await assert.rejects(
        h.program.parseAsync(['simulate', '--workload', 'w.csv', ...args], { from: 'user' }),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
      );
    });
  }

  describe('with --pools-file', () => {
    const POOLS =
      'pools:\n' +
      '  - id: small\n    max-agents: 2\n    agent-labels: size=small\n    timewebcloud-preset-id: 2451\n' +
      '  - id: large\n    max-agents: 2\n    workflows-per-agent: 1\n    agent-labels: size=large\n    timewebcloud-preset-id: 2455\n';
    const LABELLED = 'arrival,duration,labels\n0,300,size=small\n0,300,size=large\n30,240,size=large\n60,120,type=gpu\n';
    let dir = '';
    let poolsFile = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'sim-cli-pools-'));
      poolsFile = join(dir, 'pools.yaml');
      writeFileSync(poolsFile, POOLS);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    const args = (...more: string[]): string[] => ['simulate', '--workload', 'l.csv', '--pools-file', poolsFile, '--min-agents', '0', '--tail', '10m', ...more];

    it('--compare upstream: the pools and one label-blind pool side by side (JSON, table, HTML)', async () => {
      const h = harness({ 'l.csv': LABELLED, [poolsFile]: POOLS });
      await h.program.parseAsync(args('--compare', 'upstream', '--json', '--html', 'r.html'), { from: 'user' });
      const { runs } = JSON.parse(h.out()) as { runs: SimulationResult[] };
      assert.deepEqual(
        runs.map((r) => [r.label, r.policy, r.pools.map((p) => p.id), r.unservable]),
        [
          ['pools (default)', 'default', ['small', 'large'], 1],
          ['label-blind (upstream)', 'upstream', ['blind'], 3],
        ],
      );
      assert.deepEqual(runs[0]?.pools.map((p) => p.vmsForWorkItCannotRun), [0, 0]);
      assert.ok((runs[1]?.pools[0]?.vmsForWorkItCannotRun ?? 0) >= 1, 'the label-blind pool created servers for large work');
      const html = h.written['r.html'] ?? '';
      assert.match(html, /pool blind \(size=small\): VMs, VM-hours, cost/);
      assert.match(html, /VMs created for work the pool cannot run/);
      assert.match(html, /size=large: done, wait p95<\/td><td>2 \/ 2, [^<]+<\/td><td>0 \/ 2, never started/);

      const t = harness({ 'l.csv': LABELLED, [poolsFile]: POOLS });
      await t.program.parseAsync(args('--compare', 'default'), { from: 'user' });
      assert.match(t.out(), /pools \(default\)\s+label-blind \(default\)/);
      assert.match(t.out(), /pool small \(size=small\): VMs, VM-hours, cost\s+\d+, [\d.]+ h, [\d.]+ RUB \(hourly, 1\.\d\d\/h\)\s+—/);
      assert.match(t.out(), /pool large \(size=large\): VMs, VM-hours, cost\s+\d+, [\d.]+ h, [\d.]+ RUB \(hourly, 2\.\d\d\/h\)\s+—/);
      assert.match(t.out(), /workflows no pool can run\s+1\s+3\s/);
      assert.match(t.out(), /type=gpu: done, wait p95\s+0 \/ 1, never started\s+0 \/ 1, never started/);
    });

    it('--compare FILE setting what every pool sets itself: a configuration error', async () => {
      const h = harness({ 'l.csv': LABELLED, [poolsFile]: POOLS, 'more.env': 'WOODPECKER_MAX_AGENTS=9\n' });
      await assert.rejects(
        h.program.parseAsync(args('--compare', 'more.env'), { from: 'user' }),
        (e: unknown) => e instanceof ConfigError && /--compare more\.env: max-agents has no effect beside --pools-file/.test(e.message),
      );
    });
  });
});

describe('demo command', () => {
  it('runs the real loop against the world on 127.0.0.1, then deletes everything', async () => {
    // No fixed --duration: the test stops the demo once an agent connected and a workflow finished, however long a
    // busy machine takes for that.
    let stdout = '';
    let stopDemo = (): void => undefined;
    const program = new Command('twcloud-scaler').enablePositionalOptions().exitOverride();
    registerDemoCommand(program, {
      env: {},
      cwd: '/nowhere',
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: () => true },
      readFile: (p: string): string => {
        throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      },
      onInterrupt: (stop) => {
        stopDemo = stop;
        return () => undefined;
      },
    });
    const demo = program.parseAsync(
      [
        'demo',
        '--duration', '10m',
        '--seed', '2',
        '--http-addr', 'off',
        '--boot-delay', '200ms',
        '--agent-start-delay', '100ms',
        '--jobs-per-minute', '60',
        '--reconciliation-interval', '1s',
        '--queue-poll-interval', '250ms',
      ],
      { from: 'user' },
    );
    for (let i = 0; i < 1200 && !/● agent pool-1-agent-\w+ connected/.test(stdout); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    stopDemo();
    await demo;
    const h = { out: () => stdout };
    const out = h.out();
    assert.match(out, /policy default · agents 0\.\.5/);
    assert.match(out, /create pool-1-agent-[a-z0-9]+ — pending-work/);
    assert.match(out, /● agent pool-1-agent-\w+ connected/);
    assert.match(out, /left over: 0 server\(s\), 0 floating IP\(s\), 0 agent\(s\)/);
    assert.doesNotMatch(out, /FOREIGN/);
    // every "+ server created" line comes after the create decision that caused it
    const lines = out.split('\n');
    const created = lines.flatMap((l, i) => (/ \+ server (pool-1-agent-\w+)/.exec(l) ? [[i, /pool-1-agent-\w+/.exec(l)?.[0] ?? ''] as const] : []));
    assert.ok(created.length > 0, 'a server was created');
    for (const [at, name] of created) {
      // queued work, or the forecast's warm capacity (on by default) for the next arrivals
      const decided = lines.findIndex((l) => l.includes(`create ${name} — pending-work`) || l.includes(`create ${name} — warm-capacity`));
      assert.ok(decided >= 0 && decided < at, `the create of ${name} (line ${decided}) is printed before its server (line ${at})`);
    }
    // the queue wait counts the workflows still waiting, and says so; the closing line counts unfinished workflows
    assert.match(out, /queue wait p50 \d+s, max \d+s( \(incl\. \d+ still waiting\))?/);
    const done = /done: (\d+) workflow\(s\) finished(?:, (?:(\d+) still running)?(?: and )?(?:(\d+) still queued)? at the stop \(cancelled\))?; \d+ server\(s\) created/.exec(out);
    assert.ok(done, out.slice(-400));
  });

  it('keeps the warning that the status page could not listen on the terminal view', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    let screen = '';
    const program = new Command('twcloud-scaler').enablePositionalOptions().exitOverride();
    registerDemoCommand(program, {
      env: {},
      cwd: '/nowhere',
      stdout: { write: (s: string) => (screen += s), isTTY: true, columns: 200, rows: 40 },
      stderr: { write: () => true },
      readFile: (p: string): string => {
        throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      },
      onInterrupt: () => () => undefined,
    });
    try {
      await program.parseAsync(['demo', '--duration', '1500ms', '--seed', '1', '--http-addr', `127.0.0.1:${port}`], { from: 'user' });
    } finally {
      blocker.close();
    }
    const frames = screen.split('\x1b[2J');
    assert.ok(frames.length >= 2, 'the view was drawn');
    assert.match(frames.at(-1) ?? '', /! status page not started: .*EADDRINUSE/);
  });

  it('a configuration error stops it before anything runs, and releases its listeners', async () => {
    const h = harness({});
    await assert.rejects(
      h.program.parseAsync(['demo', '--duration', '2s', '--http-addr', 'off', '--max-agents', '0'], { from: 'user' }),
      (e: unknown) => e instanceof ConfigError && /max-agents/.test(e.message),
    );
  });
});
