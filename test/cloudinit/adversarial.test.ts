import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDocument } from 'yaml';
import { compareCodePoints } from '../../src/cloudinit/gotemplate.js';
import { buildAgentEnvironment, renderUserData } from '../../src/cloudinit/render.js';
import type { RenderUserDataOptions } from '../../src/cloudinit/render.js';
import { seededRandom } from '../../src/util/clock.js';
import { composeUnescape, NASTY_VALUES, randomNasty } from './helpers.js';

const COMPOSE_UP = 'sh -xc "cd /root; docker compose up -d"';

function parseStrict(text: string, version: '1.1' | '1.2', what: string): unknown {
  const doc = parseDocument(text, { version, uniqueKeys: true });
  assert.deepEqual(doc.errors, [], `${what} (YAML ${version}) has errors:\n${text}`);
  assert.deepEqual(doc.warnings, [], `${what} (YAML ${version}) has warnings:\n${text}`);
  return doc.toJS() as unknown;
}

interface CloudConfig {
  runcmd: unknown;
  write_files: { path: string; content: unknown }[];
}
interface Compose {
  services: { 'woodpecker-agent': { image: unknown; environment: unknown; restart: unknown } };
}

/** Renders and checks that both YAML layers parse and carry exactly the input values. */
function checkRoundTrip(input: RenderUserDataOptions, what: string): void {
  const out = renderUserData(input);
  assert.ok(out.startsWith('#cloud-config\n'), what);
  const expectedEnv = Object.entries(input.environment)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([k, v]) => `${k}=${v}`);
  for (const version of ['1.1', '1.2'] as const) {
    const cc = parseStrict(out, version, `${what}: cloud-config`) as CloudConfig;
    assert.deepEqual(cc.runcmd, [...input.preExec, COMPOSE_UP, ...input.postExec], `${what}: runcmd (YAML ${version})`);
    assert.equal(cc.write_files.length, 1);
    assert.equal(cc.write_files[0]?.path, '/root/docker-compose.yml');
    const content = cc.write_files[0]?.content;
    assert.equal(typeof content, 'string', what);
    const compose = parseStrict(content as string, version, `${what}: compose`) as Compose;
    const svc = compose.services['woodpecker-agent'];
    assert.equal(svc.restart, 'always');
    assert.equal(typeof svc.image, 'string');
    assert.equal(composeUnescape(svc.image as string), input.image, `${what}: image (YAML ${version})`);
    assert.ok(Array.isArray(svc.environment));
    for (const item of svc.environment as unknown[]) assert.equal(typeof item, 'string', `${what}: env item type`);
    assert.deepEqual((svc.environment as string[]).map(composeUnescape), expectedEnv, `${what}: environment (YAML ${version})`);
  }
}

function inputFor(value: string, extra: Record<string, string> = {}): RenderUserDataOptions {
  return {
    image: value,
    environment: buildAgentEnvironment({
      grpcAddr: value,
      agentToken: value,
      workflowsPerAgent: 1,
      grpcSecure: true,
      agentEnv: { NASTY: value, ...extra },
      agentLabels: { l: value, k: 'v' },
    }),
    preExec: [value],
    postExec: [value, `echo ${value}`],
  };
}

describe('adversarial values stay valid YAML in both layers', () => {
  for (const v of NASTY_VALUES) {
    it(JSON.stringify(v), () => checkRoundTrip(inputFor(v), JSON.stringify(v)));
  }

  it('every nasty value at once (as keys too)', () => {
    const extra: Record<string, string> = {};
    NASTY_VALUES.forEach((v, i) => {
      extra[`NASTY_${String(i).padStart(2, '0')}`] = v;
      const key = v.replace(/=/g, '').trim();
      if (key !== '') extra[key] = v;
    });
    checkRoundTrip(
      {
        image: 'registry.example:5000/woodpecker-agent:v3',
        environment: buildAgentEnvironment({
          grpcAddr: 'ci.example:9000',
          agentToken: 't',
          workflowsPerAgent: 3,
          grpcSecure: false,
          agentEnv: extra,
          agentLabels: Object.fromEntries(NASTY_VALUES.map((v, i) => [`label${i}`, v])),
        }),
        preExec: NASTY_VALUES,
        postExec: [...NASTY_VALUES].reverse(),
      },
      'combined',
    );
  });

  it('a lone surrogate survives through a \\u escape', () => {
    checkRoundTrip(inputFor('a\ud800b'), 'lone surrogate');
  });

  it('property: 400 random strings from a seeded PRNG', () => {
    const rnd = seededRandom(20240611);
    for (let i = 0; i < 400; i++) {
      const v = randomNasty(rnd);
      checkRoundTrip(inputFor(v, { [`R${i}`]: randomNasty(rnd) }), `seed 20240611 #${i} ${JSON.stringify(v)}`);
    }
  });
});
