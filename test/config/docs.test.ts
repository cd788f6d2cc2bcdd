import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { coreOptions } from '../../src/config/core-options.js';
import { checkDocsFreshness, renderConfigurationMarkdown } from '../../src/config/docs.js';
import { allOptionSpecs, configSections, specTableProblems } from '../../src/config/sections.js';
import type { ProviderDefinition } from '../../src/providers/types.js';
import type { OptionSpec } from '../../src/config/types.js';

describe('renderConfigurationMarkdown', () => {
  const md = renderConfigurationMarkdown([{ title: 'Core options', specs: coreOptions }]);

  it('has one table per category with every flag and env var', () => {
    for (const heading of ['### General', '### Scaling', '### Woodpecker server', '### Agents', '### Status and admin HTTP']) {
      assert.ok(md.includes(heading), heading);
    }
    for (const s of coreOptions) {
      assert.ok(md.includes(`\`--${s.flag}\``), s.flag);
      for (const e of [...s.env, ...(s.fileEnv ?? [])]) assert.ok(md.includes(`\`${e}\``), e);
    }
  });

  it('marks upstream and new options, shows defaults and hides secrets', () => {
    const row = (flag: string): string => md.split('\n').find((l) => l.startsWith(`| \`--${flag}\``)) ?? '';
    assert.match(row('min-agents'), /\| `1` \|.*\| ✓ \|$/);
    assert.match(row('policy'), /\| `default` \|.*\| \*new\* \|$/);
    assert.match(row('reconciliation-interval'), /\| `1m` \|/);
    assert.match(row('server-token'), /\(secret\).*`WOODPECKER_TOKEN_FILE` \(file\) \| — \|/);
    assert.match(row('pool-id'), /pool-&lt;id&gt;-agent/);
  });

  it('explains precedence, syntax and the deliberate differences', () => {
    for (const text of ['first one that is **set** wins', '.env', 'one trailing newline', 'woodpecker-agent:v3', 'unknown `log-level`', 'non-zero exit']) {
      assert.ok(md.includes(text), text);
    }
  });

  it('renders provider sections with their own intro', () => {
    const spec: OptionSpec = {
      key: 'fakeToken',
      flag: 'fake-token',
      env: ['WOODPECKER_FAKE_TOKEN'],
      fileEnv: ['WOODPECKER_FAKE_TOKEN_FILE'],
      type: 'string',
      secret: true,
      description: 'API token | with a pipe',
      category: 'Fake cloud',
    };
    const fake: ProviderDefinition = {
      name: 'fake',
      description: 'A fake provider.',
      options: [spec],
      create: () => Promise.reject(new Error('unused')),
    };
    const out = renderConfigurationMarkdown(configSections([fake]));
    assert.match(out, /## Provider: fake\n\nA fake provider\.\n\n### Fake cloud\n/);
    assert.ok(out.includes('API token \\| with a pipe'));
    assert.deepEqual(allOptionSpecs([fake]).at(-1), spec);
  });
});

describe('checkDocsFreshness', () => {
  it('fresh when identical', () => {
    assert.deepEqual(checkDocsFreshness('a\nb\n', 'a\nb\n', 'docs/x.md'), { fresh: true, message: 'docs/x.md is up to date' });
  });
  it('stale names the first differing line and the fix', () => {
    const r = checkDocsFreshness('a\nb\nc\n', 'a\nB\nc\n', 'docs/x.md');
    assert.equal(r.fresh, false);
    assert.match(r.message, /docs\/x\.md is stale \(first difference at line 2\): run `npm run docs`/);
  });
  it('missing file', () => {
    const r = checkDocsFreshness(undefined, 'a', 'docs/x.md');
    assert.equal(r.fresh, false);
    assert.match(r.message, /missing/);
  });
  it('the committed docs/configuration.md is up to date', () => {
    let current: string | undefined;
    try {
      current = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    } catch {
      current = undefined;
    }
    const r = checkDocsFreshness(current, renderConfigurationMarkdown(configSections()), 'docs/configuration.md');
    assert.ok(r.fresh, r.message);
  });
});

describe('option tables', () => {
  it('core + registered provider options have unique keys, flags and env names and well-typed defaults', () => {
    assert.deepEqual(specTableProblems(allOptionSpecs()), []);
  });
  it('specTableProblems finds duplicates and type mismatches', () => {
    const a: OptionSpec = { key: 'a', flag: 'a', env: ['X'], type: 'int', default: 1, description: '', category: 'c' };
    const b: OptionSpec = { key: 'b', flag: 'b', env: ['X', 'bad'], type: 'int', default: 'no', description: '', category: 'c' };
    const problems = specTableProblems([a, b]);
    assert.ok(problems.some((p) => p.includes('env X is used by both --a and --b')));
    assert.ok(problems.some((p) => p.includes('bad is not UPPER_SNAKE_CASE')));
    assert.ok(problems.some((p) => p.includes('does not match type int')));
  });
  it('every core option is documented and marked; the flags of the Go 1.5.0 release and of main are all upstream', () => {
    const upstream = coreOptions.filter((s) => s.upstream).map((s) => s.flag).sort();
    // cmd/woodpecker-autoscaler/flags.go of the 1.5.0 release (engine-wide flags) …
    const go150 = [
      'log-level', 'reconciliation-interval', 'pool-id', 'min-agents', 'max-agents', 'agent-inactivity-timeout',
      'agent-idle-timeout', 'workflows-per-agent', 'server-url', 'server-token', 'grpc-addr', 'grpc-secure',
      'provider', 'provider-user-data', 'agent-image', 'agent-env', 'filter-labels',
    ];
    // … and of main (reference §2.2): provider-user-data became cloudinit-template, filter-labels was removed.
    const goMain = [
      'log-level', 'reconciliation-interval', 'pool-id', 'min-agents', 'max-agents', 'agent-inactivity-timeout',
      'agent-idle-timeout', 'agent-billing-teardown-margin', 'workflows-per-agent', 'server-url', 'server-token',
      'grpc-addr', 'grpc-secure', 'provider', 'cloudinit-template', 'agent-image', 'agent-env', 'agent-labels',
    ];
    assert.deepEqual(upstream, [...new Set([...go150, ...goMain])].sort());
    const byFlag = new Map(coreOptions.map((s) => [s.flag, s]));
    assert.deepEqual(byFlag.get('provider-user-data')?.env, ['WOODPECKER_PROVIDER_USERDATA']);
    assert.deepEqual(byFlag.get('provider-user-data')?.fileEnv, ['WOODPECKER_PROVIDER_USERDATA_FILE']);
    assert.deepEqual(byFlag.get('filter-labels')?.env, ['WOODPECKER_FILTER_LABELS']);
    assert.deepEqual(byFlag.get('agent-inactivity-timeout')?.env, [
      'WOODPECKER_AGENT_INACTIVITY_TIMEOUT',
      'WOODPECKER_AGENT_ALLOWED_STARTUP_TIME',
    ]);
    for (const s of coreOptions) assert.ok(s.description.length > 10, s.flag);
  });
});
