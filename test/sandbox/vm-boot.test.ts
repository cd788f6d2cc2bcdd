import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { bootAgentFromUserData } from '../../src/sandbox/vm-boot.js';

const GRPC = 'ci.example.com:9000';

function compose(env: string): string {
  return [
    '#cloud-config',
    'write_files:',
    '- path: /root/docker-compose.yml',
    '  content: |',
    '    services:',
    '      woodpecker-agent:',
    '        image: woodpeckerci/woodpecker-agent:v3',
    '        environment:',
    ...env.split('\n').map((l) => `          ${l}`),
    'runcmd:',
    '  - sh -xc "cd /root; docker compose up -d"',
    '',
  ].join('\n');
}

const good = compose(
  [
    '- WOODPECKER_SERVER=ci.example.com:9000',
    '- WOODPECKER_AGENT_SECRET=s3cr3t',
    '- WOODPECKER_MAX_WORKFLOWS=3',
    '- WOODPECKER_AGENT_LABELS=pool=1,size=large',
  ].join('\n'),
);

describe('bootAgentFromUserData', () => {
  it('finds token, server, capacity and labels in the compose file', () => {
    const r = bootAgentFromUserData(good, GRPC);
    assert.ok(r.ok);
    assert.equal(r.agent.token, 's3cr3t');
    assert.equal(r.agent.server, GRPC);
    assert.equal(r.agent.capacity, 3);
    assert.deepEqual(r.agent.labels, { pool: '1', size: 'large' });
  });

  it('accepts a mapping environment, base64 and gzip content, and env files', () => {
    const mapping = compose('WOODPECKER_SERVER: ci.example.com:9000\nWOODPECKER_AGENT_SECRET: t1\nWOODPECKER_MAX_WORKFLOWS: 2');
    const m = bootAgentFromUserData(mapping, GRPC);
    assert.ok(m.ok);
    assert.equal(m.agent.capacity, 2);
    const composeText = 'services:\n  agent:\n    environment:\n      - WOODPECKER_SERVER=ci.example.com:9000\n      - WOODPECKER_AGENT_SECRET=t2\n';
    const b64 = `#cloud-config\nwrite_files:\n- path: /root/docker-compose.yml\n  encoding: b64\n  content: ${Buffer.from(composeText).toString('base64')}\n`;
    const r1 = bootAgentFromUserData(b64, GRPC);
    assert.ok(r1.ok);
    assert.equal(r1.agent.capacity, 1, 'agent default capacity');
    const gz = `#cloud-config\nwrite_files:\n- path: /x.yml\n  encoding: gz+b64\n  content: ${gzipSync(composeText).toString('base64')}\n`;
    assert.ok(bootAgentFromUserData(gz, GRPC).ok);
    const env = `#cloud-config\nwrite_files:\n- path: /etc/woodpecker/agent.env\n  content: |\n    WOODPECKER_SERVER=ci.example.com:9000\n    WOODPECKER_AGENT_SECRET="t3"\n`;
    const r3 = bootAgentFromUserData(env, GRPC);
    assert.ok(r3.ok);
    assert.equal(r3.agent.token, 't3');
  });

  const broken: [string, string, RegExp][] = [
    ['no #cloud-config header', good.replace('#cloud-config\n', ''), /not a #cloud-config/],
    ['a shell script', '#!/bin/sh\necho hi\n', /not a #cloud-config/],
    ['invalid YAML', '#cloud-config\nwrite_files: [\n  - path: x\n', /cannot parse/],
    ['no write_files', '#cloud-config\nruncmd:\n  - echo hi\n', /no write_files/],
    ['no secret', compose('- WOODPECKER_SERVER=ci.example.com:9000'), /WOODPECKER_AGENT_SECRET/],
    ['empty secret', compose('- WOODPECKER_SERVER=ci.example.com:9000\n- WOODPECKER_AGENT_SECRET='), /empty/],
    ['no server', compose('- WOODPECKER_AGENT_SECRET=x'), /WOODPECKER_SERVER is not set/],
    ['wrong server', compose('- WOODPECKER_SERVER=localhost:9000\n- WOODPECKER_AGENT_SECRET=x'), /dials localhost:9000/],
    [
      'bad max workflows',
      compose('- WOODPECKER_SERVER=ci.example.com:9000\n- WOODPECKER_AGENT_SECRET=x\n- WOODPECKER_MAX_WORKFLOWS=zero'),
      /MAX_WORKFLOWS/,
    ],
    ['a template left unrendered', good.replace('s3cr3t', '{{ .Token }}').replace('    services', '    services: {{'), /.+/],
  ];
  for (const [name, text, re] of broken) {
    it(`broken user-data yields no agent: ${name}`, () => {
      const r = bootAgentFromUserData(text, GRPC);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, re);
    });
  }
});
