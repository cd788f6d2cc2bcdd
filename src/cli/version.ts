import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    // src/cli/version.ts and dist/cli/version.js are both two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'dev';
  } catch {
    return 'dev';
  }
}

/** The package version (`dev` when it cannot be read, e.g. in a bundle without package.json). */
export const VERSION: string = readVersion();
