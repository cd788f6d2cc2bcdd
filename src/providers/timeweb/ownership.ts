/**
 * Ownership markers. Timeweb Cloud has no tags on servers, so a server belongs to this installation's pool only
 * when BOTH
 * - its name matches the pool's agent pattern `^pool-<escaped pool id>-agent-[A-Za-z0-9]+$`, and
 * - its `comment` carries our marker `twcloud-scaler:inst=<installation id>;pool=<pool id>;agent=<agent id>` with
 *   THIS installation's id and pool id (another installation may share the account and the pool id).
 * Nothing else is ever deleted, patched or counted: a server named like ours without the marker, or with another
 * installation's, is foreign. Floating IPs we create get a marker comment too
 * (`twcloud-scaler:inst=<installation id>;pool=<pool id>;server=<agent name>`).
 *
 * The previous release wrote markers without `inst` (`pool=<pool id>;agent=<agent id>`): such a server is a
 * `legacy` candidate, adopted only when the Woodpecker server proves it (an agent with its name and that id; see
 * engine/pool.ts), and its marker is then upgraded.
 *
 * Values are percent-encoded (`;`, `=`, spaces), so any pool id round-trips. The marker may sit anywhere in the
 * comment as a word of its own (an operator may prepend a note): at the start or after whitespace, so that another
 * tool's `my-twcloud-scaler:pool=1` is not ours. The first marker wins.
 */

import { poolNamePattern } from '../../engine/pool.js';

export const MARKER_PREFIX = 'twcloud-scaler:';

/** The prefix as a word of its own: at the start of the comment or after whitespace. */
const MARKER_AT = new RegExp(`(?:^|(?<=\\s))${MARKER_PREFIX}`);

export type Marker = Readonly<Record<string, string>>;

function enc(v: string): string {
  return encodeURIComponent(v);
}

/** Builds a marker `twcloud-scaler:k=v;k=v` (values percent-encoded). */
export function formatMarker(fields: Readonly<Record<string, string | number>>): string {
  return (
    MARKER_PREFIX +
    Object.entries(fields)
      .map(([k, v]) => `${k}=${enc(String(v))}`)
      .join(';')
  );
}

/** Who owns a resource: the installation and its pool. */
export interface Owner {
  poolId: string;
  installationId: string;
}

/** The comment of an agent server. */
export function serverComment(owner: Owner, agentId: number | string): string {
  return formatMarker({ inst: owner.installationId, pool: owner.poolId, agent: agentId });
}

/** The comment of a floating IP created for an agent server. */
export function floatingIpComment(owner: Owner, serverName: string): string {
  return formatMarker({ inst: owner.installationId, pool: owner.poolId, server: serverName });
}

/** The previous release's server marker (no installation id): adoption candidates, and seeds in tests. */
export function legacyServerComment(poolId: string, agentId: number | string): string {
  return formatMarker({ pool: poolId, agent: agentId });
}

/** The previous release's floating IP marker. */
export function legacyFloatingIpComment(poolId: string, serverName: string): string {
  return formatMarker({ pool: poolId, server: serverName });
}

/** Parses the first marker in a comment; undefined when there is none or it has no `pool`. Never throws. */
export function parseMarker(comment: string | null | undefined): Marker | undefined {
  if (typeof comment !== 'string') return undefined;
  const at = MARKER_AT.exec(comment);
  if (!at) return undefined;
  const rest = comment.slice(at.index + at[0].length);
  const token = /^[^\s]*/.exec(rest)?.[0] ?? '';
  const out: Record<string, string> = {};
  for (const part of token.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw text: a broken escape must not make a marker look like another pool's
    }
    if (!(key in out)) out[key] = value;
  }
  return out.pool === undefined ? undefined : out;
}

/** The pool's agent/server name pattern: the engine's `poolNamePattern`, so both always apply the same rule. */
export const agentNamePattern: (poolId: string) => RegExp = poolNamePattern;

