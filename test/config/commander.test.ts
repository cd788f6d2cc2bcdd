import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addOptions, cliValues, optionHelpText, rewriteBoolArgs } from '../../src/config/commander.js';
import { coreOptions } from '../../src/config/core-options.js';
import { resolveOptions } from '../../src/config/resolve.js';

function program(): Command {
  const cmd = new Command('twcloud-scaler').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  addOptions(cmd, coreOptions);
  cmd.action(() => {});
  return cmd;
}

function parse(argv: string[], env: Record<string, string> = {}) {
  const cmd = program();
  cmd.parse(argv, { from: 'user' });
  const cli = cliValues(cmd, coreOptions);
  return { cli, values: resolveOptions(coreOptions, { cli, env }) };
}

describe('commander integration', () => {
  it('parses ints and repeated list flags', () => {
    const { cli, values } = parse(['--min-agents', '3', '--agent-env', 'A=1', '--agent-env', 'B=2']);
    assert.deepEqual(cli, { 'min-agents': '3', 'agent-env': ['A=1', 'B=2'] });
    assert.equal(values['minAgents'], 3);
    assert.deepEqual(values['agentEnv'], ['A=1', 'B=2']);
    assert.equal(values['maxAgents'], 10);
  });

  it('only flags the user gave are in the cli record, so env still applies to the rest', () => {
    const { cli, values } = parse(['--max-agents=4'], { WOODPECKER_MAX_AGENTS: '9', WOODPECKER_MIN_AGENTS: '2' });
    assert.deepEqual(cli, { 'max-agents': '4' });
    assert.equal(values['maxAgents'], 4);
    assert.equal(values['minAgents'], 2);
  });

  it('accepts Go-style bools: bare, =false, =true, separate literal', () => {
    assert.equal(parse(['--grpc-secure'])['values']['grpcSecure'], true);
    assert.equal(parse(['--grpc-secure=false'], { WOODPECKER_GRPC_SECURE: 'true' }).values['grpcSecure'], false);
    assert.equal(parse(['--dry-run=1']).values['dryRun'], true);
    assert.equal(parse(['--dry-run', 'false']).values['dryRun'], false);
    assert.equal(parse(['--dry-run', '--once']).values['once'], true);
  });

  it('a bare bool flag does not swallow a following subcommand', () => {
    const cmd = new Command('x').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
    addOptions(cmd, coreOptions);
    let ran = false;
    cmd.command('demo').action(() => {
      ran = true;
    });
    cmd.parse(['--dry-run', 'demo'], { from: 'user' });
    assert.equal(ran, true);
    assert.deepEqual(cliValues(cmd, coreOptions), { 'dry-run': 'true' });
  });

  it('rewriteBoolArgs only touches bare bool flags before "--"', () => {
    const flags = new Set(['dry-run']);
    assert.deepEqual(rewriteBoolArgs(['--dry-run', 'demo', '--', '--dry-run', 'x'], flags), [
      '--dry-run=true',
      'demo',
      '--',
      '--dry-run',
      'x',
    ]);
    assert.deepEqual(rewriteBoolArgs(['--dry-run', 'f', '--min-agents', '1'], flags), ['--dry-run', 'f', '--min-agents', '1']);
    assert.deepEqual(rewriteBoolArgs(['--dry-run'], flags), ['--dry-run']);
  });

  it('accepts negative numbers as values (validation rejects them later)', () => {
    assert.equal(parse(['--min-agents', '-1']).values['minAgents'], -1);
  });

  it('help shows groups, defaults and env vars, and hides nothing secret', () => {
    const help = program().helpInformation();
    for (const heading of ['General:', 'Scaling:', 'Woodpecker server:', 'Agents:', 'Status and admin HTTP:']) {
      assert.ok(help.includes(heading), heading);
    }
    assert.match(help, /--reconciliation-interval <DURATION>/);
    assert.match(help, /--grpc-secure \[BOOL\]/);
    assert.match(help, /default: 1m;/);
    assert.match(help, /WOODPECKER_AGENT_ALLOWED_STARTUP_TIME/);
    assert.match(help, /WOODPECKER_TOKEN_FILE/);
  });

  it('optionHelpText lists default, env, file env and repeatable', () => {
    const spec = coreOptions.find((s) => s.flag === 'agent-env');
    assert.ok(spec);
    assert.match(optionHelpText(spec), /\(env: WOODPECKER_AGENT_ENV; repeatable\)$/);
    const token = coreOptions.find((s) => s.flag === 'server-token');
    assert.ok(token);
    assert.match(optionHelpText(token), /\(env: WOODPECKER_TOKEN; file: WOODPECKER_TOKEN_FILE\)$/);
    const interval = coreOptions.find((s) => s.flag === 'queue-poll-interval');
    assert.ok(interval);
    assert.match(optionHelpText(interval), /default: 2s; env: WOODPECKER_QUEUE_POLL_INTERVAL/);
  });
});
