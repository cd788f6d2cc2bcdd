import { agentUserData } from '../assemble.js';
import { validateTemplate } from '../cloudinit/render.js';
import { toCoreConfig } from '../config/core-config.js';
import { formatDuration } from '../config/duration.js';
import { ConfigError } from '../config/types.js';
import type { OptionValues } from '../config/types.js';
import { newAgentName } from '../engine/pool.js';
import type { TimewebClient } from '../providers/timeweb/client.js';
import { readTimewebOptions } from '../providers/timeweb/options.js';
import { isOwnedFloatingIp, isOwnedServer } from '../providers/timeweb/ownership.js';
import type { Owner } from '../providers/timeweb/ownership.js';
import { createTimewebProvider, publicIpv4, serverState } from '../providers/timeweb/provider.js';
import type { TimewebProvider } from '../providers/timeweb/provider.js';
import { HOURS_PER_MONTH } from '../providers/timeweb/resolve.js';
import type { TimewebCandidate } from '../providers/timeweb/resolve.js';
import type { TwFloatingIp, TwServer } from '../providers/timeweb/types.js';
import type { DeployAgent } from '../providers/types.js';
import { WoodpeckerClient } from '../woodpecker/client.js';
import type { WoodpeckerAgent } from '../woodpecker/types.js';
import { describeToolError, makeClient, toolLogger } from './timeweb-common.js';
import type { ToolDeps } from './timeweb-common.js';
import { elapsed, formatPairs, formatTable, money } from './timeweb-format.js';
import { errorMessage } from '../util/guards.js';

/**
 * `twcloud-scaler timeweb test`: creates ONE agent server exactly as the provider does (same flags, same resolution,
 * same create request and cloud-init), reports how long each stage takes, then deletes the server and its public IP —
 * also after Ctrl-C and after any error. Polls gently (default every 5 s), far below Timeweb's 20 requests/s.
 */

export interface TimewebTestOptions {
  /** Resolved option values (core subset + the provider's). */
  values: OptionValues;
  /** Keep the server when the test succeeds. */
  keep: boolean;
  /** Register a real agent on the Woodpecker server (else a throwaway token). */
  registerAgent: boolean;
  /** Wait for the agent's first contact (needs registerAgent). The CLI's default; `--no-wait-agent` turns it off. */
  waitAgent: boolean;
  /** For the server (and the agent) to come up, from the create request. */
  timeoutMs: number;
  /** Status poll interval. */
  pollMs: number;
  /** Provider log lines at info level. */
  verbose: boolean;
  deps: ToolDeps;
}

export interface TimewebTestResult {
  /** 0 ok, 1 failed, 130 interrupted. */
  exitCode: number;
  /** Why it failed (for the error line). */
  message?: string;
  name?: string;
  serverId?: number;
  publicIpv4?: string;
  /** From the create request until up (the agent's first contact with --wait-agent); absent when it never was. */
  upMs?: number;
  /** Left running on purpose (--keep). */
  kept: boolean;
  /** Human names of what was deleted. */
  deleted: string[];
  /** Human names of what is still there although it should not be. */
  left: string[];
}

/** Waiting for floating IPs to become deletable after their server is gone. */
const IP_CLEANUP_MS = 3 * 60_000;
/** Print a "still …" line when nothing changed for this long. */
const QUIET_MS = 60_000;

class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly signal: string) {
    super(`interrupted (${signal})`);
  }
}

type Phase = 'setup' | 'create' | 'wait' | 'cleanup' | 'done';

interface Resource {
  kind: 'server' | 'floating-ip' | 'agent';
  id: string;
  label: string;
}

function hexToken(random: () => number, n = 40): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

function failedHint(status: string): string {
  switch (status) {
    case 'no_paid':
      return ': the account balance is exhausted; top it up in the Timeweb Cloud panel';
    case 'blocked':
    case 'permanent_blocked':
      return ': Timeweb blocked the server or the account; ask Timeweb support';
    case 'off':
      return ': the server is switched off';
    default:
      return '';
  }
}

