import { compareCodePoints } from '../cloudinit/gotemplate.js';
import type { WoodpeckerAgent } from '../woodpecker/types.js';

/**
 * Woodpecker's label matching between a queued task and an agent, as the server does it (server/rpc/filter.go,
 * v3, the version with comma lists; without commas in agent values it is the same as v3.17's), and the labels an
 * agent filters with. Pure; no Woodpecker code is shared with the fake server (src/sandbox/fake-woodpecker.ts).
 */

export type Labels = Readonly<Record<string, string>>;

/** Labels with this prefix are the server's own (forge-id, repo-id, branch, event…); matching ignores them. */
export const INTERNAL_LABEL_PREFIX = 'woodpecker-ci.org/';

export interface MatchResult {
  ok: boolean;
  /** Per task label: +10 for an exact value, +1 for a `*` wildcard. 0 when `ok` is false. */
  score: number;
}

const NO_MATCH: MatchResult = { ok: false, score: 0 };

const own = (labels: Labels, key: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;

/** `requiredLabelsMissing`: every agent label `!key=v1,v2` needs the task to carry `key` with one of those values. */
function requiredLabelsMissing(task: Labels, agent: Labels): boolean {
  for (const [label, value] of Object.entries(agent)) {
    if (!label.startsWith('!')) continue;
    const val = own(task, label.slice(1));
    if (val === undefined || !value.split(',').includes(val)) return true;
  }
  return false;
}

/**
 * `createFilterFunc`: does an agent with these (effective) labels take this task, and with what score? Every
 * non-empty, non-internal task label must be on the agent (or as `!key`) with the same value or `*` (the agent
 * value may be a comma list: the first element that is `*` or equal decides the score). The `!key` check runs on
 * the task's labels before internal ones are dropped, like the server.
 */
export function matchTask(taskLabels: Labels | null, agentLabels: Labels): MatchResult {
  const task = taskLabels ?? {};
  if (requiredLabelsMissing(task, agentLabels)) return NO_MATCH;
  let score = 0;
  for (const [key, value] of Object.entries(task)) {
    if (key.startsWith(INTERNAL_LABEL_PREFIX) || value === '') continue;
    const agentValue = own(agentLabels, key) ?? own(agentLabels, `!${key}`);
    if (agentValue === undefined) return NO_MATCH;
    const hit = agentValue.split(',').find((v) => v === '*' || v === value);
    if (hit === undefined) return NO_MATCH;
    score += hit === '*' ? 1 : 10;
  }
  return { ok: true, score };
}

/** What an agent advertises besides its custom labels; defaults are what our VDS agents report. */
export interface AgentBaseLabels {
  /** `runtime.GOOS/GOARCH` of the agent (docker backend: the Docker host's). Default `linux/amd64`. */
  platform?: string;
  /** Backend engine name. Default `docker` (the agent image on Docker). */
  backend?: string;
  /** WOODPECKER_HOSTNAME or the host's name; omitted when unknown (a task pinning a hostname then never matches). */
  hostname?: string;
}

/** `org-id` as the server forces it: `*` for a global agent (org_id -1), else the org's id. */
export function orgIdLabel(orgId: number): string {
  return orgId === -1 ? '*' : String(orgId);
}

/**
 * The labels an agent filters with: the agent's defaults (`hostname`, `platform`, `backend`, `repo=*`), its
 * custom labels over them (WOODPECKER_AGENT_LABELS may override a default), then the server's `org-id` over all.
 */
export function agentFilterLabels(
  base: { platform: string; backend: string; hostname?: string | undefined },
  custom: Labels,
  orgId: number,
): Record<string, string> {
  const labels: Record<string, string> = {};
  if (base.hostname !== undefined) labels.hostname = base.hostname;
  labels.platform = base.platform;
  labels.backend = base.backend;
  labels.repo = '*';
  for (const [k, v] of Object.entries(custom)) labels[k] = v;
  labels['org-id'] = orgIdLabel(orgId);
  return labels;
}

/**
 * Effective labels of a registered agent from what GET /api/agents shows. The REST API has no hostname, so the
 * agent's name stands in for it: right for a system agent (named after its host), a guess for others (an agent in
 * a container reports the container's hostname). It only matters for workflows pinned to a hostname.
 */
export function effectiveAgentLabels(
  agent: Pick<WoodpeckerAgent, 'name' | 'platform' | 'backend' | 'custom_labels' | 'org_id'>,
): Record<string, string> {
  return agentFilterLabels(
    { hostname: agent.name, platform: agent.platform, backend: agent.backend },
    agent.custom_labels ?? {},
    agent.org_id,
  );
}

/**
 * Effective labels of the agents a pool will create: `platform` linux/amd64 and `backend` docker unless given,
 * no hostname (a new VDS's name is random), `repo=*`, the pool's `agent-labels`, and `org-id=*` (our agents are
 * global: POST /api/agents registers them without an org).
 */
export function poolAgentLabels(agentLabels: Labels, base: AgentBaseLabels = {}): Record<string, string> {
  const platform = base.platform ?? 'linux/amd64';
  const backend = base.backend ?? 'docker';
  return agentFilterLabels({ platform, backend, hostname: base.hostname }, agentLabels, -1);
}

/** The labels that take part in matching (no internal, no empty ones), sorted by key: a stable key for grouping. */
export function matchingLabels(taskLabels: Labels | null): Record<string, string> {
  const entries = Object.entries(taskLabels ?? {})
    .filter(([k, v]) => !k.startsWith(INTERNAL_LABEL_PREFIX) && v !== '')
    .sort(([a], [b]) => compareCodePoints(a, b));
  return Object.fromEntries(entries);
}

/** `k=v,k2=v2` in key order. */
export function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
