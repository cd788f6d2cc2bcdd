/**
 * Cloud-init user-data for agent servers (reference §5, Go `engine/inits/cloudinit`).
 *
 * The built-in template renders byte for byte like the Go one for ordinary values (plain-safe YAML scalars), but
 * unlike Go it stays valid YAML — both the cloud-config and the docker-compose file inside `write_files` — for any
 * env/label/image/command value: values that are not plain-safe are written as one-line double-quoted YAML strings,
 * and `$` in compose text is doubled so that compose does not interpolate it.
 */
import { parseDocument } from 'yaml';
import { ConfigError } from '../config/types.js';
import { compareCodePoints, formatValue, parseTemplate, TemplateError } from './gotemplate.js';
import type { Template, TemplateFunc } from './gotemplate.js';

export interface AgentEnvironmentOptions {
  /** `--grpc-addr` → WOODPECKER_SERVER. */
  grpcAddr: string;
  /** The per-agent token from the server → WOODPECKER_AGENT_SECRET. */
  agentToken: string;
  /** → WOODPECKER_MAX_WORKFLOWS (decimal). */
  workflowsPerAgent: number;
  /** Adds WOODPECKER_GRPC_SECURE=true when set. */
  grpcSecure: boolean;
  /** `--agent-env`: merged over the four above (may overwrite them). */
  agentEnv: Readonly<Record<string, string>>;
  /** `--agent-labels`: → WOODPECKER_AGENT_LABELS, `k=v` joined with `,`, sorted by key. */
  agentLabels: Readonly<Record<string, string>>;
}

/** The agent container's environment, built in upstream's order (later entries overwrite earlier ones). */
export function buildAgentEnvironment(opts: AgentEnvironmentOptions): Record<string, string> {
  if (!Number.isSafeInteger(opts.workflowsPerAgent)) {
    throw new RangeError('workflowsPerAgent must be an integer');
  }
  const env = new Map<string, string>();
  env.set('WOODPECKER_SERVER', opts.grpcAddr);
  env.set('WOODPECKER_AGENT_SECRET', opts.agentToken);
  env.set('WOODPECKER_MAX_WORKFLOWS', String(opts.workflowsPerAgent));
  if (opts.grpcSecure) env.set('WOODPECKER_GRPC_SECURE', 'true');
  for (const [k, v] of Object.entries(opts.agentEnv)) env.set(k, v);
  env.set(
    'WOODPECKER_AGENT_LABELS',
    Object.entries(opts.agentLabels)
      .sort(([a], [b]) => compareCodePoints(a, b))
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
  // fromEntries defines own properties, so a key like `__proto__` stays an ordinary key.
  return Object.fromEntries(env);
}

// ---------------------------------------------------------------------------------------------------------
// YAML scalar helpers

const YAML_KEYWORDS = new Set(['', '~', 'null', 'true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', '=', '<<']);

/**
 * True if `s` can be written as a plain (unquoted) YAML scalar in block context and reads back as exactly this
 * string under YAML 1.1 (PyYAML: cloud-init, docker-compose v1) and YAML 1.2 (the `yaml` package, compose v2).
 * Deliberately conservative: printable ASCII only, no leading indicator, no `: ` / ` #`, nothing that could
 * resolve to a bool/null/number/timestamp.
 */
export function isPlainSafe(s: string): boolean {
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(s)) return false;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(s)) return false;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return false;
  if (YAML_KEYWORDS.has(s.toLowerCase())) return false;
  if (/^[-+]?\.?[0-9]/.test(s) && /^[-+0-9A-Za-z_.: ]+$/.test(s)) return false; // ints, floats, 1:20, dates
  if (/^[-+]?\.(?:inf|nan)$/i.test(s)) return false;
  return true;
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\t': '\\t',
  '\r': '\\r',
  '\0': '\\0',
};

/**
 * A one-line double-quoted YAML string. Escapes `"`, `\`, all C0/C1 controls, DEL, line/paragraph separators, BOM,
 * non-characters and lone surrogates; keeps other printable Unicode as is.
 */