/** Attached to this server, or to nothing (resource ids of other types — databases, balancers — may be equal). */
function onServerOrFree(ip: TwFloatingIp, s: TwServer): boolean {
  if (ip.resource_id === null) return true;
  return ip.resource_id === s.id && (ip.resource_type === 'server' || ip.resource_type === null);
}

/** Floating IPs attached to a server: by `resource_id`, by the ids the server names, or by address. */
function attachedTo(ip: TwFloatingIp, s: TwServer): boolean {
  if (!onServerOrFree(ip, s)) return false;
  if (ip.resource_id === s.id) return true;
  for (const n of s.networks ?? []) {
    for (const x of n.ips ?? []) {
      if (typeof x.id === 'string' && x.id === ip.id) return true;
      if (ip.ip !== null && x.ip === ip.ip) return true;
    }
  }
  return false;
}

/** Ours to delete: it carries our marker, or no comment at all (a fresh `create_ip` one). */
function ipIsOurs(ip: TwFloatingIp, owner: Owner): boolean {
  return isOwnedFloatingIp(ip, owner) || ip.comment === null || ip.comment.trim() === '';
}

export async function runTimewebTest(o: TimewebTestOptions): Promise<TimewebTestResult> {
  const { deps } = o;
  const clock = deps.clock;
  const core = toCoreConfig(o.values, { requireServer: false });
  const t = readTimewebOptions(o.values);
  if (core.cloudinitTemplate !== '') validateTemplate(core.cloudinitTemplate);
  if (o.registerAgent && core.serverToken === '') {
    throw new ConfigError(
      (o.waitAgent
        ? 'timeweb test waits for the agent to connect, which needs the Woodpecker server'
        : '--register-agent needs the Woodpecker server') +
        ': set --server-url (WOODPECKER_SERVER) and --server-token (WOODPECKER_TOKEN, WOODPECKER_TOKEN_FILE)' +
        (o.waitAgent ? ', or add --no-wait-agent to stop once the server is on' : ''),
    );
  }
  const poolId = core.poolId;
  const print = (s = ''): void => deps.out(`${s}\n`);
  const client: TimewebClient = makeClient(t, core, deps);
  const logger = toolLogger(deps, o.verbose ? 'info' : 'warn');
  const woodpecker = o.registerAgent
    ? new WoodpeckerClient({
        baseUrl: core.serverUrl,
        token: core.serverToken,
        fetch: deps.fetch,
        clock,
        random: deps.random,
        timeoutMs: core.requestTimeout,
      })
    : undefined;

  // ---- Ctrl-C ----
  const stop = new AbortController();
  const cleanupStop = new AbortController();
  let phase: Phase = 'setup';
  let interrupted: string | undefined;
  let cleanupPresses = 0;
  let t0 = clock.now();
  const progress = (msg: string): void => print(`[${elapsed(clock.now() - t0).padStart(7)}] ${msg}`);
  const off = deps.onInterrupt((sig) => {
    if (phase === 'done') return;
    if (phase === 'cleanup') {
      cleanupPresses++;
      if (cleanupPresses === 1) {
        progress(`${sig}: still deleting what the test created; press Ctrl-C again to stop the clean-up and leave it running`);
      } else {
        cleanupStop.abort(new InterruptedError(sig));
      }
      return;
    }
    if (interrupted !== undefined) return;
    interrupted = sig;
    if (phase === 'create') progress(`${sig}: waiting for the create request to answer, then deleting the server …`);
    else if (phase === 'wait') progress(`${sig}: stopping; deleting what the test created …`);
    stop.abort(new InterruptedError(sig));
  });

  try {
    // ---- setup: the provider resolves everything exactly as the daemon does ----
    let provider: TimewebProvider;
    let existing: TwServer[];
    try {
      provider = await createTimewebProvider(
        {
          poolId,
          installationId: core.installationId,
          values: o.values,
          fetch: deps.fetch,
          clock,
          random: deps.random,
          logger: logger.child({ provider: 'timewebcloud' }),
          signal: stop.signal,
          requestTimeout: core.requestTimeout,
        },
        { client },
      );
      existing = await client.listServers(stop.signal);
    } catch (err) {
      if (interrupted !== undefined) {
        return { exitCode: 130, message: `interrupted (${interrupted}) before anything was created`, kept: false, deleted: [], left: [] };
      }
      throw err;
    }
    const settings = provider.settings;
    const name = newAgentName(core, deps.random, new Set(existing.map((s) => s.name)));
    const poolServers = existing.filter((s) => isOwnedServer(s, core));
    const price = provider.price();

    print('Creating ONE Timeweb Cloud server exactly as the autoscaler would, then deleting it (Ctrl-C deletes it too).');
    print();
    print(
      formatPairs([
        ['name', `${name} (pool ${poolId})`],
        ['OS', settings.osDescription],
        ['size', settings.candidates.map((c) => c.description).join('; if unavailable: ')],
        ['price', price ? `≈ ${price.perHour.toFixed(2)} ${price.currency}/hour (${price.parts ? 'server + public IPv4, monthly prices' : 'monthly price'} ÷ ${HOURS_PER_MONTH} h)` : 'not in the API for custom sizes'],
        ['public IP', settings.publicIp ? 'yes (created with the server, deleted with it)' : 'no (--timewebcloud-public-ip=false)'],
        ['SSH keys', settings.sshKeyIds.length > 0 ? settings.sshKeyIds.join(', ') : 'none'],
        ['project', settings.projectId !== undefined ? String(settings.projectId) : 'the default project'],
        [
          'agent',
          woodpecker
            ? `registered on ${core.serverUrl} with no_schedule (takes no workflows), connects to ${core.grpcAddr}`
            : 'dummy (throwaway token, it cannot connect; without --no-wait-agent a real one is registered)',
        ],
        ['timeout', `${formatDuration(o.timeoutMs)} for the server${o.waitAgent ? ' and the agent' : ''} to come up`],
      ]),
    );
    if (poolServers.length > 0) {
      print(
        `Note: pool ${poolId} already has ${poolServers.length} server(s). An autoscaler running with this pool id may remove ` +
          'the test server as one without an agent; use another --pool-id to keep them apart.',
      );
    }
    print();

    // ---- everything below may create billed resources: it ends in the clean-up ----
    const created: Resource[] = [];
    const deleted: string[] = [];
    const deletedIds = new Set<string>();
    let registered: WoodpeckerAgent | undefined;
    let serverId: number | undefined;
    let last: TwServer | undefined;
    let ip: string | undefined;
    let tCreated: number | undefined;
    let tOn: number | undefined;
    let tIp: number | undefined;
    let tAgent: number | undefined;
    let failure: unknown;
    let success = false;

    phase = 'create';
    try {
      let agent: DeployAgent;
      if (woodpecker) {
        registered = await woodpecker.createAgent(name);
        created.push({ kind: 'agent', id: String(registered.id), label: `Woodpecker agent ${name} (id ${registered.id})` });
        await woodpecker.updateAgent({ id: registered.id, name, no_schedule: true });
        progress(`registered agent ${name} (id ${registered.id}) on the Woodpecker server, with no_schedule`);
        agent = { id: registered.id, name, token: registered.token };
      } else {
        agent = { id: 0, name, token: hexToken(deps.random) };
      }
      const userData = agentUserData(core, provider, agent);

      t0 = clock.now();
      progress(`creating server ${name} …`);
      // Not abortable: a create cut off mid-way may still happen on Timeweb's side. Ctrl-C waits for the answer.
      const server = await provider.deploy({ agent, userData });
      tCreated = clock.now();
      serverId = Number(server.id);
      created.push({ kind: 'server', id: server.id, label: `server ${name} (id ${server.id})` });
      progress(`created: id ${server.id}, status ${server.status}`);
      if (interrupted !== undefined) throw new InterruptedError(interrupted);

      // ---- wait for `on` and the public IPv4 ----
      phase = 'wait';
      const deadline = t0 + o.timeoutMs;
      let status = server.status;
      let news = clock.now();
      const see = (st: string, addr: string | undefined): void => {
        if (st !== status) {
          progress(`status ${status} → ${st}`);
          status = st;
          news = clock.now();
        }
        if (st === 'on' && tOn === undefined) tOn = clock.now();
        if (addr !== undefined && ip === undefined) {
          ip = addr;
          tIp = clock.now();
          news = clock.now();
          progress(`public IPv4 ${addr}`);
        }
      };
      see(server.status, server.publicIpv4);
      for (;;) {
        const state = serverState(status);
        if (state === 'failed') throw new Error(`the server ended in status "${status}"${failedHint(status)}`);
        if (state === 'deleting') throw new Error(`the server is being deleted (status "${status}") by someone else`);
        if (state === 'running' && (ip !== undefined || !settings.publicIp)) break;
        const now = clock.now();
        if (now >= deadline) {
          throw new Error(
            `timed out after ${elapsed(o.timeoutMs)}: the server is still "${status}"` +
              (state === 'running' ? ' without a public IPv4' : '') +
              ' (raise --timeout if Timeweb is slow today)',
          );
        }
        if (now - news >= QUIET_MS) {
          progress(`still ${status} …`);
          news = now;
        }
        await clock.sleep(Math.min(o.pollMs, deadline - now), stop.signal);
        const s = await client.getServer(serverId, stop.signal);
        if (!s) throw new Error(`the server (id ${serverId}) disappeared while it was starting`);
        last = s;
        see(s.status, publicIpv4(s));
      }

      // ---- optionally: the agent's first contact ----
      if (o.waitAgent && woodpecker && registered) {
        progress(`waiting for agent ${name} to contact the Woodpecker server …`);
        const id = registered.id;
        news = clock.now();
        for (;;) {
          const a = (await woodpecker.listAgents(stop.signal)).find((x) => x.id === id);
          if (!a) throw new Error(`agent ${name} (id ${id}) is no longer registered on the Woodpecker server`);
          if (a.last_contact > 0) {
            tAgent = clock.now();
            const about = [a.version, a.platform].filter((x) => x !== '').join(', ');
            progress(`agent ${name} contacted the Woodpecker server${about ? ` (${about})` : ''}`);
            break;
          }
          const now = clock.now();
          if (now >= deadline) {
            throw new Error(
              `the agent did not contact the Woodpecker server within ${elapsed(o.timeoutMs)} of the create request. ` +
                `Check that the server reaches --grpc-addr ${core.grpcAddr} (WOODPECKER_GRPC_ADDR)` +
                `${core.grpcSecure ? ' over TLS' : ' (set --grpc-secure for TLS)'}, and read /var/log/cloud-init-output.log ` +
                'on the server (rerun with --keep to log in)',
            );
          }
          if (now - news >= QUIET_MS) {
            progress('still waiting for the agent …');
            news = now;
          }
          await clock.sleep(Math.min(o.pollMs, deadline - now), stop.signal);
        }
      }
      success = true;
    } catch (err) {
      failure = interrupted !== undefined ? new InterruptedError(interrupted) : err;
      if (!(failure instanceof InterruptedError)) progress(`failed: ${describeToolError(failure, t.apiUrl).message}`);
    }
    const tEnd = clock.now();

    // ---- clean-up (unless --keep after a success) ----
    const kept = success && o.keep;
    let cleanupError: unknown;
    let tCleaned: number | undefined;
    const left: string[] = [];
    if (!kept) {
      phase = 'cleanup';
      const signal = cleanupStop.signal;
      const markDeleted = (r: Resource): void => {
        if (deletedIds.has(`${r.kind}:${r.id}`)) return;
        deletedIds.add(`${r.kind}:${r.id}`);
        deleted.push(r.label);
      };
      try {
        // Our servers by this name (name pattern AND marker): what the provider's remove deletes.
        const ours = (await client.listServers(signal)).filter((s) => s.name === name && isOwnedServer(s, core));
        if (serverId !== undefined && !ours.some((s) => s.id === serverId)) {
          // Just created and not listed yet: the server itself still tells which IPs are its own.
          const s = await client.getServer(serverId, signal);
          if (s && isOwnedServer(s, core)) ours.push(s);
        }
        for (const s of ours) {
          if (!created.some((r) => r.kind === 'server' && r.id === String(s.id))) {
            created.push({ kind: 'server', id: String(s.id), label: `server ${name} (id ${s.id})` });
          }
        }
        if (ours.length > 0 || serverId !== undefined) {
          progress(`deleting server ${name}${serverId !== undefined ? ` (id ${serverId})` : ''} and its public IP …`);
          const fips = ours.length > 0 ? await client.listFloatingIps(signal) : [];
          // As the provider does: an IP with somebody else's comment was not created by us and is left alone.
          const attached = fips.filter((x) => ours.some((s) => attachedTo(x, s)));
          const ips = attached.filter((x) => ipIsOurs(x, core));
          for (const x of attached.filter((y) => !ipIsOurs(y, core))) {
            progress(`floating IP ${x.ip ?? x.id} has a foreign comment; it is not ours and is left alone`);
          }
          for (const x of ips) created.push({ kind: 'floating-ip', id: x.id, label: `floating IP ${x.ip ?? x.id}` });
          await removeServer(provider, client, name, serverId, ours, signal, o.pollMs, clock, markDeleted, created, left);
          await removeIps(client, ips, ours, signal, o.pollMs, clock, markDeleted, left);
        }
      } catch (err) {
        cleanupError = err;
      }
      if (woodpecker && registered) {
        const r: Resource = { kind: 'agent', id: String(registered.id), label: `Woodpecker agent ${name} (id ${registered.id})` };
        try {
          const res = await woodpecker.deleteAgent(registered.id, signal);
          if (res === 'has-running-tasks') left.push(`${r.label}: it still runs a task`);
          else markDeleted(r);
        } catch (err) {
          cleanupError ??= err;
        }
      }
      tCleaned = clock.now();
      if (cleanupError !== undefined) {
        const why =
          cleanupError instanceof InterruptedError || cleanupError instanceof ConfigError
            ? cleanupError.message
            : describeToolError(cleanupError, t.apiUrl).message;
        progress(`clean-up failed: ${why}`);
      }
      // Whatever was created and is not confirmed deleted is left behind.
      for (const r of created) {
        if (!deletedIds.has(`${r.kind}:${r.id}`) && !left.some((l) => l.startsWith(r.label))) left.push(r.label);
      }
      if (deleted.length > 0) progress(`deleted ${deleted.join(', ')}`);
      else if (created.length === 0) progress('nothing was created, nothing to delete');
    }
    phase = 'done';

    // ---- summary ----
    const at = (x: number | undefined): string => (x === undefined ? '-' : elapsed(x - t0));
    const took = (x: number | undefined, prev: number | undefined): string =>
      x === undefined || prev === undefined ? '' : elapsed(x - prev);
    const stepRows: string[][] = [
      ['create request answered', at(tCreated), took(tCreated, t0)],
      ['status "on"', at(tOn), tOn !== undefined ? took(tOn, tCreated) : ''],
      [
        'public IPv4',
        at(tIp),
        tIp !== undefined ? took(tIp, tOn ?? tCreated) : settings.publicIp ? '' : 'not requested (--timewebcloud-public-ip=false)',
      ],
      [
        'agent first contact',
        at(tAgent),
        tAgent !== undefined ? took(tAgent, tIp ?? tOn) : o.waitAgent ? '' : 'not waited (--no-wait-agent)',
      ],
      kept
        ? ['clean-up', '-', 'kept (--keep)']
        : [left.length > 0 ? 'clean-up ended (incomplete)' : 'clean-up done', at(tCleaned), took(tCleaned, tEnd)],
    ];
    print();
    print('Summary');
    print(formatTable([{ header: 'STEP' }, { header: 'AT', right: true }, { header: 'TOOK' }], stepRows, '  '));
    print();
    const candidate: TimewebCandidate | undefined =
      settings.candidates.find((c) => c.preset !== undefined && c.preset.id === last?.preset_id) ?? settings.candidates[0];
    const where = last ? [last.location, last.availability_zone].filter((x) => x !== undefined && x !== '').join(' / ') : '';
    const pairs: [string, string][] = [];
    pairs.push(['server', serverId !== undefined ? `${name} (id ${serverId})${where ? `, ${where}` : ''}` : `${name}: not created`]);
    if (candidate) pairs.push(['size', candidate.description]);
    if (price && serverId !== undefined) {
      const hours = ((tCleaned ?? tEnd) - t0) / 3_600_000;
      const cost = t.billing === 'hourly' ? Math.max(1, Math.ceil(hours)) * price.perHour : hours * price.perHour;
      const started = Math.max(1, Math.ceil(hours));
      const basis =
        t.billing === 'hourly' ? `hourly billing: ${started} started hour${started === 1 ? '' : 's'}` : 'per-second billing';
      pairs.push([
        'price',
        `≈ ${price.perHour.toFixed(2)} ${price.currency}/hour; this test ≈ ${money(Number(cost.toFixed(2)))} ${price.currency} ` +
          `(${basis}; public IP extra)${kept ? ' so far' : ''}`,
      ]);
    }
    pairs.push(['public IPv4', ip ?? '-']);
    if (!kept) pairs.push(['deleted', deleted.length > 0 ? deleted.join(', ') : '-']);
    if (left.length > 0) pairs.push(['LEFT RUNNING', left.join(', ')]);
    let exitCode = 0;
    let message: string | undefined;
    let verdict: string;
    if (failure instanceof InterruptedError) {
      exitCode = 130;
      verdict = `INTERRUPTED (${failure.signal})`;
      message = `${failure.message}${left.length > 0 ? `; left running: ${left.join(', ')}` : '; everything the test created was deleted'}`;
    } else if (failure !== undefined) {
      exitCode = 1;
      const why = describeToolError(failure, t.apiUrl).message;
      verdict = `FAILED: ${why}`;
      message = `${why}${left.length > 0 ? `; left running: ${left.join(', ')}` : '; everything the test created was deleted'}`;
    } else {
      const upAt = tAgent ?? tIp ?? tOn;
      verdict = `OK: ${o.waitAgent ? 'the agent connected' : 'the server was up'} ${upAt !== undefined ? elapsed(upAt - t0) : '?'} after the create request`;
    }
    if (exitCode === 0 && left.length > 0) {
      exitCode = 1;
      verdict = `CLEAN-UP FAILED: the server came up, but is still there (see below)`;
      message = `the server came up, but the clean-up left: ${left.join(', ')}`;
    }
    pairs.push(['result', verdict]);
    if (exitCode === 0 && o.waitAgent && tAgent !== undefined) {
      // The forecast keeps slots for the arrivals of one boot time: this account's boot, rounded up to 10 s.
      const boot = Math.ceil((tAgent - t0) / 10_000) * 10_000;
      pairs.push(['forecast', `set --boot-time ${formatDuration(boot)} (WOODPECKER_BOOT_TIME=${formatDuration(boot)}) for this boot path; the default is 2m`]);
    }
    print(formatPairs(pairs));

    const remaining = kept ? [...created] : created.filter((r) => !deletedIds.has(`${r.kind}:${r.id}`));
    if (kept && serverId !== undefined) {
      // The IPs as they are now, for the deletion hints.
      try {
        const fips = (await client.listFloatingIps()).filter((x) => x.resource_id === serverId || (ip !== undefined && x.ip === ip));
        for (const x of fips) remaining.push({ kind: 'floating-ip', id: x.id, label: `floating IP ${x.ip ?? x.id}` });
      } catch {
        // hints only
      }
    }
    if (remaining.length > 0) printLeftovers(print, remaining, t.apiUrl, kept, poolId);
    return {
      exitCode,
      ...(message !== undefined ? { message } : {}),
      name,
      ...(serverId !== undefined ? { serverId } : {}),
      ...(ip !== undefined ? { publicIpv4: ip } : {}),
      ...(failure === undefined && (tAgent ?? tIp ?? tOn) !== undefined ? { upMs: (tAgent ?? tIp ?? tOn ?? t0) - t0 } : {}),
      kept,
      deleted,
      left,
    };
  } finally {
    phase = 'done';
    off();
  }
}

