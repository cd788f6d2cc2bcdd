#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in test runner (TypeScript via tsx).
// Usage: npm test [-- <path filter substring> ...]
//        npm run chaos [-- <filter> ...]   (the long chaos sweep: CHAOS_SWEEP=long, only test/chaos)
//
// Nothing here depends on how fast the machine is: randomized runs are bounded by count (test/chaos/suite.ts), and
// the time limit below is only a guard against a hung test. It applies to each test file and to each test in it, and
// is generous on purpose: the slowest file takes about 30 s on an idle 2-core machine, so it passes even when the
// machine is ten times slower or busy with other work.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const HANG_GUARD_MS = 600_000;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const chaos = args[0] === '--chaos';
const filters = chaos ? args.slice(1) : args;
const files = walk(chaos ? 'test/chaos' : 'test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const env = chaos ? { ...process.env, CHAOS_SWEEP: 'long' } : process.env;
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${HANG_GUARD_MS}`, ...files],
  { stdio: 'inherit', env },
);
process.exit(res.status ?? 1);
