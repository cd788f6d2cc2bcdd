import type { Logger } from 'pino';
import { ConfigError } from '../../config/types.js';
import type { Clock } from '../../util/clock.js';
import { errorMessage } from '../../util/guards.js';
import { DEFAULT_RETRY_AFTER_MS, DeployOutcomeUnknownError, RateLimitedError } from '../types.js';
import type {
  AccountBalance,
  BillingModel,
  DeployRequest,
  PriceInfo,
  Provider,
  ProviderContext,
  ProviderInventory,
  ProviderDefinition,
  ProviderServer,
  RemoveResult,
  ServerState,
  SweepResult,
} from '../types.js';
import { TimewebApiError, TimewebClient } from './client.js';
import type { TimewebClientOptions } from './client.js';
import { readTimewebOptions, timewebOptions } from './options.js';
import type { ForeignResource } from '../../engine/pool.js';
import {
  agentNamePattern,
  classifyServer,
  floatingIpComment,
  foreignReason,
  isLegacyFloatingIpOf,
  isOwnedFloatingIp,
  markerAgentId,
  parseMarker,
  replaceMarker,
  serverComment,
} from './ownership.js';
import type { Owner, Ownership } from './ownership.js';
import { HOURS_PER_MONTH, resolveTimewebSettings } from './resolve.js';
import type { TimewebCandidate, TimewebSettings } from './resolve.js';
import type { TwCreateServerRequest, TwFloatingIp, TwServer } from './types.js';

/**
 * The `timewebcloud` provider: Woodpecker agents on Timeweb Cloud VDS.
 *
 * Safety rules it keeps:
 * - a server is ours only when its name matches the pool pattern AND its comment carries this installation's marker;
 *   nothing else is ever deleted, patched or counted (a same-name server without the marker, or with another
 *   installation's, is left alone); an earlier release's server only gets its marker upgraded, once the engine
 *   proved it ours (`adopt`);
 * - a create is never repeated blindly: after a 5xx, timeout or network error we LIST by name + marker and adopt
 *   the server if it exists; only when it does not may we try once more;
 * - floating IPs created with a server are deleted with it, and marked (comment) so a sweep can find leftovers;
 * - secrets (token, root/vnc passwords, user-data) never reach a log line.
 */

export const TIMEWEB_PROVIDER_NAME = 'timewebcloud';

/**
 * Pipeline steps must not reach the cloud metadata service (it would hand out the user-data with the agent token).
 * Timeweb's metadata address is not documented in our references: we blackhole cloud-init's standard
 * 169.254.169.254, which is what every provider of the Go autoscaler does for this kind of cloud. If Timeweb uses
 * another address (or a config drive), this line is harmless and must be extended.
 */
export const TIMEWEB_PRE_EXEC: readonly string[] = ['ip -4 route add blackhole 169.254.169.254/32'];

/** Thrown when DELETE answers 200 with a confirmation hash: the server was NOT deleted. */
export class TimewebDeletePermissionError extends ConfigError {
  override name = 'TimewebDeletePermissionError';
}

/** Status words → the engine's coarse state. */
export function serverState(status: string): ServerState {
  switch (status) {
    case 'on':
      return 'running';
    // `off` counts as failed: we never stop agents, so an agent server that is off will not run an agent again by
    // itself; the engine then removes it (instead of paying for a dead server forever).
    case 'blocked':
    case 'no_paid':
    case 'permanent_blocked':
    case 'off':
      return 'failed';
    case 'removing':
    case 'removed':
    case 'turning_off':
    case 'hard_turning_off':
      return 'deleting';
    default:
      // installing, software_install, configuring, reinstalling, cloning, transfer, turning_on, rebooting,
      // hard_rebooting, and any status word we do not know yet.
      return 'booting';
  }
}

/** The main public IPv4: the public network's ipv4 with `is_main`, else any public ipv4, else `main_ipv4`. */
export function publicIpv4(s: TwServer): string | undefined {
  const pub = (s.networks ?? []).filter((n) => n.type === 'public');
  const v4 = pub.flatMap((n) => n.ips ?? []).filter((ip) => ip.type === 'ipv4' && typeof ip.ip === 'string' && ip.ip !== '');
  const main = v4.find((ip) => ip.is_main) ?? v4[0];
  if (main) return main.ip;
  return typeof s.main_ipv4 === 'string' && s.main_ipv4 !== '' ? s.main_ipv4 : undefined;
}

