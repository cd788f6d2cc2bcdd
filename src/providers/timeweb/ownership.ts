/**
 * Ownership markers. Timeweb Cloud has no tags on servers, so a server belongs to a pool only when BOTH
 * - its name matches the pool's agent pattern `^pool-<escaped pool id>-agent-[A-Za-z0-9]+$`, and
 * - its `comment` carries our marker `twcloud-scaler:pool=<pool id>;agent=<agent id>`.
 * Nothing else is ever deleted, patched or counted: a server named like ours without the marker is foreign.
 * Floating IPs we create get a marker comment too (`twcloud-scaler:pool=<pool id>;server=<agent name>`).
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

/** The comment of an agent server. */
export function serverComment(poolId: string, agentId: number | string): string {
  return formatMarker({ pool: poolId, agent: agentId });
}

/** The comment of a floating IP created for an agent server. */
export function floatingIpComment(poolId: string, serverName: string): string {
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

/** True when the comment carries this pool's marker. */
export function hasPoolMarker(comment: string | null | undefined, poolId: string): boolean {
  return parseMarker(comment)?.pool === poolId;
}

/** A server is ours only when its name matches the pool pattern AND its comment carries our pool marker. */
export function isOwnedServer(server: { name: string; comment: string | null | undefined }, poolId: string): boolean {
  return agentNamePattern(poolId).test(server.name) && hasPoolMarker(server.comment, poolId);
}

/** A floating IP is ours when its comment carries our pool marker. */
export function isOwnedFloatingIp(ip: { comment: string | null | undefined }, poolId: string): boolean {
  return hasPoolMarker(ip.comment, poolId);
}