export function yamlDoubleQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) {
      out += named;
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0x2028 || cp === 0x2029 || cp === 0xfeff || cp === 0xfffe || cp === 0xffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** `s` as a one-line YAML scalar: unchanged when plain-safe (so ordinary values render like Go), else double-quoted. */
export function yamlScalar(s: string): string {
  return isPlainSafe(s) ? s : yamlDoubleQuote(s);
}

/** Compose interpolates `$`/`${…}` in the compose file; `$$` is a literal `$`. */
export function composeEscape(s: string): string {
  return s.replace(/\$/g, '$$$$');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : formatValue(v);
}

/**
 * Functions available to every template (built-in and custom), in addition to Go's builtins:
 * - `yamlItem S`      — S as a one-line YAML scalar for block context (runcmd items, other cloud-config values);
 * - `yamlQuote S`     — S always as a double-quoted YAML string;
 * - `composeItem S`   — like yamlItem, for text inside the compose file (`$` doubled);
 * - `composeEnv K V`  — the compose environment list item `K=V` (same as `composeItem (printf "%s=%s" K V)`).
 */
export const templateFuncs: Readonly<Record<string, TemplateFunc>> = {
  yamlItem: (s) => yamlScalar(str(s)),
  yamlQuote: (s) => yamlDoubleQuote(str(s)),
  composeItem: (s) => yamlScalar(composeEscape(str(s))),
  composeEnv: (k, v) => yamlScalar(composeEscape(`${str(k)}=${str(v)}`)),
};

// ---------------------------------------------------------------------------------------------------------
// Templates

/**
 * The built-in template: the Go autoscaler's default (reference §5) with the value slots routed through the
 * YAML/compose helpers. For plain-safe values the output is identical to Go's.
 */
export const DEFAULT_TEMPLATE = `
#cloud-config

package_reboot_if_required: false
package_update: true
package_upgrade: false

groups:
  - docker

system_info:
  default_user:
    groups: [ docker ]

apt:
  sources:
    docker.list:
      keyid: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88
      keyserver: https://download.docker.com/linux/ubuntu/gpg
      source: deb [signed-by=$KEY_FILE] https://download.docker.com/linux/ubuntu $RELEASE stable

packages:
  - docker-ce
  - docker-compose-plugin
  - binfmt-support
  - qemu-user-static

write_files:
- path: /root/docker-compose.yml
  content: |
    # docker-compose.yml
    version: '3'
    services:
      woodpecker-agent:
        image: {{ composeItem .Image }}
        restart: always
        volumes:
          - /var/run/docker.sock:/var/run/docker.sock
        environment:
          {{- range $key, $value := .Environment }}
          - {{ composeEnv $key $value }}
          {{- end }}

runcmd:
  {{- range .PreExec }}
  - {{ yamlItem . }}
  {{- end }}
  - sh -xc "cd /root; docker compose up -d"
  {{- range .PostExec }}
  - {{ yamlItem . }}
  {{- end }}

final_message: "The system is finally up, after $UPTIME seconds"
`;

export interface RenderUserDataOptions {
  /** Custom Go-template text (`--cloudinit-template`); empty or undefined = `DEFAULT_TEMPLATE`. */
  template?: string;
  /** Agent image (`--agent-image`). */
  image: string;
  /** From `buildAgentEnvironment`. */
  environment: Readonly<Record<string, string>>;
  /** Commands run before `docker compose up` (e.g. the metadata blackhole routes). */
  preExec: readonly string[];
  /** Commands run after `docker compose up`. */
  postExec: readonly string[];
}

const cache = new Map<string, Template>();

function compile(text: string): Template {
  let t = cache.get(text);
  if (!t) {
    t = parseTemplate(text, { name: 'user-data', funcs: templateFuncs });
    if (cache.size >= 8) cache.clear();
    cache.set(text, t);
  }
  return t;
}

/** Go's `strings.TrimSpace` (Unicode White_Space, which differs from JS `trim()`: NEL yes, BOM no). */
export function goTrimSpace(s: string): string {
  const ws = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
  return s.replace(new RegExp(`^${ws}+|${ws}+$`, 'gu'), '');
}

/**
 * Renders the user-data like Go's `RenderUserDataTemplate`: data `.Image`, `.Environment` (a map, iterated in
 * sorted key order), `.PreExec`, `.PostExec`; the result is TrimSpace'd so `#cloud-config` is on line 1.
 * Throws `TemplateError` on template errors (messages never contain the data).
 */
export function renderUserData(opts: RenderUserDataOptions): string {
  const text = opts.template !== undefined && opts.template !== '' ? opts.template : DEFAULT_TEMPLATE;
  const data = {
    Image: opts.image,
    Environment: new Map(Object.entries(opts.environment)),
    PreExec: [...opts.preExec],
    PostExec: [...opts.postExec],
  };
  return goTrimSpace(compile(text).execute(data));
}

const SAMPLE = {
  image: 'woodpeckerci/woodpecker-agent:v3',
  environment: buildAgentEnvironment({
    grpcAddr: 'woodpecker.example.com:9000',
    agentToken: 'sample-token',
    workflowsPerAgent: 1,
    grpcSecure: true,
    agentEnv: { WOODPECKER_LOG_LEVEL: 'info' },
    agentLabels: { zone: 'sample' },
  }),
  preExec: ['ip -4 route add blackhole 169.254.169.254/32'],
  postExec: [],
} as const;

/**
 * Checks a custom template: parses it, executes it with sample data and, when the result is a `#cloud-config`,
 * parses that as YAML. Returns the problem (usable as an `OptionSpec.validate`) or undefined when it is fine.
 * Empty text means the built-in template and is fine.
 */
export function templateProblem(text: string): string | undefined {
  if (text === '') return undefined;
  let out: string;
  try {
    out = renderUserData({ ...SAMPLE, template: text });
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
  // A cloud-config that is not even YAML with harmless sample values would fail on every server.
  // (Other user-data formats, e.g. `#!` scripts or MIME multipart, are not checked.)
  if (out.startsWith('#cloud-config')) {
    const doc = parseDocument(out, { version: '1.1', uniqueKeys: false, prettyErrors: false });
    const err = doc.errors[0];
    if (err) return `the rendered #cloud-config (with sample values) is not valid YAML: ${err.message.split('\n')[0] ?? ''}`;
  }
  return undefined;
}

/**
 * Start-up check of `--cloudinit-template`: throws a `ConfigError` naming the flag when the template does not
 * parse, fails on sample data (e.g. an unknown field or function) or renders a `#cloud-config` that is not YAML.
 */
export function validateTemplate(
  text: string,
  label = '--cloudinit-template (WOODPECKER_CLOUDINIT_TEMPLATE, WOODPECKER_CLOUDINIT_TEMPLATE_FILE)',
): void {
  const problem = templateProblem(text);
  if (problem !== undefined) throw new ConfigError(`invalid value for ${label}: ${problem}`);
}