/** Deletes the server through the provider (ownership checked there); retries while a fresh server is not listed yet. */
async function removeServer(
  provider: TimewebProvider,
  client: TimewebClient,
  name: string,
  serverId: number | undefined,
  ours: TwServer[],
  signal: AbortSignal,
  pollMs: number,
  clock: ToolDeps['clock'],
  markDeleted: (r: Resource) => void,
  created: Resource[],
  left: string[],
): Promise<void> {
  const deadline = clock.now() + IP_CLEANUP_MS;
  for (;;) {
    const r = await provider.remove(name, signal);
    if (r === 'removed') {
      for (const s of ours) markDeleted({ kind: 'server', id: String(s.id), label: `server ${name} (id ${s.id})` });
      const known = created.find((x) => x.kind === 'server' && x.id === String(serverId));
      if (known && !ours.some((s) => String(s.id) === known.id)) markDeleted(known);
      return;
    }
    if (serverId === undefined) return;
    const s = await client.getServer(serverId, signal);
    if (!s || s.status === 'removed' || s.status === 'removing') {
      markDeleted({ kind: 'server', id: String(serverId), label: `server ${name} (id ${serverId})` });
      return;
    }
    if (clock.now() >= deadline) {
      left.push(`server ${name} (id ${serverId}): not in the server list, so it could not be deleted safely`);
      return;
    }
    await clock.sleep(pollMs, signal);
  }
}

