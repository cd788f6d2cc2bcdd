import type { WoodpeckerAgent } from '../woodpecker/types.js';

/**
 * The single-acting-instance lease: pure decisions (no I/O, no clock reads). The effects live in lease-keeper.ts.
 *
 * Two processes of one installation (an upgrade that starts the new container before the old one stops, a second
 * systemd unit by mistake) must not both act: one drains an agent, the other reactivates it, the first deletes the
 * server under the workflow Woodpecker then assigned. The lease is a Woodpecker agent record this installation owns:
 *
 *   twcloud-scaler-lease-<installation id>.<holder instance id>.<renewal sequence>
 *
 * registered with no_schedule=true, so it never gets work (its token is never used or logged). It never matches the
 * pool pattern (`pool-<id>-agent-…`), so it is never counted, drained or removed as a pool agent.
 *
 * Rules (every instance applies them to the agent list it reads on each tick):
 * - Ids are monotonic: with several lease records of the installation, the LOWEST id holds the lease. An instance
 *   that finds a lower record than its own deletes its own and stands by.
 * - The holder renews on every full tick before acting (renames its record with seq+1) and acts only when the renew
 *   succeeded; a 404 means its record was deleted (taken over, or by an operator): it stands by.
 * - Expiry is judged without comparing clocks: a standby that sees the holder's record name unchanged for `ttl` of
 *   its OWN monotonic time takes over by deleting that record. Woodpecker answers one deleter 204 and later ones
 *   404; the winner registers its own record and re-applies the lowest-id rule (which also settles the rare case of
 *   two deletes racing inside the server: both create, the lower id wins).
 * - Records of the installation that nobody renews (a standby killed between create and delete) are deleted by the
 *   holder once unchanged for `ttl`.
 * - A graceful stop deletes the holder's record, so a standby takes over at its next tick.
 * Only a record that is drained and never connected counts as a lease record: an agent someone named like it that
 * ever contacted the server is a real agent, and is never touched.
 */

export const LEASE_PREFIX = 'twcloud-scaler-lease-';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function leasePattern(installationId: string): RegExp {
  return new RegExp(`^${escapeRegExp(LEASE_PREFIX + installationId)}\\.([A-Za-z0-9]+)\\.(\\d{1,15})$`);
}

export function leaseName(installationId: string, holder: string, seq: number): string {
  return `${LEASE_PREFIX}${installationId}.${holder}.${seq}`;
}

export interface LeaseRecord {
  id: number;
  name: string;
  holder: string;
  seq: number;
}

/** This installation's lease records in an agent list, lowest id first. */
export function leaseRecords(agents: readonly WoodpeckerAgent[], installationId: string): LeaseRecord[] {
  const re = leasePattern(installationId);
  const out: LeaseRecord[] = [];
  for (const a of agents) {
    const m = re.exec(a.name);
    if (!m || !a.no_schedule || a.last_contact !== 0) continue;
    out.push({ id: a.id, name: a.name, holder: m[1] ?? '', seq: Number(m[2]) });
  }
  return out.sort((a, b) => a.id - b.id);
}

/** What this instance remembers between ticks. Plain data. */
export interface LeaseMemory {
  /** This process's holder id (random, new on every start). */
  self: string;
  /** Monotonic ms at which each other record's current name was first seen (expiry without comparing clocks). */
  seen: ReadonlyArray<{ id: number; name: string; since: number }>;
  /** Monotonic ms since which this instance holds the lease; undefined = it does not. */
  heldSince: number | undefined;
  /** Monotonic ms at which its last successful create or renew was SENT (the write window starts there). */
  renewedAt: number | undefined;
}

export function initialLeaseMemory(self: string): LeaseMemory {
  return { self, seen: [], heldSince: undefined, renewedAt: undefined };
}

export type LeaseStep =
  /** No record at all: register ours (seq 0), then re-read and re-apply the rules. */
  | { kind: 'create' }
  /** Ours is the lowest: rename it to seq+1 and act if that succeeds; delete the abandoned records listed. */
  | { kind: 'renew'; record: LeaseRecord; name: string; cleanup: LeaseRecord[] }
  /** A lower record than ours exists: delete ours and stand by. */
  | { kind: 'yield'; own: LeaseRecord; holder: LeaseRecord }
  /** Another instance holds it and renews: stand by. */
  | { kind: 'wait'; holder: LeaseRecord; unchangedMs: number }
  /** The holder did not renew for `ttl`: delete its record; if that answers 204, register ours. */
  | { kind: 'take-over'; holder: LeaseRecord; unchangedMs: number }
  /** Scale-up tick (no writes): we hold it and renewed recently, act. */
  | { kind: 'hold'; record: LeaseRecord }
  /** Scale-up tick: we do not (or no longer) hold it, do not act. */
  | { kind: 'not-holder'; holder: LeaseRecord | undefined };

