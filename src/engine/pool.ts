import type { ProviderServer } from '../providers/types.js';
import type { RandomFn } from '../util/clock.js';
import type { WoodpeckerAgent, WoodpeckerTask } from '../woodpecker/types.js';
import { NONCE_LENGTH, TAG_LENGTH, nameTag } from './identity.js';

/** Escapes a string for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The names of this pool's agents and servers: `pool-<id>-agent-<suffix>`. Anchored and escaped (upstream used an
 * unanchored, unescaped substring match, so `x-pool-1-agent-y` and pool `1-agent`'s agents matched pool `1`).
 */
export function poolNamePattern(poolId: string): RegExp {
  return new RegExp(`^pool-${escapeRegExp(poolId)}-agent-[A-Za-z0-9]+$`);
}

/** Running tasks per agent id (tasks not assigned to an agent, `agent_id` 0, are not counted). */
export function runningTasksByAgent(running: readonly Pick<WoodpeckerTask, 'agent_id'>[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of running) if (t.agent_id) counts.set(t.agent_id, (counts.get(t.agent_id) ?? 0) + 1);
  return counts;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** n letters from a–zA–Z, like upstream's utils.RandomString. */
export function randomLetters(n: number, random: RandomFn): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[Math.floor(random() * LETTERS.length)] ?? 'a';
  return s;
}

/** The alphabet of agent-name nonces. */
export const NONCE_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Who this pool is: the pool id and the installation identity (see identity.ts). */
export interface PoolIdentity {
  poolId: string;
  installationId: string;
}

/** The name an installation gives the agent with this nonce: `pool-<pool>-agent-<nonce><tag>`. */
export function agentNameFor(id: PoolIdentity, nonce: string): string {
  return `pool-${id.poolId}-agent-${nonce}${nameTag(id.installationId, id.poolId, nonce)}`;
}

/**
 * True when the name was made by this installation for this pool: `pool-<pool>-agent-` + a 6-character nonce +
 * the keyed tag of that nonce. A person's `pool-1-agent-manual`, the Go autoscaler's `pool-1-agent-AbCd` and another
 * installation's names (another key) do not verify.
 */
export function isOurAgentName(name: string, id: PoolIdentity): boolean {
  const prefix = `pool-${id.poolId}-agent-`;
  if (!name.startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  if (rest.length !== NONCE_LENGTH + TAG_LENGTH || !/^[a-z0-9]+$/.test(rest)) return false;
  const nonce = rest.slice(0, NONCE_LENGTH);
  return rest.slice(NONCE_LENGTH) === nameTag(id.installationId, id.poolId, nonce);
}

/**
 * A new agent name that collides with none of `taken`: 6 random [a-z0-9] + the keyed tag, so the name alone proves
 * it is this installation's. It still matches `poolNamePattern`.
 */
export function newAgentName(id: PoolIdentity, random: RandomFn, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    let nonce = '';
    for (let i = 0; i < NONCE_LENGTH; i++) nonce += NONCE_CHARS[Math.floor(random() * NONCE_CHARS.length)] ?? 'a';
    // 36⁶ nonces: a real random source never needs a second try. One that keeps repeating itself gets the attempt
    // number spliced in from the 8th try on, so a crowded pool can never loop forever.
    if (attempt >= 8) {
      const k = attempt.toString(36);
      nonce = nonce.slice(0, NONCE_LENGTH - k.length) + k;
    }
    const name = agentNameFor(id, nonce);
    if (!taken.has(name)) return name;
  }
}

// ---- membership: the one place that decides what is this pool's -----------------------------------------------

/** A server or agent that looks like this pool's but is not provably this installation's: listed, never touched. */
export interface ForeignResource {
  kind: 'server' | 'agent';
  name: string;
  /** Provider server id or Woodpecker agent id. */
  id: string;
  /** Why it is not ours, for humans. */
  why: string;
}