/** Makes sure the server's floating IPs are gone (they outlive the server); retries while they are still attached. */
async function removeIps(
  client: TimewebClient,
  ips: TwFloatingIp[],
  ours: TwServer[],
  signal: AbortSignal,
  pollMs: number,
  clock: ToolDeps['clock'],
  markDeleted: (r: Resource) => void,
  left: string[],
): Promise<void> {
  let pending = ips;
  const deadline = clock.now() + IP_CLEANUP_MS;
  let lastError = '';
  while (pending.length > 0) {
    const now = await client.listFloatingIps(signal);
    const next: TwFloatingIp[] = [];
    for (const p of pending) {
      const r: Resource = { kind: 'floating-ip', id: p.id, label: `floating IP ${p.ip ?? p.id}` };
      const cur = now.find((x) => x.id === p.id);
      if (!cur) {
        markDeleted(r);
        continue;
      }
      if (!ours.some((s) => onServerOrFree(cur, s))) {
        left.push(`${r.label}: now attached to ${cur.resource_type ?? 'a resource'} ${cur.resource_id}, left alone`);
        continue;
      }
      try {
        await client.deleteFloatingIp(p.id, signal);
        markDeleted(r);
      } catch (err) {
        if (signal.aborted) throw err;
        lastError = errorMessage(err);
        next.push(p);
      }
    }
    pending = next;
    if (pending.length === 0) return;
    if (clock.now() >= deadline) {
      for (const p of pending) left.push(`floating IP ${p.ip ?? p.id}: ${lastError}`);
      return;
    }
    await clock.sleep(pollMs, signal);
  }
}

