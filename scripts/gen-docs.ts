// Writes docs/configuration.md from the option tables (core + every registered provider).
// Usage: tsx scripts/gen-docs.ts [--check]   (--check: exit 1 when the committed file is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkDocsFreshness, renderConfigurationMarkdown } from '../src/config/docs.js';
import { allOptionSpecs, configSections } from '../src/config/sections.js';
import { specTableProblems } from '../src/config/sections.js';

const target = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const shownPath = 'docs/configuration.md';

const problems = specTableProblems(allOptionSpecs());
if (problems.length > 0) {
  console.error(`option table problems:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const expected = renderConfigurationMarkdown(configSections());

if (process.argv.includes('--check')) {
  let current: string | undefined;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  const result = checkDocsFreshness(current, expected, shownPath);
  if (!result.fresh) {
    console.error(result.message);
    process.exit(1);
  }
  console.log(result.message);
} else {
  writeFileSync(target, expected);
  console.log(`wrote ${shownPath}`);
}
