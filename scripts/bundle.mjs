#!/usr/bin/env node
// Builds the single-file bundle dist/twcloud-scaler.mjs from src/cli/entry.ts with esbuild: one file that runs with
// a plain `node` (>= 20.12) and no node_modules, for hosts without Docker (see deploy/twcloud-scaler.service). The
// entry runs the CLI unconditionally, so the bundle works under any file name.
//
// Usage: node scripts/bundle.mjs [--outfile PATH] [--entry PATH] [--minify]
//
// Notes:
// - Output is ESM for Node; CommonJS dependencies (pino, commander's deps, …) get a `require` from the banner's
//   createRequire shim, plus __filename/__dirname.
// - pino-pretty is bundled: the logger uses it as a synchronous stream, not as a worker-thread transport.
// - tsx (the development loader) is never needed: the bundle is compiled TypeScript.
// - src/cli/version.ts reads package.json at run time; in the bundle it is replaced by the version as a constant.
import { build } from 'esbuild';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const entry = resolve(root, arg('--entry', 'src/cli/entry.ts'));
const outfile = resolve(root, arg('--outfile', 'dist/twcloud-scaler.mjs'));
const minify = process.argv.includes('--minify');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const banner = [
  '#!/usr/bin/env node',
  `// twcloud-scaler ${pkg.version} — single-file bundle (scripts/bundle.mjs). License: ${pkg.license}.`,
  "import { createRequire as __twcCreateRequire } from 'node:module';",
  "import { fileURLToPath as __twcFileURLToPath } from 'node:url';",
  "import { dirname as __twcDirname } from 'node:path';",
  'const require = __twcCreateRequire(import.meta.url);',
  'const __filename = __twcFileURLToPath(import.meta.url);',
  'const __dirname = __twcDirname(__filename);',
].join('\n');

/** There is no package.json next to the bundle: compile the version in. */
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]cli[\\/]version\.ts$/ }, () => ({
      contents: `export const VERSION = ${JSON.stringify(pkg.version)};\n`,
      loader: 'ts',
    }));
  },
};

mkdirSync(dirname(outfile), { recursive: true });
const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.12',
  banner: { js: banner },
  // tsx is only used by the development entry, never by the bundle.
  external: ['tsx', 'tsx/*'],
  plugins: [inlineVersion],
  legalComments: 'none',
  minify,
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
});

chmodSync(outfile, 0o755);
const inputs = Object.keys(result.metafile.inputs).length;
const size = statSync(outfile).size;
process.stdout.write(`${relative(root, outfile)}: ${(size / 1024).toFixed(0)} KiB from ${inputs} input files\n`);