/** Ids of the floating IPs the server object itself names (`networks[].ips[].id`, undocumented). */
function networkIpIds(s: TwServer): string[] {
  const ids: string[] = [];
  for (const n of s.networks ?? []) {
    for (const ip of n.ips ?? []) {
      if (typeof ip.id === 'string' && ip.id !== '') ids.push(ip.id);
      else if (typeof ip.id === 'number') ids.push(String(ip.id));
    }
  }
  return ids;
}

/** RFC 1123 label: lower-case letters, digits and `-`, at most 63 characters. */
export function sanitiseHostname(s: string): string {
  const h = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h === '' ? 'agent' : h;
}

/** Insufficient balance (the exact error code is not documented). */
export function isBalanceError(err: TimewebApiError): boolean {
  if (err.kind !== 'http' || err.status < 400 || err.status >= 500) return false;
  const text = `${err.errorCode ?? ''} ${err.apiMessage}`;
  return err.status === 402 || /balance|funds|money|payment|недостаточно средств|баланс/i.test(text);
}

/** "This preset/zone has no capacity now": try the next candidate (the exact codes are not documented). */
export function isUnavailableError(err: TimewebApiError): boolean {
  if (err.kind !== 'http' || ![400, 403, 404, 409, 422].includes(err.status)) return false;
  const text = `${err.errorCode ?? ''} ${err.apiMessage}`;
  return /unavailable|not available|no (free )?resources|not enough resources|insufficient resources|out of stock|sold out|capacity|недоступ|нет (свободных )?ресурс|закончил/i.test(
    text,
  );
}

export interface TimewebProviderDeps {
  client: TimewebClient;
  settings: TimewebSettings;
  poolId: string;
  installationId: string;
  clock: Clock;
  logger: Logger;
  /** Wait before looking for a server after an ambiguous create (the listing may lag). Default 5 s. */
  ambiguousCreateSettleMs?: number;
}

export class TimewebProvider implements Provider {
  readonly name = TIMEWEB_PROVIDER_NAME;
  readonly billingModel: BillingModel;
  readonly preExec: readonly string[] = TIMEWEB_PRE_EXEC;
  readonly postExec: readonly string[] = [];
  readonly settings: TimewebSettings;
  readonly client: TimewebClient;

  private readonly poolId: string;
  private readonly owner: Owner;
  private readonly namePattern: RegExp;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly settleMs: number;
  /** Servers whose floating IPs carry our marker (or that have none to mark). */
  private readonly ipMarked = new Set<number>();
  /** Our servers as the last `list()` saw them (what `tend` marks). */
  private listed: readonly TwServer[] = [];
  /** First time we saw a server whose `created_at` did not parse. */
  private readonly firstSeen = new Map<number, number>();

  constructor(deps: TimewebProviderDeps) {
    this.client = deps.client;
    this.settings = deps.settings;
    this.poolId = deps.poolId;
    this.owner = { poolId: deps.poolId, installationId: deps.installationId };
    this.namePattern = agentNamePattern(deps.poolId);
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.settleMs = deps.ambiguousCreateSettleMs ?? 5000;
    this.billingModel = deps.settings.billingModel;
  }

  /** How the server relates to this installation's pool (`classifyServer`, with the pattern compiled once). */
  classify(server: Pick<TwServer, 'name' | 'comment'>): Ownership {
    return classifyServer(server, this.owner, this.namePattern);
  }

  /** True when the server carries this installation's markers (name pattern AND comment marker): `isOwnedServer`. */
  owns(server: Pick<TwServer, 'name' | 'comment'>): boolean {
    return this.classify(server) === 'ours';
  }

  /** This installation's floating IP. */
  private ownsIp(ip: Pick<TwFloatingIp, 'comment'>): boolean {
    return isOwnedFloatingIp(ip, this.owner);
  }

