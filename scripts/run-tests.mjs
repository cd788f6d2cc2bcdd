#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's built-in test runner (TypeScript via tsx).
// Usage: npm test [-- <path filter substring> ...]
//        npm run chaos [-- <filter> ...]   (the long chaos sweep: CHAOS_SWEEP=long, only test/chaos)
//
// Nothing here depends on how fast the machine is: randomized runs are bounded by count (test/chaos/suite.ts), and
// the time limit below is only a guard against a hung test. It applies to each test file and to each test in it, and
// is generous on purpose. Measured on a 2-core machine with a load average of about 20 (other jobs plus two CPU
// hogs): the slowest file of `npm test` took 242 s of its 600; the long sweep's default-policy file took 537 s under
// a load of about 17, so `npm run chaos` gets 30 minutes.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';


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
const HANG_GUARD_MS = chaos ? 1_800_000 : 600_000;
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${HANG_GUARD_MS}`, ...files],
  { stdio: 'inherit', env },
);
process.exit(res.status ?? 1);
