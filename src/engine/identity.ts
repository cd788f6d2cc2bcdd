import { createHash, createHmac } from 'node:crypto';

/**
 * The installation identity: what makes a server, IP or agent provably THIS installation's, even when another
 * installation shares the Timeweb account and the pool id. It is set explicitly (`--installation-id`) or derived
 * from the Woodpecker server URL and the pool id, so two installations never share it by accident, and one
 * installation keeps it across restarts and upgrades.
 */

/** Explicit installation ids: lowercase letters, digits and `-`, 1–32 characters. */
export const INSTALLATION_ID_PATTERN = /^[a-z0-9-]{1,32}$/;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32 in lowercase, without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31] ?? '';
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31] ?? '';
  return out;
}

/**
 * The Woodpecker server URL as the identity sees it: scheme and host lowercased, the default port dropped, the path
 * prefix kept without trailing `/`, query and fragment dropped. `https://CI.example.com:443/` and
 * `https://ci.example.com` are the same installation; `https://ci.example.com/team-a` is another one.
 */
export function normalizeServerUrl(raw: string): string {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.replace(/\/+$/, '').toLowerCase();
  }
  // URL already lowercases scheme and host and drops the scheme's default port.
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** The derived installation id: the first 10 characters of base32(sha256(normalized server URL + "\n" + pool id)). */
export function deriveInstallationId(serverUrl: string, poolId: string): string {
  const digest = createHash('sha256').update(`${normalizeServerUrl(serverUrl)}\n${poolId}`).digest();
  return base32(digest).slice(0, 10);
}

/**
 * The name of the one lease of a daemon with a pools file (`--pools-file`): the explicit installation id when given,
 * else derived like an installation id from the server URL and `*pools` in place of a pool id (no pool id can be
 * it). So it does not depend on the pools' order, ids or number: an old and a new instance during a rolling deploy
 * that reorders, adds or removes pools share it, and only one of them acts. Two daemons with pools files on one
 * Woodpecker server need different `--installation-id`s.
 */
export function poolsLeaseId(explicit: string, serverUrl: string): string {
  return explicit !== '' ? explicit : deriveInstallationId(serverUrl, '*pools');
}

/** Why an explicit installation id is not valid; undefined when it is. */
export function installationIdProblem(id: string): string | undefined {
  if (INSTALLATION_ID_PATTERN.test(id)) return undefined;
  return `${JSON.stringify(id)} is not a valid installation ID (1–32 lowercase letters, digits and '-')`;
}

/** The installation id: the explicit one when given (validated by the caller), else derived. */
export function resolveInstallationId(explicit: string, serverUrl: string, poolId: string): string {
  return explicit !== '' ? explicit : deriveInstallationId(serverUrl, poolId);
}

/** Length of the random part of a new agent name. */
export const NONCE_LENGTH = 6;
/** Length of the keyed tag that follows it. */
export const TAG_LENGTH = 6;

/**
 * The keyed tag that proves an agent name was made by this installation: 6 characters of
 * base32(HMAC-SHA256(key = installation id, message = pool id + ":" + nonce)). 30 bits: a name someone typed, the
 * Go autoscaler's 4 random letters, or another installation's name verifies by chance once in 10⁹.
 */
export function nameTag(installationId: string, poolId: string, nonce: string): string {
  const mac = createHmac('sha256', installationId).update(`${poolId}:${nonce}`).digest();
  return base32(mac).slice(0, TAG_LENGTH);
}
