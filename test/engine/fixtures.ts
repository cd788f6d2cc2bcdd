/**
 * Builders for engine tests: a fixed `NOW`, agents described by ages ("contacted 5 s ago") instead of raw
 * timestamps, and observations whose provider list mirrors the pool unless a case says otherwise.
 */
import type { Action, EngineConfig, EngineMemory, Observation } from '../../src/engine/types.js';
import { initialMemory } from '../../src/engine/types.js';
import { agentNameFor } from '../../src/engine/pool.js';
import type { ProviderServer, ServerState } from '../../src/providers/types.js';
import type { QueueInfo, WoodpeckerAgent, WoodpeckerTask } from '../../src/woodpecker/types.js';

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/** A fixed wall time (unix ms, a whole second). */
export const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/**
 * Upstream's defaults where they matter, except min-agents 0 and workflows-per-agent 1 (so tables count agents
 * and slots alike). Grace = 2 × interval, teardown window = 2 m + 1 m.
 */
export function config(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    policy: 'default',
    poolId: '1',
    installationId: INSTALLATION,
    minAgents: 0,
    maxAgents: 10,
    workflowsPerAgent: 1,
    reconciliationInterval: MIN,
    agentInactivityTimeout: 10 * MIN,
    agentIdleTimeout: 10 * MIN,
    agentBillingTeardownMargin: 2 * MIN,
    danglingGrace: 2 * MIN,
    billingModel: 'per-second',
    ...over,
  };
}

export function memory(over: Partial<EngineMemory> = {}): EngineMemory {
  return { ...initialMemory, ...over };
}

/** Unix seconds of the moment `msAgo` before `now`; `null` = never (0). */
export function ago(msAgo: number | null, now = NOW): number {
  if (msAgo === null) return 0;
  return Math.floor((now - msAgo) / 1000);
}

/** The installation id of `config()`. */
export const INSTALLATION = 'test-inst';

/**
 * The name this installation gives agent `suffix` (1–6 of a-z0-9, padded with `z` to the 6-character nonce):
 * `pool-1-agent-<nonce><tag>`, so it verifies as ours. Any other suffix gives the plain, unverifiable
 * `pool-1-agent-<suffix>` (see `legacy`).
 */
export function n(suffix: string, poolId = '1', installationId = INSTALLATION): string {
  if (!/^[a-z0-9]{1,6}$/.test(suffix)) return legacy(suffix, poolId);
  return agentNameFor({ poolId, installationId }, suffix.padEnd(6, 'z'));
}

/** `pool-1-agent-<suffix>`: named like the pool, but without this installation's tag (a look-alike or legacy). */
export function legacy(suffix: string, poolId = '1'): string {
  return `pool-${poolId}-agent-${suffix}`;
}

export interface AgentSpec {
  /** Age since creation (ms); `null` = created 0 (unknown). Default 30 min. */
  created?: number | null;
  /** Time since last contact (ms); `null` = never connected. Default 5 s. */
  contact?: number | null;
  /** Time since last work (ms); `null` = never worked. Default 1 min (recently busy: not idle). */
  work?: number | null;
  drained?: boolean;
  now?: number;
}

export function agent(id: number, name: string, spec: AgentSpec = {}): WoodpeckerAgent {
  const now = spec.now ?? NOW;
  return {
    id,
    created: ago(spec.created === undefined ? 30 * MIN : spec.created, now),
    updated: 0,
    name,
    owner_id: -1,
    token: `secret-token-${id}`,
    last_contact: ago(spec.contact === undefined ? 5 * SEC : spec.contact, now),
    last_work: ago(spec.work === undefined ? MIN : spec.work, now),
    platform: 'linux/amd64',
    backend: 'docker',
    capacity: 1,
    version: '3.0.0',
    no_schedule: spec.drained ?? false,
    custom_labels: null,
    org_id: -1,
  };
}

export function server(
  name: string,
  spec: { age?: number; state?: ServerState; status?: string; now?: number } = {},
): ProviderServer {
  const state = spec.state ?? 'running';
  return {
    id: `srv-${name}`,
    name,
    createdAt: (spec.now ?? NOW) - (spec.age ?? 30 * MIN),
    state,
    status: spec.status ?? (state === 'failed' ? 'no_paid' : state === 'running' ? 'on' : state),
  };
}

function task(i: number, agentId: number): WoodpeckerTask {
  return { id: String(i), labels: null, dependencies: null, run_on: null, dep_status: null, agent_id: agentId };
}

export interface QueueSpec {
  /** idle worker slots on all agents of the server */
  free?: number;
  pending?: number;
  /** one running task per entry, assigned to that agent id (0 = not yet assigned) */
  running?: readonly number[];
}

export function queue(spec: QueueSpec = {}): QueueInfo {
  const running = (spec.running ?? []).map((id, i) => task(1000 + i, id));
  const pending = Array.from({ length: spec.pending ?? 0 }, (_, i) => task(i + 1, 0));
  return {
    pending,
    waiting_on_deps: [],
    running,
    stats: {
      worker_count: spec.free ?? 0,
      pending_count: pending.length,
      waiting_on_deps_count: 0,
      running_count: running.length,
    },
    paused: false,
  };
}

export interface WorldSpec extends QueueSpec {
  now?: number;
  agents?: readonly WoodpeckerAgent[];
  /**
   * `match` (default): one running server per agent, created with it; `unavailable`: the list could not be read;
   * or an explicit list. `extra` servers are added to `match`.
   */
  servers?: 'match' | 'unavailable' | readonly ProviderServer[];
  extraServers?: readonly ProviderServer[];
  /** agent names that get no server under `match` */
  withoutServer?: readonly string[];
}

export function world(spec: WorldSpec = {}): Observation {
  const now = spec.now ?? NOW;
  const agents = spec.agents ?? [];
  let servers: readonly ProviderServer[] | undefined;
  if (spec.servers === 'unavailable') servers = undefined;
  else if (spec.servers === undefined || spec.servers === 'match') {
    const skip = new Set(spec.withoutServer ?? []);
    servers = [
      ...agents
        .filter((a) => !skip.has(a.name))
        // As the provider reports them: each server's marker names its agent's id.
        .map((a) => ({ ...server(a.name, { age: a.created === 0 ? HOUR : now - a.created * 1000, now }), agentId: a.id })),
      ...(spec.extraServers ?? []),
    ];
  } else servers = spec.servers;
  return { now, agents, queue: queue(spec), servers };
}

/** An action as a table row: [kind, subject name ('' for create), reason code]. */
export type Row = readonly [Action['kind'], string, string];

export function rows(actions: readonly Action[]): Row[] {
  return actions.map((a): Row => {
    switch (a.kind) {
      case 'create':
        return [a.kind, '', a.reason.code];
      case 'remove-server':
        return [a.kind, a.name, a.reason.code];
      default:
        return [a.kind, a.agent.name, a.reason.code];
    }
  });
}

/** `count` create rows with the same reason. */
export function creates(count: number, code: 'pending-work' | 'min-agents' = 'pending-work'): Row[] {
  return Array.from({ length: count }, (): Row => ['create', '', code]);
}
