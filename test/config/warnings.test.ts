import { closestName, editDistance } from '../../src/config/suggest.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allOptionSpecs } from '../../src/config/sections.js';
import {
  envNamesOf,
  secretFlagWarnings,
  unknownEnvWarnings,
} from '../../src/config/warnings.js';

const specs = allOptionSpecs();

describe('unknown WOODPECKER_* variables', () => {
  const cases: Array<[string, string]> = [
    ['WOODPECKER_MIN_AGENT', 'WOODPECKER_MIN_AGENTS'],
    ['WOODPECKER_MAX_AGENT', 'WOODPECKER_MAX_AGENTS'],
    ['WOODPECKER_TOKENS', 'WOODPECKER_TOKEN'],
    ['WOODPECKER_POOLID', 'WOODPECKER_POOL_ID'],
    ['WOODPECKER_TIMEWEBCLOUD_API_TOKN', 'WOODPECKER_TIMEWEBCLOUD_API_TOKEN'],
    ['WOODPECKER_TIMEWEBCLOUD_PRESET', 'WOODPECKER_TIMEWEBCLOUD_PRESET_ID'],
    ['WOODPECKER_HTTP_TOKEN_FIEL', 'WOODPECKER_HTTP_TOKEN_FILE'],
  ];
  for (const [typo, meant] of cases) {
    it(`${typo}: warned, naming ${meant}`, () => {
      assert.deepEqual(unknownEnvWarnings(specs, { [typo]: '1' }), [
        `${typo} is not a twcloud-scaler setting and is ignored; did you mean ${meant}?`,
      ]);
    });
  }

  it('every known name (provider options and *_FILE included) and other variables pass silently', () => {
    const env = Object.fromEntries(envNamesOf(specs).map((n) => [n, 'x']));
    assert.ok('WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE' in env && 'WOODPECKER_MIN_AGENTS' in env);
    assert.deepEqual(unknownEnvWarnings(specs, { ...env, PATH: '/bin', HOME: '/root', woodpecker_x: '1' }), []);
  });

  it("the Woodpecker server's own variables that share the .env file pass silently", () => {
    const env = {
      WOODPECKER_HOST: 'https://ci.example.com',
      WOODPECKER_ADMIN: 'alice',
      WOODPECKER_OPEN: 'false',
      WOODPECKER_SERVER_LOG_LEVEL: 'info',
      WOODPECKER_FORGEJO: 'true',
      WOODPECKER_FORGEJO_URL: 'https://git.example.com',
      WOODPECKER_GITHUB_CLIENT: 'x',
      WOODPECKER_DATABASE_DRIVER: 'sqlite3',
      WOODPECKER_AGENT_SECRET: 's',
    };
    assert.deepEqual(unknownEnvWarnings(specs, env), []);
    // but a near miss of a prefix is not one of them
    assert.equal(unknownEnvWarnings(specs, { WOODPECKER_FORGEJOX: '1' }).length, 1);
  });

  it('the example env files name only options or server variables (nothing in them would be warned about)', () => {
    const env: Record<string, string> = {};
    for (const file of ['.env.example', '.env.autoscaler.example']) {
      const text = readFileSync(join(process.cwd(), file), 'utf8');
      for (const m of text.matchAll(/^#?\s*(WOODPECKER_[A-Z0-9_]+)=/gm)) env[m[1] as string] = 'x';
    }
    assert.ok(Object.keys(env).length > 10);
    assert.deepEqual(unknownEnvWarnings(specs, env), []);
  });

  it('edit distance', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
    assert.equal(closestName('WOODPECKER_MIN_AGENT', ['WOODPECKER_MAX_AGENTS', 'WOODPECKER_MIN_AGENTS']), 'WOODPECKER_MIN_AGENTS');
    assert.equal(closestName('X', []), undefined);
  });
});

describe('secrets given as flags', () => {
  it('warns once per secret option given on the command line, naming the env and *_FILE alternatives, never the value', () => {
    const secrets = specs.filter((s) => s.secret === true);
    assert.ok(secrets.length >= 3, 'server token, http token, Timeweb token');
    const cli = Object.fromEntries(secrets.map((s) => [s.flag, `value-of-${s.flag}`]));
    const warnings = secretFlagWarnings(specs, { ...cli, 'min-agents': '2' });
    assert.equal(warnings.length, secrets.length);
    for (const s of secrets) {
      const w = warnings.find((x) => x.startsWith(`--${s.flag} `));
      assert.ok(w, s.flag);
      assert.match(w, /any local user can read it \(ps, \/proc\/PID\/cmdline\)/);
      for (const name of [...s.env, ...(s.fileEnv ?? [])]) assert.ok(w.includes(name), `${s.flag}: ${name}`);
      assert.ok(!w.includes('value-of-'), 'the value is never printed');
    }
    assert.ok(warnings.some((w) => w.includes('WOODPECKER_TIMEWEBCLOUD_API_TOKEN or WOODPECKER_TIMEWEBCLOUD_API_TOKEN_FILE')));
  });

  it('says nothing about secrets from the environment or about other flags', () => {
    assert.deepEqual(secretFlagWarnings(specs, { 'min-agents': '2', 'dry-run': true }), []);
  });
});