  /** An IP of our server `name` that we may (re)mark: unmarked, or with the earlier release's marker for it. */
  private markableIp(ip: Pick<TwFloatingIp, 'comment'>, name: string): boolean {
    return ip.comment === null || ip.comment.trim() === '' || isLegacyFloatingIpOf(ip, this.poolId, name);
  }

  /** The create request for one candidate (exact body sent to `POST /api/v1/servers`). */
  createRequest(req: DeployRequest, candidate: TimewebCandidate): TwCreateServerRequest {
    const s = this.settings;
    const body: TwCreateServerRequest = {
      name: req.agent.name,
      comment: serverComment(this.owner, req.agent.id),
      hostname: sanitiseHostname(`${s.hostnamePrefix}${req.agent.name}`),
      cloud_init: req.userData,
    };
    if (candidate.preset) body.preset_id = candidate.preset.id;
    else if (candidate.configuration) body.configuration = { ...candidate.configuration };
    body.bandwidth = candidate.bandwidth;
    if (s.imageId !== undefined) body.image_id = s.imageId;
    else if (s.os) body.os_id = s.os.id;
    if (candidate.zone !== undefined) body.availability_zone = candidate.zone;
    if (s.sshKeyIds.length > 0) {
      body.ssh_keys_ids = [...s.sshKeyIds];
      body.is_root_password_required = false;
    }
    if (s.projectId !== undefined) body.project_id = s.projectId;
    if (s.publicIp) body.network = { floating_ip: 'create_ip' };
    return body;
  }

  async deploy(req: DeployRequest, signal?: AbortSignal): Promise<ProviderServer> {
    const name = req.agent.name;
    if (!this.namePattern.test(name)) {
      // We could never recognise (nor remove) such a server as ours.
      throw new Error(`timewebcloud: agent name ${name} does not match the pool's pattern ${this.namePattern.source}`);
    }
    const failures: string[] = [];
    let ambiguousLeft = 1;
    for (const candidate of this.settings.candidates) {
      const body = this.createRequest(req, candidate);
      for (;;) {
        try {
          const server = await this.client.createServer(body, signal, [req.agent.token]);
          this.logger.info(
            { agent: name, serverId: server.id, status: server.status },
            `timewebcloud: created server ${name} (id ${server.id}) from ${candidate.description}`,
          );
          return this.toProviderServer(server);
        } catch (err) {
          if (!(err instanceof TimewebApiError)) throw err;
          if (err.status === 429) {
            // Refused before anything was created: the engine waits for Retry-After (not a provisioning failure).
            const retryAfterMs = err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
            throw new RateLimitedError(
              `timewebcloud: the rate limit refused the create of ${name}; retry after ${Math.ceil(retryAfterMs / 1000)} s (${err.message})`,
              retryAfterMs,
              { cause: err },
            );
          }
          if (err.ambiguous) {
            const adopted = await this.lookAfterAmbiguousCreate(name, err, signal);
            if (adopted) return adopted;
            if (ambiguousLeft-- > 0) {
              this.logger.warn({ agent: name }, `timewebcloud: no server ${name} after an unclear create; creating it once more`);
              continue;
            }
            throw new Error(
              `timewebcloud: creating server ${name} failed twice without a clear answer, and no such server exists: ${err.message}`,
              { cause: err },
            );
          }
          if (isBalanceError(err)) {
            throw new Error(
              `timewebcloud: insufficient balance on the Timeweb Cloud account: top up the balance to create agent servers (${err.message})`,
              { cause: err },
            );
          }
          if (isUnavailableError(err)) {
            this.logger.warn(
              { agent: name },
              `timewebcloud: ${candidate.description} is unavailable (${err.apiMessage}); trying the next candidate`,
            );
            failures.push(`${candidate.description}: ${err.message}`);
            break;
          }
          throw new Error(`timewebcloud: creating server ${name} from ${candidate.description} failed: ${err.message}`, {
            cause: err,
          });
        }
      }
    }
    throw new Error(`timewebcloud: no candidate could create server ${name}: ${failures.join(' | ')}`);
  }

