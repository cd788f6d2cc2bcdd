#!/usr/bin/env node
// Entry point: runs the compiled CLI (dist/, built by `npm run build`; `npm pack` builds it first, so an installed
// package always has it). A development checkout without dist/ runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'entry.js');
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`twcloud-scaler: ${compiled} is missing: run \`npm run build\` (or \`npm ci\` for tsx)\n`);
    process.exit(1);
  }
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'entry.ts')).href);
}
