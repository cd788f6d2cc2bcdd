import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../../src/config/types.js';
import { TemplateError } from '../../src/cloudinit/gotemplate.js';
import {
  buildAgentEnvironment,
  DEFAULT_TEMPLATE,
  goTrimSpace,
  isPlainSafe,
  renderUserData,
  templateProblem,
  validateTemplate,
  yamlScalar,
} from '../../src/cloudinit/render.js';
import type { AgentEnvironmentOptions } from '../../src/cloudinit/render.js';
import { seededRandom } from '../../src/util/clock.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** The Go autoscaler's default template, verbatim (reference §5). */
const UPSTREAM_TEMPLATE = fixture('upstream-default.tmpl');

const BASE: AgentEnvironmentOptions = {
  grpcAddr: 'ci.example.com:9000',
  agentToken: 'f00dcafe',
  workflowsPerAgent: 2,
  grpcSecure: true,
  agentEnv: { WOODPECKER_SERVER: 'grpc.override.example:443', WOODPECKER_BACKEND: 'docker' },
  agentLabels: { zone: 'msk-1', arch: 'amd64' },
};

const goldenInput = {
  image: 'woodpeckerci/woodpecker-agent:v3',
  environment: buildAgentEnvironment(BASE),
  preExec: ['ip -4 route add blackhole 169.254.169.254/32', 'ip -6 route add blackhole fd00:ec2::254/128'],
  postExec: ['echo agent started'],
};

describe('buildAgentEnvironment', () => {
  it('builds the upstream keys, agent-env overwrites, labels sorted by key', () => {
    assert.deepEqual(buildAgentEnvironment(BASE), {
      WOODPECKER_SERVER: 'grpc.override.example:443',
      WOODPECKER_AGENT_SECRET: 'f00dcafe',
      WOODPECKER_MAX_WORKFLOWS: '2',
      WOODPECKER_GRPC_SECURE: 'true',
      WOODPECKER_BACKEND: 'docker',
      WOODPECKER_AGENT_LABELS: 'arch=amd64,zone=msk-1',
    });
  });

  const rows: { name: string; patch: Partial<AgentEnvironmentOptions>; check: (e: Record<string, string>) => void }[] = [
    {
      name: 'no GRPC_SECURE key when grpc-secure is off',
      patch: { grpcSecure: false },
      check: (e) => assert.equal(Object.hasOwn(e, 'WOODPECKER_GRPC_SECURE'), false),
    },
    {
      name: 'agent-env may overwrite GRPC_SECURE, SECRET and MAX_WORKFLOWS',
      patch: { agentEnv: { WOODPECKER_GRPC_SECURE: 'false', WOODPECKER_AGENT_SECRET: 'x', WOODPECKER_MAX_WORKFLOWS: '9' } },
      check: (e) => {
        assert.equal(e.WOODPECKER_GRPC_SECURE, 'false');
        assert.equal(e.WOODPECKER_AGENT_SECRET, 'x');
        assert.equal(e.WOODPECKER_MAX_WORKFLOWS, '9');
      },
    },
    {
      name: 'agent-env cannot overwrite AGENT_LABELS (set last)',
      patch: { agentEnv: { WOODPECKER_AGENT_LABELS: 'sneaky=1' }, agentLabels: { a: '1' } },
      check: (e) => assert.equal(e.WOODPECKER_AGENT_LABELS, 'a=1'),
    },
    {
      name: 'AGENT_LABELS is always set, even empty',
      patch: { agentLabels: {} },
      check: (e) => assert.equal(e.WOODPECKER_AGENT_LABELS, ''),
    },
    {
      name: 'labels sort by code point (upper case first)',
      patch: { agentLabels: { b: '2', B: '1', a: '3', é: '4' } },
      check: (e) => assert.equal(e.WOODPECKER_AGENT_LABELS, 'B=1,a=3,b=2,é=4'),
    },
    {
      name: 'a __proto__ key is an ordinary key',
      patch: { agentEnv: JSON.parse('{"__proto__": "x"}') as Record<string, string> },
      check: (e) => {
        assert.equal(Object.hasOwn(e, '__proto__'), true);
        assert.equal(Object.getPrototypeOf(e), Object.prototype);
      },
    },
  ];
  for (const r of rows) it(r.name, () => r.check(buildAgentEnvironment({ ...BASE, ...r.patch })));

  it('rejects a non-integer workflows-per-agent', () => {
    assert.throws(() => buildAgentEnvironment({ ...BASE, workflowsPerAgent: 1.5 }), RangeError);
  });
});