function printLeftovers(print: (s?: string) => void, items: Resource[], apiUrl: string, kept: boolean, poolId: string): void {
  const base = apiUrl.replace(/\/+$/, '');
  print();
  print(kept ? 'Kept (--keep). It is billed until you delete it:' : 'Left running, billed until deleted:');
  for (const r of items) print(`  ${r.label}`);
  const cloud = items.filter((r) => r.kind !== 'agent');
  if (cloud.length > 0) {
    print('Delete it in the Timeweb Cloud panel (the server, then its IP under floating IPs), or with the API:');
    const auth = '-H "Authorization: Bearer $WOODPECKER_TIMEWEBCLOUD_API_TOKEN"';
    for (const r of cloud.filter((x) => x.kind === 'server')) print(`  curl -X DELETE ${auth} ${base}/api/v1/servers/${r.id}`);
    for (const r of cloud.filter((x) => x.kind === 'floating-ip')) {
      print(`  curl -X DELETE ${auth} ${base}/api/v1/floating-ips/${r.id}    # once the server is gone`);
    }
    if (kept && !items.some((x) => x.kind === 'agent')) {
      print(
        `An autoscaler running with --pool-id ${poolId} also removes it after its dangling grace (a pool server without ` +
          'a known agent).',
      );
    }
  }
  for (const r of items.filter((x) => x.kind === 'agent')) {
    print(`Remove ${r.label} in the Woodpecker admin settings (Agents) when you are done.`);
  }
}