  /** After a create with no clear answer: wait a moment, then look for the server by name + marker. */
  private async lookAfterAmbiguousCreate(
    name: string,
    err: TimewebApiError,
    signal?: AbortSignal,
  ): Promise<ProviderServer | undefined> {
    this.logger.warn({ agent: name }, `timewebcloud: create of ${name} has no clear answer (${err.message}); looking before trying again`);
    if (this.settleMs > 0) await this.clock.sleep(this.settleMs, signal);
    // A failing listing throws: then we must not create again, and nobody knows whether the server exists.
    let all: TwServer[];
    try {
      all = await this.client.listServers(signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new DeployOutcomeUnknownError(
        `timewebcloud: the create of ${name} had no clear answer and looking for the server failed too, so it may exist: ${errorMessage(e)}`,
        { cause: e },
      );
    }
    const found = all.filter((s) => s.name === name && this.owns(s));
    const server = found.sort((a, b) => a.id - b.id)[0];
    if (!server) return undefined;
    this.logger.info({ agent: name, serverId: server.id }, `timewebcloud: the create of ${name} went through (id ${server.id}); adopting it`);
    return this.toProviderServer(server);
  }

  async list(signal?: AbortSignal): Promise<ProviderServer[]> {
    return (await this.inventory(signal)).servers;
  }

  /** One listing: our servers, the earlier release's (adoption candidates) and the look-alikes. */
  async inventory(signal?: AbortSignal): Promise<ProviderInventory> {
    const all = await this.client.listServers(signal);
    const ours: TwServer[] = [];
    const legacy: TwServer[] = [];
    const foreign: ForeignResource[] = [];
    for (const s of all) {
      const kind = this.classify(s);
      if (kind === 'ours') ours.push(s);
      else if (kind === 'legacy') legacy.push(s);
      else if (this.namePattern.test(s.name)) {
        foreign.push({ kind: 'server', name: s.name, id: String(s.id), why: foreignReason(s, kind) ?? kind });
      }
    }
    // Only reads: the IPs of these servers are marked by tend(), after the tick's actions (never in a dry run).
    this.listed = ours;
    const ids = new Set([...ours, ...legacy].map((s) => s.id));
    for (const id of this.ipMarked) if (!ids.has(id)) this.ipMarked.delete(id);
    for (const id of this.firstSeen.keys()) if (!ids.has(id)) this.firstSeen.delete(id);
    return {
      servers: ours.map((s) => this.toProviderServer(s)),
      legacy: legacy.map((s) => this.toProviderServer(s)),
      foreign,
    };
  }

  /**
   * Upgrades an earlier release's server to this installation's marker (PATCH of its comment), after the engine
   * proved it ours: its marker names `agentId`, the id of the agent with its name on this Woodpecker server.
   * Touches nothing else: a server that is not a legacy candidate with exactly that agent id is left alone.
   */
  async adopt(name: string, agentId: number, signal?: AbortSignal): Promise<void> {
    const all = await this.client.listServers(signal);
    const match = all.filter(
      (s) => s.name === name && this.classify(s) === 'legacy' && markerAgentId(parseMarker(s.comment)) === agentId,
    );
    if (match.length === 0) {
      if (all.some((s) => s.name === name && this.owns(s))) return; // already adopted (a retry after a lost answer)
      throw new Error(`timewebcloud: no server ${name} with an earlier release's marker for agent ${agentId}; nothing adopted`);
    }
    for (const s of match) {
      await this.client.updateServerComment(s.id, replaceMarker(s.comment, serverComment(this.owner, agentId)), signal);
      this.ipMarked.delete(s.id);
      this.logger.info(
        { agent: name, serverId: s.id, installation: this.owner.installationId },
        `timewebcloud: adopted server ${name} (id ${s.id}) of an earlier release: its marker now names installation ${this.owner.installationId}`,
      );
    }
  }

  /** After a tick's actions (never in a dry run): marks the floating IPs of the servers the last `list()` saw. */
  async tend(signal?: AbortSignal): Promise<void> {
    await this.markFloatingIps(this.listed, signal);
  }

  /**
   * Marks the floating IPs of our servers with our comment (PATCH), once per server, when the IP appears. Best
   * effort: a failure is logged and retried after the next listing.
   */
  private async markFloatingIps(ours: readonly TwServer[], signal?: AbortSignal): Promise<void> {
    const pending = ours.filter((s) => !this.ipMarked.has(s.id) && serverState(s.status) !== 'deleting');
    if (pending.length === 0) return;
    let fips: TwFloatingIp[];
    try {
      fips = await this.client.listFloatingIps(signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.logger.warn(`timewebcloud: cannot list floating IPs to mark them: ${errorMessage(err)}`);
      return;
    }
    for (const s of pending) {
      const attached = this.ipsOf(s, fips);
      if (attached.length === 0) {
        // No IP yet while it installs; a server that is up without one simply has none.
        if (serverState(s.status) !== 'booting') this.ipMarked.add(s.id);
        continue;
      }
      let ok = true;
      for (const ip of attached) {
        if (this.ownsIp(ip)) continue;
        if (!this.markableIp(ip, s.name)) {
          this.logger.warn(`timewebcloud: floating IP ${ip.ip ?? ip.id} of ${s.name} has a foreign comment; not marking it`);
          continue;
        }
        try {
          await this.client.updateFloatingIpComment(ip.id, floatingIpComment(this.owner, s.name), signal);
        } catch (err) {
          if (signal?.aborted) throw err;
          ok = false;
          this.logger.warn(`timewebcloud: cannot mark floating IP ${ip.ip ?? ip.id} of ${s.name}: ${errorMessage(err)}`);
        }
      }
      if (ok) this.ipMarked.add(s.id);
    }
  }

  /** Floating IPs attached to the server (by `resource_id`, by the ids in `networks`, or by address). */
  private ipsOf(s: TwServer, fips: TwFloatingIp[]): TwFloatingIp[] {
    const ids = new Set(networkIpIds(s));
    const addrs = new Set(
      (s.networks ?? []).flatMap((n) => (n.ips ?? []).map((ip) => ip.ip)).filter((x) => typeof x === 'string'),
    );
    return fips.filter(
      (ip) =>
        (ip.resource_id === s.id && (ip.resource_type === 'server' || ip.resource_type === null)) ||
        ids.has(ip.id) ||
        (ip.ip !== null && addrs.has(ip.ip) && (ip.resource_id === s.id || ip.resource_id === null)),
    );
  }

  async remove(name: string, signal?: AbortSignal): Promise<RemoveResult> {
    const all = await this.client.listServers(signal);
    const ours = all.filter((s) => s.name === name && this.owns(s));
    if (ours.length === 0) {
      if (all.some((s) => s.name === name)) {
        this.logger.warn({ agent: name }, `timewebcloud: a server named ${name} exists without our marker: left alone`);
      }
      return 'not-found';
    }
    // Read the IPs before the server goes: afterwards nothing links them to it any more.
    const fips = await this.client.listFloatingIps(signal);
    for (const s of ours.sort((a, b) => a.id - b.id)) {
      const ips = this.ipsOf(s, fips).filter((ip) => {
        if (this.ownsIp(ip) || this.markableIp(ip, s.name)) return true;
        this.logger.warn(`timewebcloud: floating IP ${ip.ip ?? ip.id} of ${s.name} has a foreign comment; keeping it`);
        return false;
      });
      // Mark them first, so the sweep can still find them if deleting them below fails (or the process dies in
      // between). An IP that cannot be marked keeps its server alive until the next attempt: once the server is
      // gone, nothing would link an unmarked IP to this pool any more, and it would be billed forever.
      for (const ip of ips) {
        if (this.ownsIp(ip)) continue;
        try {
          await this.client.updateFloatingIpComment(ip.id, floatingIpComment(this.owner, s.name), signal);
        } catch (err) {
          if (signal?.aborted) throw err;
          throw new Error(
            `timewebcloud: cannot mark floating IP ${ip.ip ?? ip.id} of ${s.name}, so the server is kept until the next attempt: ${errorMessage(err)}`,
            { cause: err },
          );
        }
      }
      let result;
      try {
        result = await this.client.deleteServer(s.id, {}, signal);
      } catch (err) {
        if (err instanceof TimewebApiError) {
          throw new Error(`timewebcloud: cannot delete server ${s.name} (id ${s.id}): ${err.message}`, { cause: err });
        }
        throw err;
      }
      if (result.kind === 'confirmation-required') {
        throw new TimewebDeletePermissionError(
          `timewebcloud: Timeweb did not delete server ${s.name} (id ${s.id}) and asks for a confirmation instead: ` +
            'the API token lacks delete permission or Telegram delete confirmation is on. Allow deletion for the token ' +
            'and turn the delete confirmation off in the Timeweb Cloud panel',
        );
      }
      this.ipMarked.delete(s.id);
      this.listed = this.listed.filter((x) => x.id !== s.id);
      this.logger.info(
        { agent: name, serverId: s.id },
        `timewebcloud: deleted server ${s.name} (id ${s.id})${result.kind === 'quarantined' ? ' (moved to quarantine)' : ''}`,
      );
      for (const ip of ips) {
        try {
          await this.client.deleteFloatingIp(ip.id, signal);
          this.logger.info(`timewebcloud: deleted floating IP ${ip.ip ?? ip.id} of ${s.name}`);
        } catch (err) {
          if (signal?.aborted) throw err;
          this.logger.warn(
            `timewebcloud: cannot delete floating IP ${ip.ip ?? ip.id} of ${s.name} yet (the sweep retries): ${errorMessage(err)}`,
          );
        }
      }
    }
    return 'removed';
  }

  /** Deletes unattached floating IPs that carry this installation's marker for this pool. Nothing else. */
  async sweep(signal?: AbortSignal): Promise<SweepResult> {
    const fips = await this.client.listFloatingIps(signal);
    const deleted: string[] = [];
    for (const ip of fips) {
      if (ip.resource_id !== null || !this.ownsIp(ip)) continue;
      try {
        const r = await this.client.deleteFloatingIp(ip.id, signal);
        if (r === 'deleted') deleted.push(`floating-ip ${ip.ip ?? ip.id}`);
      } catch (err) {
        if (signal?.aborted) throw err;
        this.logger.warn(`timewebcloud: cannot delete leftover floating IP ${ip.ip ?? ip.id}: ${errorMessage(err)}`);
      }
    }
    if (deleted.length > 0) this.logger.info(`timewebcloud: sweep deleted ${deleted.join(', ')}`);
    return { deleted };
  }

  /**
   * Per-hour price of one agent server: the first candidate's monthly preset price / 730 h (an assumption: Timeweb
   * sells presets monthly and accrues per hour), plus its public IPv4 (a separately billed floating IP) the same
   * way. Configurator prices are not in the API: undefined.
   */
  price(): PriceInfo | undefined {
    const c = this.settings.candidates[0];
    if (!c?.preset || typeof c.preset.price !== 'number') return undefined;
    const server = c.preset.price / HOURS_PER_MONTH;
    const ip = this.settings.ipv4;
    if (!ip) {
      return { perHour: server, currency: 'RUB', description: `${c.description}, ${c.preset.price} RUB/month ÷ ${HOURS_PER_MONTH} h` };
    }
    const ipHour = ip.perMonth / HOURS_PER_MONTH;
    return {
      perHour: server + ipHour,
      currency: 'RUB',
      description:
        `${c.description} + public IPv4 ${ip.perMonth} RUB/month (${ip.source}), ` +
        `${c.preset.price + ip.perMonth} RUB/month ÷ ${HOURS_PER_MONTH} h`,
      parts: [
        { label: 'server', perHour: server },
        { label: 'public IPv4', perHour: ipHour },
      ],
    };
  }

  /** The account balance (`GET /api/v1/account/finances`); a warning is logged while it is below the threshold. */
  async balance(signal?: AbortSignal): Promise<AccountBalance> {
    const f = await this.client.getFinances(signal);
    const warnBelow = this.settings.balanceWarn;
    const out: AccountBalance = { amount: f.balance, currency: f.currency, warnBelow, low: warnBelow > 0 && f.balance < warnBelow };
    if (typeof f.hours_left === 'number') out.hoursLeft = f.hours_left;
    if (out.low) {
      const left = out.hoursLeft !== undefined ? ` (about ${out.hoursLeft} h of service left)` : '';
      this.logger.warn(
        { balance: f.balance, currency: f.currency },
        `timewebcloud: the account balance ${f.balance} ${f.currency} is below --timewebcloud-balance-warn ${warnBelow}${left}: ` +
          'top it up, or new agent servers will fail',
      );
    }
    return out;
  }

  private toProviderServer(s: TwServer): ProviderServer {
    const out: ProviderServer = {
      id: String(s.id),
      name: s.name,
      createdAt: this.createdAt(s),
      state: serverState(s.status),
      status: s.status,
    };
    const agentId = markerAgentId(parseMarker(s.comment));
    if (agentId !== undefined) out.agentId = agentId;
    const ip = publicIpv4(s);
    if (ip !== undefined) out.publicIpv4 = ip;
    return out;
  }

  /** `created_at` in unix ms. A time without a zone is taken as UTC; never in the future. */
  private createdAt(s: TwServer): number {
    const now = this.clock.now();
    const raw = typeof s.created_at === 'string' ? s.created_at.trim() : '';
    const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(raw) || raw === '' ? raw : `${raw}Z`;
    const t = Date.parse(zoned);
    if (Number.isFinite(t)) return Math.min(t, now);
    const seen = this.firstSeen.get(s.id) ?? now;
    this.firstSeen.set(s.id, seen);
    return seen;
  }
}

export interface CreateTimewebProviderOptions {
  /** Use this client instead of building one from the options (tests, tools). */
  client?: TimewebClient;
  /** Extra client options (timeouts, retries, metrics hook). */
  clientOptions?: Partial<Omit<TimewebClientOptions, 'token' | 'fetch' | 'clock' | 'random' | 'baseUrl'>>;
  ambiguousCreateSettleMs?: number;
}

/** Validates the options, resolves everything against the API, and returns the provider. */
export async function createTimewebProvider(
  ctx: ProviderContext,
  opts: CreateTimewebProviderOptions = {},
): Promise<TimewebProvider> {
  const values = readTimewebOptions(ctx.values);
  const client =
    opts.client ??
    // Several pools: one client, so one rate limiter per endpoint for all of them.
    (ctx.sibling instanceof TimewebProvider ? ctx.sibling.client : undefined) ??
    new TimewebClient({
      // --request-timeout and the metrics hook, as for the Woodpecker client; explicit clientOptions win.
      ...(ctx.requestTimeout !== undefined ? { timeoutMs: ctx.requestTimeout } : {}),
      ...(ctx.onRequest !== undefined ? { onRequest: ctx.onRequest } : {}),
      ...(opts.clientOptions ?? {}),
      baseUrl: values.apiUrl,
      token: values.apiToken,
      fetch: ctx.fetch,
      clock: ctx.clock,
      random: ctx.random,
    });
  const settings = await resolveTimewebSettings(client, values, ctx.logger, ctx.signal);
  ctx.logger.info(
    `timewebcloud: agents will run ${settings.osDescription} on ${settings.candidates.map((c) => c.description).join(', then ')}` +
      `${settings.publicIp ? ' with a public IPv4' : ' without a public IP'}; billing ${settings.billingModel}`,
  );
  const deps: TimewebProviderDeps = {
    client,
    settings,
    poolId: ctx.poolId,
    installationId: ctx.installationId,
    clock: ctx.clock,
    logger: ctx.logger,
  };
  if (opts.ambiguousCreateSettleMs !== undefined) deps.ambiguousCreateSettleMs = opts.ambiguousCreateSettleMs;
  return new TimewebProvider(deps);
}

export const timewebCloudProvider: ProviderDefinition = {
  name: TIMEWEB_PROVIDER_NAME,
  description: 'Timeweb Cloud VDS (https://timeweb.cloud)',
  options: timewebOptions,
  create: (ctx) => createTimewebProvider(ctx),
};