describe('renderUserData: default template', () => {
  it('matches the golden file byte for byte', () => {
    assert.equal(`${renderUserData(goldenInput)}\n`, fixture('default.golden.yaml'));
  });

  it('renders exactly like the verbatim Go template for the golden input', () => {
    assert.equal(renderUserData(goldenInput), renderUserData({ ...goldenInput, template: UPSTREAM_TEMPLATE }));
  });

  it('matches the Go output from the upstream unit test (no TrimSpace there: only a leading newline differs)', () => {
    const out = renderUserData({
      image: 'docker.io/woodpeckerci/woodpecker-agent:latest',
      environment: buildAgentEnvironment({
        grpcAddr: 'ci.woodpecker.example:9000',
        agentToken: 'geheim',
        workflowsPerAgent: 2,
        grpcSecure: false,
        agentEnv: {},
        agentLabels: {},
      }),
      preExec: ['echo exec before docker up'],
      postExec: ['echo exec after docker up'],
    });
    assert.ok(out.includes('        environment:\n          - WOODPECKER_AGENT_LABELS=\n          - WOODPECKER_AGENT_SECRET=geheim\n'));
    assert.ok(out.includes('runcmd:\n  - echo exec before docker up\n  - sh -xc "cd /root; docker compose up -d"\n  - echo exec after docker up\n'));
  });

  it('is trimmed: #cloud-config on line 1, no trailing newline', () => {
    const out = renderUserData(goldenInput);
    assert.ok(out.startsWith('#cloud-config\n'));
    assert.ok(!/\s$/.test(out));
  });

  it('an empty template string means the built-in template', () => {
    assert.equal(renderUserData({ ...goldenInput, template: '' }), renderUserData(goldenInput));
  });

  it('with no PreExec/PostExec, runcmd holds just the compose command', () => {
    const doc = parse(renderUserData({ ...goldenInput, preExec: [], postExec: [] })) as { runcmd: string[] };
    assert.deepEqual(doc.runcmd, ['sh -xc "cd /root; docker compose up -d"']);
  });

  it('renders like the Go template for random ordinary (plain-safe) values', () => {
    const rnd = seededRandom(42);
    const alphabet = 'abcXYZ019_-./:=,@+~%!*&#[]{}() ';
    const word = (): string => {
      let s = '';
      const n = 1 + Math.floor(rnd() * 14);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      return s;
    };
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      const v = word();
      const image = `registry.example/${word()}`;
      const cmd = `echo ${word()}`;
      if (!isPlainSafe(`K=${v}`) || !isPlainSafe(image) || !isPlainSafe(cmd) || /\$/.test(v + image)) continue;
      const input = {
        image,
        environment: buildAgentEnvironment({ ...BASE, agentEnv: { K: v } }),
        preExec: [cmd],
        postExec: [],
      };
      assert.equal(renderUserData(input), renderUserData({ ...input, template: UPSTREAM_TEMPLATE }), JSON.stringify(v));
      compared++;
    }
    assert.ok(compared > 100, `only ${compared} plain-safe samples`);
  });
});