/** The Woodpecker agent id a marker names (a positive integer), or undefined. */
export function markerAgentId(marker: Marker | undefined): number | undefined {
  const raw = marker?.agent;
  if (raw === undefined || !/^[1-9][0-9]{0,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * How a server relates to this installation's pool:
 * - `ours`: pool name AND this installation's marker for this pool;
 * - `legacy`: pool name AND the previous release's marker (no `inst`) for this pool naming an agent id: adopted only
 *   with the Woodpecker server's proof;
 * - `other-installation`: pool name, marker of this pool from another installation;
 * - `lookalike`: pool name without a usable marker;
 * - `other-pool`: a marker of another pool;
 * - `marker-foreign-name`: a marker of this pool on a name outside the pool pattern;
 * - `foreign`: anything else (the Woodpecker server's VDS, a database…).
 * Only `ours` is ever deleted, patched or counted; `legacy` only gets its marker upgraded, after proof.
 */
export type Ownership = 'ours' | 'legacy' | 'other-installation' | 'lookalike' | 'other-pool' | 'marker-foreign-name' | 'foreign';

export function classifyServer(
  server: { name: string; comment: string | null | undefined },
  owner: Owner,
  pattern: RegExp = agentNamePattern(owner.poolId),
): Ownership {
  const marker = parseMarker(server.comment);
  if (marker && marker.pool !== owner.poolId) return 'other-pool';
  if (!pattern.test(server.name)) return marker ? 'marker-foreign-name' : 'foreign';
  if (!marker) return 'lookalike';
  if (marker.inst === undefined) return markerAgentId(marker) !== undefined ? 'legacy' : 'lookalike';
  return marker.inst === owner.installationId ? 'ours' : 'other-installation';
}

/** Why a server named like the pool is not ours, for humans; undefined when it is ours or not named like the pool. */
export function foreignReason(server: { comment: string | null | undefined }, kind: Ownership): string | undefined {
  const marker = parseMarker(server.comment);
  switch (kind) {
    case 'other-installation':
      return `marker of another installation (${marker?.inst ?? '?'})`;
    case 'lookalike':
      return marker ? 'marker without an agent id' : 'no ownership marker';
    case 'other-pool':
      return `marker of pool ${marker?.pool ?? '?'}`;
    case 'legacy':
      return `marker of an earlier release (agent ${marker?.agent ?? '?'}); adopted once its agent is found on the Woodpecker server`;
    default:
      return undefined;
  }
}

/** A server is ours only when its name matches the pool pattern AND its comment carries this installation's marker. */
export function isOwnedServer(server: { name: string; comment: string | null | undefined }, owner: Owner): boolean {
  return classifyServer(server, owner) === 'ours';
}

/** A floating IP is ours when its comment carries this installation's marker for this pool. */
export function isOwnedFloatingIp(ip: { comment: string | null | undefined }, owner: Owner): boolean {
  const m = parseMarker(ip.comment);
  return m !== undefined && m.pool === owner.poolId && m.inst === owner.installationId;
}

/** The previous release's marker on a floating IP of the named server (upgraded when that server is ours). */
export function isLegacyFloatingIpOf(ip: { comment: string | null | undefined }, poolId: string, serverName: string): boolean {
  const m = parseMarker(ip.comment);
  return m !== undefined && m.inst === undefined && m.pool === poolId && m.server === serverName;
}

/**
 * The comment with its first marker replaced by `marker` (an operator's note around it is kept); the marker alone
 * when the comment has none. Capped at Timeweb's 255 characters by dropping the note.
 */
export function replaceMarker(comment: string | null | undefined, marker: string): string {
  const text = typeof comment === 'string' ? comment : '';
  const at = MARKER_AT.exec(text);
  if (!at) return marker;
  const rest = text.slice(at.index);
  const token = /^[^\s]*/.exec(rest)?.[0] ?? '';
  const out = text.slice(0, at.index) + marker + rest.slice(token.length);
  return out.length <= 255 ? out : marker;
}