export interface LeaseInput {
  records: readonly LeaseRecord[];
  memory: LeaseMemory;
  /** Monotonic ms now. */
  now: number;
  /** How long a holder's record may stay unchanged before a standby takes over (ms). */
  ttl: number;
  /** `full` ticks may write the lease; `scale-up` ticks only check it. */
  mode: 'full' | 'scale-up';
}

/** The decision for one tick, and the memory with the records' first-seen times brought up to date. */
export function decideLease(input: LeaseInput): { step: LeaseStep; memory: LeaseMemory } {
  const { records, now, ttl } = input;
  const mem = input.memory;
  const prev = new Map(mem.seen.map((s) => [s.id, s] as const));
  const seen = records
    .filter((r) => r.holder !== mem.self)
    .map((r) => {
      const p = prev.get(r.id);
      return p && p.name === r.name ? p : { id: r.id, name: r.name, since: now };
    });
  const unchanged = (r: LeaseRecord): number => now - (seen.find((s) => s.id === r.id)?.since ?? now);
  const lowest = records[0];
  const own = records.find((r) => r.holder === mem.self);
  const next: LeaseMemory = { ...mem, seen };
  const lost = (): LeaseMemory => ({ ...next, heldSince: undefined, renewedAt: undefined });

  if (input.mode === 'scale-up') {
    const fresh = mem.renewedAt !== undefined && now - mem.renewedAt < leaseWriteWindow(ttl);
    if (lowest && own && lowest.id === own.id && fresh) return { step: { kind: 'hold', record: own }, memory: next };
    return { step: { kind: 'not-holder', holder: lowest }, memory: own && lowest?.id === own.id ? next : lost() };
  }
  if (!lowest) return { step: { kind: 'create' }, memory: lost() };
  if (own && lowest.id === own.id) {
    const cleanup = records.filter(
      (r) => r.id !== own.id && (r.holder === mem.self || unchanged(r) >= ttl),
    );
    return {
      step: { kind: 'renew', record: own, name: renamed(own), cleanup },
      memory: next,
    };
  }
  if (own) return { step: { kind: 'yield', own, holder: lowest }, memory: lost() };
  const age = unchanged(lowest);
  if (age >= ttl) return { step: { kind: 'take-over', holder: lowest, unchangedMs: age }, memory: lost() };
  return { step: { kind: 'wait', holder: lowest, unchangedMs: age }, memory: lost() };
}

function renamed(r: LeaseRecord): string {
  const i = r.name.lastIndexOf('.');
  return `${r.name.slice(0, i + 1)}${r.seq + 1}`;
}

/**
 * How long after sending its last successful renew the holder may still write (ms): 2/3 of the TTL. A standby takes
 * over no earlier than a TTL after it first saw that renewal, so the last third (≥ 30 s, the default request
 * timeout) covers a write that was in flight. A holder frozen past it (SIGSTOP, a paused VM, a tick stuck on
 * slow requests) makes no further write before it renewed again.
 */
export function leaseWriteWindow(ttl: number): number {
  return Math.floor((ttl * 2) / 3);
}

/** The standby TTL: `3 × interval`, at least 90 s. */
export function leaseTtl(reconciliationInterval: number): number {
  return Math.max(90_000, 3 * reconciliationInterval);
}

/** What the status page, `/readyz`, `/api/status` and the logs say about the lease. */
export interface LeaseStatus {
  /** `acting`: this instance holds the lease; `standby`: another one does (or it could not be renewed); `observing`: a dry run (never writes the lease). */
  role: 'acting' | 'standby' | 'observing';
  /** This process's holder id. */
  self: string;
  /** The holder's id and record (the lowest lease record), as last seen; null when there is none. */
  holder: string | null;
  record: { id: number; name: string } | null;
  /** Every lease record of the installation seen at the last check. */
  records: Array<{ id: number; name: string }>;
  /** A sentence saying why. */
  reason: string;
  /** An error of the lease writes (the tick reports it). */
  error?: string;
}