describe('renderUserData: custom templates', () => {
  const env = buildAgentEnvironment(BASE);
  const render = (template: string): string =>
    renderUserData({ template, image: 'img:1', environment: env, preExec: ['pre'], postExec: ['post'] });

  it('gets .Image, .Environment (sorted map), .PreExec, .PostExec', () => {
    const out = render('{{ .Image }}|{{ range $k, $v := .Environment }}{{ $k }};{{ end }}|{{ .PreExec }}|{{ .PostExec }}');
    assert.equal(
      out,
      'img:1|WOODPECKER_AGENT_LABELS;WOODPECKER_AGENT_SECRET;WOODPECKER_BACKEND;WOODPECKER_GRPC_SECURE;WOODPECKER_MAX_WORKFLOWS;WOODPECKER_SERVER;|[pre]|[post]',
    );
  });

  it('.Environment is a Go map: known keys by field, missing ones print <no value>', () => {
    assert.equal(render('{{ .Environment.WOODPECKER_BACKEND }} {{ .Environment.NOPE }}'), 'docker <no value>');
  });

  it('has the YAML/compose helper functions', () => {
    assert.equal(
      render('{{ yamlItem "a: b" }} {{ yamlItem "plain" }} {{ yamlQuote "plain" }} {{ composeItem "$x" }} {{ composeEnv "K" "v #1" }}'),
      '"a: b" plain "plain" $$x "K=v #1"',
    );
  });

  it('TrimSpace uses Go whitespace rules', () => {
    assert.equal(render('\u0085 \n\t#cloud-config\n\u00a0'), '#cloud-config');
    assert.equal(goTrimSpace('\ufeffx\u3000'), '\ufeffx');
  });

  it('an unknown field fails like Go', () => {
    assert.throws(() => render('{{ .Missing }}'), (e: unknown) => e instanceof TemplateError && /can't evaluate field Missing/.test(e.message));
  });
});

describe('validateTemplate', () => {
  it('accepts the empty string, the built-in and the Go default template, and non-cloud-config user-data', () => {
    for (const t of ['', DEFAULT_TEMPLATE, UPSTREAM_TEMPLATE, '#!/bin/sh\ndocker run -d {{ .Image }}: [', '#cloud-config\na: 1\na: 2']) {
      assert.doesNotThrow(() => validateTemplate(t));
      assert.equal(templateProblem(t), undefined);
    }
  });

  const bad: [string, string, RegExp][] = [
    ['unknown field', '#cloud-config\n{{ .Nope }}', /user-data:2:\d+: .*can't evaluate field Nope/],
    ['unknown function', '#cloud-config\n{{ toYaml .Image }}', /user-data:2: function "toYaml" not defined/],
    ['unclosed action', '#cloud-config\n{{ .Image', /unclosed action/],
    ['missing end', '{{ range .PreExec }}\n- {{ . }}', /unexpected EOF/],
    ['a cloud-config that is not YAML', '#cloud-config\nruncmd: [ {{ .Image }}\n', /not valid YAML/],
  ];
  for (const [name, text, re] of bad) {
    it(`rejects a template with ${name}, naming --cloudinit-template`, () => {
      assert.throws(
        () => validateTemplate(text),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.startsWith('invalid value for --cloudinit-template (WOODPECKER_CLOUDINIT_TEMPLATE') &&
          re.test(e.message),
      );
      assert.match(templateProblem(text) ?? '', re);
    });
  }
});

describe('yamlScalar', () => {
  const rows: [string, string][] = [
    ['plain', 'plain'],
    ['K=v', 'K=v'],
    ['K=', 'K='],
    ['woodpeckerci/woodpecker-agent:v3', 'woodpeckerci/woodpecker-agent:v3'],
    ['a=1,b=2', 'a=1,b=2'],
    ['', '""'],
    ['a: b', '"a: b"'],
    ['x #y', '"x #y"'],
    ['ends:', '"ends:"'],
    ['- dash', '"- dash"'],
    ['yes', '"yes"'],
    ['No', '"No"'],
    ['~', '"~"'],
    ['12', '"12"'],
    ['1:20', '"1:20"'],
    ['2001-12-14', '"2001-12-14"'],
    ['.inf', '".inf"'],
    [' lead', '" lead"'],
    ['trail ', '"trail "'],
    ['a"b\\c', 'a"b\\c'],
    ['"q"', '"\\"q\\""'],
    ['l1\nl2', '"l1\\nl2"'],
    ['tab\there', '"tab\\there"'],
    ['nul\u0000 del\u007f nel\u0085', '"nul\\0 del\\x7f nel\\x85"'],
    ['ls\u2028 bom\ufeff', '"ls\\u2028 bom\\ufeff"'],
    ['ünï 😀', '"ünï 😀"'],
  ];
  for (const [input, want] of rows) {
    it(`${JSON.stringify(input)} → ${want}`, () => {
      assert.equal(yamlScalar(input), want);
      assert.deepEqual(parse(`- ${yamlScalar(input)}`), [input]);
      assert.deepEqual(parse(`- ${yamlScalar(input)}`, { version: '1.1' }), [input]);
    });
  }
});
