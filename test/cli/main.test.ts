import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';

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

const cases: Array<{ name: string; argv: string[]; env?: Record<string, string>; message: RegExp }> = [
  {
    name: '--once without configuration asks for the token (it does not start the demo)',
    argv: ['--once'],
    message: /--server-token \(WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE\)/,
  },
  {
    name: '--dry-run without configuration asks for the token',
    argv: ['--dry-run'],
    message: /please provide a woodpecker access token/,
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
    env: { WOODPECKER_MIN_AGENTS: '5', WOODPECKER_MAX_AGENTS: '2' },
    message: /--min-agents \(WOODPECKER_MIN_AGENTS\).*--max-agents \(WOODPECKER_MAX_AGENTS\)/,
  },
  {
    name: 'a bad duration names the flag and its env vars',
    argv: ['--server-token', 't', '--provider', 'timewebcloud', '--agent-idle-timeout', '10 minutes'],
    message: /--agent-idle-timeout \(WOODPECKER_AGENT_IDLE_TIMEOUT\)/,
  },
];

for (const c of cases) {
  test(`configuration errors exit 2: ${c.name}`, async () => {
    const { code, stderr } = await run(c.argv, c.env);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /configuration error/);
    assert.match(stderr, c.message);
  });
}