/** A current-release server this Woodpecker server proved to be ours, with the agent that proves it. */
export interface Adoption {
  server: ProviderServer;
  agent: { id: number; name: string };
}

export interface PoolMembership {
  /** Agents of this pool that are provably ours, sorted by id. */
  agents: WoodpeckerAgent[];
  /** Owned servers (markers of this installation) plus the legacy ones adopted this tick; undefined = unknown. */
  servers: ProviderServer[] | undefined;
  /** Legacy servers adopted this tick (their markers still need the upgrade). */
  adoptions: Adoption[];
  /** Agents that are ours by proof (a server marker naming their id), not by their name. */
  proven: { id: number; name: string }[];
  /** Look-alikes: named like ours, not provably ours. */
  foreign: ForeignResource[];
}

export interface MembershipInput {
  agents: readonly WoodpeckerAgent[];
  /** Servers carrying this installation's markers (undefined: the list could not be read). */
  servers: readonly ProviderServer[] | undefined;
  /** Servers with the current release's marker (no installation id): adopted only with proof. */
  legacyServers?: readonly ProviderServer[] | undefined;
  /** Servers the provider already knows are foreign look-alikes. */
  foreignServers?: readonly ForeignResource[] | undefined;
}

/**
 * Who is this pool's (pure). An agent is ours when its name verifies (`isOurAgentName`), or when a server with this
 * installation's marker names its id (`agentId`) and has its name: an adopted agent of the current release, or one
 * remembered in `adopted` (ours since an earlier tick of this process). A legacy server is adopted when this
 * Woodpecker server lists an agent with the same name AND the id its marker names; otherwise it is foreign.
 * Everything else named like the pool is foreign.
 */
export function poolMembership(
  input: MembershipInput,
  id: PoolIdentity,
  adopted: readonly { id: number; name: string }[] = [],
): PoolMembership {
  const re = poolNamePattern(id.poolId);
  const foreign: ForeignResource[] = [...(input.foreignServers ?? [])];
  const servers = input.servers?.filter((s) => re.test(s.name));
  const byName = new Map<string, WoodpeckerAgent[]>();
  for (const a of input.agents) {
    if (!re.test(a.name)) continue;
    byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  }
  const adoptions: Adoption[] = [];
  for (const s of input.legacyServers ?? []) {
    if (!re.test(s.name)) continue;
    const agent = s.agentId !== undefined ? byName.get(s.name)?.find((a) => a.id === s.agentId) : undefined;
    if (agent) adoptions.push({ server: s, agent: { id: agent.id, name: agent.name } });
    else {
      foreign.push({
        kind: 'server',
        name: s.name,
        id: s.id,
        why: `marker of an earlier release (agent ${s.agentId ?? '?'}), but this Woodpecker server has no agent with this name and id`,
      });
    }
  }
  /** name → the agent id a marker of ours names */
  const proof = new Map<string, number>();
  for (const s of servers ?? []) if (s.agentId !== undefined) proof.set(s.name, s.agentId);
  for (const a of adoptions) proof.set(a.agent.name, a.agent.id);
  for (const a of adopted) if (!proof.has(a.name)) proof.set(a.name, a.id);
  const agents: WoodpeckerAgent[] = [];
  const proven: { id: number; name: string }[] = [];
  for (const list of byName.values()) {
    for (const a of list) {
      if (isOurAgentName(a.name, id)) agents.push(a);
      else if (proof.get(a.name) === a.id) {
        agents.push(a);
        proven.push({ id: a.id, name: a.name });
      } else {
        foreign.push({
          kind: 'agent',
          name: a.name,
          id: String(a.id),
          why: 'named like this pool, but the name does not carry this installation\'s tag and no server marker of ours names it',
        });
      }
    }
  }
  agents.sort((a, b) => a.id - b.id);
  return {
    agents,
    servers: servers === undefined ? undefined : [...servers, ...adoptions.map((a) => a.server)],
    adoptions,
    proven,
    foreign,
  };
}
