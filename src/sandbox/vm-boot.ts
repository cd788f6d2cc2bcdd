import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { isRecord } from '../util/guards.js';

/**
 * What a simulated VM does with its user-data when it boots: it reads the cloud-init text the way cloud-init and
 * docker compose would, finds the agent's environment and decides whether an agent comes up. A broken user-data
 * (not `#cloud-config`, invalid YAML, no compose file, no token, wrong server address) yields no agent, exactly as
 * a real VM would sit there without one.
 */

export interface AgentBootConfig {
  /** WOODPECKER_AGENT_SECRET: the per-agent token. */
  token: string;
  /** WOODPECKER_SERVER: the gRPC address the agent dials. */
  server: string;
  /** WOODPECKER_MAX_WORKFLOWS (agent default 1). */
  capacity: number;
  /** WOODPECKER_AGENT_LABELS parsed (`k=v,k2=v2`). */
  labels: Record<string, string>;
  /** WOODPECKER_HOSTNAME when set. */
  hostname?: string;
  /** The whole environment found (contains the token: never log it). */
  env: Record<string, string>;
}

export type BootOutcome = { ok: true; agent: AgentBootConfig } | { ok: false; reason: string };

/** `write_files[].content` decoded per its `encoding` (plain, b64/base64, gz+b64/gzip+base64). */
function decodeContent(file: Record<string, unknown>): string | undefined {
  const content = file.content;
  if (typeof content !== 'string') return undefined;
  const enc = typeof file.encoding === 'string' ? file.encoding.toLowerCase() : '';
  try {
    if (enc === '' || enc === 'text/plain') return content;
    if (enc === 'b64' || enc === 'base64') return Buffer.from(content, 'base64').toString('utf8');
    if (enc === 'gz+b64' || enc === 'gzip+base64' || enc === 'gz+base64' || enc === 'gzip+b64') {
      return gunzipSync(Buffer.from(content, 'base64')).toString('utf8');
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** A compose `environment:` as a map: list of `KEY=VALUE` (a bare `KEY` is unset) or a mapping. */
function composeEnv(v: unknown): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      if (typeof item !== 'string') return undefined;
      const at = item.indexOf('=');
      if (at <= 0) continue;
      out[item.slice(0, at)] = item.slice(at + 1);
    }
    return out;
  }
  if (isRecord(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (val === null || val === undefined) continue;
      out[k] = typeof val === 'string' ? val : String(val as number | boolean);
    }
    return out;
  }
  return undefined;
}

/** The environment of the compose service that runs the Woodpecker agent, if this file is such a compose file. */
function agentEnvFromCompose(text: string): Record<string, string> | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return undefined;
  }
  if (!isRecord(doc) || !isRecord(doc.services)) return undefined;
  for (const svc of Object.values(doc.services)) {
    if (!isRecord(svc)) continue;
    const env = composeEnv(svc.environment);
    if (env && 'WOODPECKER_AGENT_SECRET' in env) return env;
  }
  return undefined;
}

/** An env file (`KEY=VALUE` lines, `#` comments). */
function envFile(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at <= 0) return undefined;
    let value = line.slice(at + 1);
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    out[line.slice(0, at).replace(/^export\s+/, '')] = value;
  }
  return 'WOODPECKER_AGENT_SECRET' in out ? out : undefined;
}

export function parseAgentLabels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    const p = part.trim();
    const at = p.indexOf('=');
    if (at <= 0) continue;
    out[p.slice(0, at).trim()] = p.slice(at + 1).trim();
  }
  return out;
}

/**
 * Finds the agent's environment in cloud-init user-data: a `#cloud-config` document whose `write_files` holds a
 * docker compose file (or an env file) with `WOODPECKER_AGENT_SECRET`. Checks `WOODPECKER_SERVER` against
 * `expectServer` (the configured gRPC address; omit to skip the check) and `WOODPECKER_MAX_WORKFLOWS`.
 */
export function bootAgentFromUserData(userData: string, expectServer?: string): BootOutcome {
  const text = userData.replace(/^\uFEFF/, '');
  if (!/^#cloud-config[ \t]*\r?\n/.test(text)) {
    return { ok: false, reason: 'user-data is not a #cloud-config document' };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { ok: false, reason: `cloud-init cannot parse the user-data: ${(e as Error).message.split('\n')[0] ?? ''}` };
  }
  if (!isRecord(doc)) return { ok: false, reason: 'user-data is not a YAML mapping' };
  const files = doc.write_files;
  if (!Array.isArray(files)) return { ok: false, reason: 'user-data has no write_files' };
  let env: Record<string, string> | undefined;
  for (const f of files) {
    if (!isRecord(f)) continue;
    const content = decodeContent(f);
    if (content === undefined) continue;
    env = agentEnvFromCompose(content) ?? envFile(content);
    if (env) break;
  }
  if (!env) return { ok: false, reason: 'no compose or env file with WOODPECKER_AGENT_SECRET in write_files' };
  const token = env.WOODPECKER_AGENT_SECRET ?? '';
  if (token === '') return { ok: false, reason: 'WOODPECKER_AGENT_SECRET is empty' };
  const server = env.WOODPECKER_SERVER ?? '';
  if (server === '') return { ok: false, reason: 'WOODPECKER_SERVER is not set' };
  if (expectServer !== undefined && server !== expectServer) {
    return { ok: false, reason: `the agent dials ${server}, but the Woodpecker gRPC address is ${expectServer}` };
  }
  const maxRaw = env.WOODPECKER_MAX_WORKFLOWS;
  let capacity = 1;
  if (maxRaw !== undefined && maxRaw !== '') {
    capacity = /^\d+$/.test(maxRaw.trim()) ? Number(maxRaw.trim()) : NaN;
    if (!(capacity >= 1)) return { ok: false, reason: `WOODPECKER_MAX_WORKFLOWS=${maxRaw} is not a positive integer` };
  }
  const agent: AgentBootConfig = {
    token,
    server,
    capacity,
    labels: parseAgentLabels(env.WOODPECKER_AGENT_LABELS),
    env,
  };
  if (env.WOODPECKER_HOSTNAME) agent.hostname = env.WOODPECKER_HOSTNAME;
  return { ok: true, agent };
}
