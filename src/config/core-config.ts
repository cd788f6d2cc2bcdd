import type { EngineConfig, Policy } from '../engine/types.js';
import { parseSchedule, type Schedule } from '../engine/schedule.js';
import type { BillingModel } from '../providers/types.js';
import { installationIdProblem, resolveInstallationId } from '../engine/identity.js';
import { coreOptions, schedulePeriods } from './core-options.js';
import { missingOptionError, optionError, valueSource } from './resolve.js';
import { parseGrpcAddr } from './grpc-addr.js';
import { ConfigError } from './types.js';
import type { OptionSpec, OptionValue, OptionValues } from './types.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogFormat = 'auto' | 'json' | 'pretty';

/** The validated core configuration. Durations are milliseconds. */
export interface CoreConfig {
  logLevel: LogLevel;
  logFormat: LogFormat;
  reconciliationInterval: number;
  poolId: string;
  /** Explicit, or derived from serverUrl + poolId (engine/identity.ts). */
  installationId: string;
  /** How the installation id was chosen, for the start-up log. */
  installationIdSource: string;
  minAgents: number;
  maxAgents: number;
  agentInactivityTimeout: number;
  agentIdleTimeout: number;
  agentBillingTeardownMargin: number;
  workflowsPerAgent: number;
  /** No trailing `/`; a path prefix is kept (`https://host/ci`). Empty only when the server is not required. */
  serverUrl: string;
  /** Secret. Empty only when the server is not required. */
  serverToken: string;
  grpcAddr: string;
  grpcSecure: boolean;
  /** `''` when not given; the registry decides whether the name is known. */
  provider: string;
  /** `''` = the built-in template. From cloudinit-template or its 1.1-1.5 name provider-user-data. */
  cloudinitTemplate: string;
  /** Count only the queue's tasks with this label (Go autoscaler 1.5.0 `--filter-labels`); undefined = all. */
  filterLabels: LabelFilter | undefined;
  agentImage: string;
  /** Parsed `agent-env`, insertion order; a repeated key keeps the last value. */
  agentEnv: Record<string, string>;
  /** Parsed `agent-labels`, insertion order; a repeated key keeps the last value. */
  agentLabels: Record<string, string>;
  policy: Policy;
  /** 0 = no fast queue poll. */
  queuePollInterval: number;
  /** Wake the queue poll on the server's pipeline events (default policy only). */
  eventStream: boolean;
  minIdleSlots: number;
  forecast: boolean;
  bootTime: number;
  schedules: Schedule[];
  timeZone: string;
  /** The daemon's caps: with several pools, of all pools together. */
  budgetDaily: number | undefined;
  budgetMonthly: number | undefined;
  /** Where the budget's ledger survives restarts (src/engine/ledger-store.ts); undefined = in memory only. */
  stateFile: string | undefined;
  /** Several pools: this pool's own caps from the pools file (in addition to the daemon's). */
  poolBudget?: { daily?: number; monthly?: number };
  /** Resolved: a configured 0 becomes 2 × reconciliationInterval. */
  danglingGrace: number;
  requestTimeout: number;
  /** `host:port` to listen on; undefined when the listener is off. */
  httpAddr: string | undefined;
  /** Secret. Undefined when not set or empty. */
  httpToken: string | undefined;
  dryRun: boolean;
  once: boolean;
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];
const POLICIES: readonly Policy[] = ['default', 'upstream'];

function spec(key: string): OptionSpec {
  const s = coreOptions.find((o) => o.key === key);
  if (s === undefined) throw new Error(`no core option ${key}`);
  return s;
}

/** A ConfigError for `key` naming the flag or env var that supplied the value (all its names for a default). */
function bad(values: OptionValues, key: string, reason: string): ConfigError {
  return optionError(spec(key), reason, valueSource(values, key));
}

function raw(values: OptionValues, key: string): OptionValue | undefined {
  return values[key] ?? spec(key).default;
}

function str(values: OptionValues, key: string): string {
  const v = raw(values, key);
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad(values, key, `expected a string, got ${typeof v}`);
  return v;
}

function num(values: OptionValues, key: string): number {
  const v = raw(values, key);
  if (typeof v !== 'number') throw bad(values, key, `expected a number, got ${typeof v}`);
  return v;
}

function optionalNum(values: OptionValues, key: string): number | undefined {
  return raw(values, key) === undefined ? undefined : num(values, key);
}

function bool(values: OptionValues, key: string): boolean {
  const v = raw(values, key);
  if (typeof v !== 'boolean') throw bad(values, key, `expected a boolean, got ${typeof v}`);
  return v;
}

function list(values: OptionValues, key: string): string[] {
  const v = raw(values, key);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(values, key, `expected a list, got ${typeof v}`);
  return v;
}

function oneOf<T extends string>(values: OptionValues, key: string, allowed: readonly T[]): T {
  const v = str(values, key);
  const found = allowed.find((a) => a === v);
  if (found === undefined) {
    throw bad(values, key, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  }
  return found;
}

function duration(values: OptionValues, key: string, opts: { positive?: boolean } = {}): number {
  const v = num(values, key);
  if (opts.positive ? !(v > 0) : !(v >= 0)) {
    throw bad(values, key, `must be ${opts.positive ? 'greater than 0' : '0 or more'}`);
  }
  return v;
}

/**
 * Splits `KEY=VALUE` entries at the first `=` (value may contain `=`), trims both sides; an empty key or value
 * is an error. A repeated key keeps the last value.
 */
function keyValues(values: OptionValues, key: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of list(values, key)) {
    const at = entry.indexOf('=');
    const k = at < 0 ? '' : entry.slice(0, at).trim();
    const v = at < 0 ? '' : entry.slice(at + 1).trim();
    if (k === '' || v === '') {
      throw bad(values, key, `invalid ${what} variable: ${JSON.stringify(entry)} (expected KEY=VALUE)`);
    }
    out[k] = v;
  }
  return out;
}

function logLevel(values: OptionValues): LogLevel {
  const v = str(values, 'logLevel').trim().toLowerCase();
  const level = v === 'panic' ? 'fatal' : LOG_LEVELS.find((l) => l === v);
  if (level === undefined) {
    throw bad(values, 'logLevel', `unknown log level ${JSON.stringify(str(values, 'logLevel'))} (use ${LOG_LEVELS.join(', ')})`);
  }
  return level;
}

function serverUrl(values: OptionValues, required: boolean): string {
  const s = spec('serverUrl');
  const v = str(values, 'serverUrl').trim().replace(/\/+$/, '');
  if (v === '') {
    if (required) throw missingOptionError(s, 'please provide the woodpecker server address');
    return '';
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw bad(values, 'serverUrl', `${JSON.stringify(v)} is not a URL (expected e.g. https://ci.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw bad(values, 'serverUrl', `${JSON.stringify(v)} must start with http:// or https://`);
  }
  if (url.hostname === '') throw bad(values, 'serverUrl', `${JSON.stringify(v)} has no host`);
  if (url.search !== '' || url.hash !== '') {
    throw bad(values, 'serverUrl', `${JSON.stringify(v)} must not contain a query or fragment`);
  }
  return v;
}

/** A parsed `host:port`. `host` is without brackets and may be empty (all interfaces). */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses a listen address `host:port`, `[ipv6]:port` or `:port` (all interfaces).
 * @throws Error saying what is wrong (without a flag name).
 */
export function parseHostPort(addr: string): HostPort {
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0 || addr[close + 1] !== ':') throw new Error(`${JSON.stringify(addr)} is not host:port`);
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw new Error(`${JSON.stringify(addr)} is not host:port (missing port)`);
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (host.includes(':')) throw new Error(`${JSON.stringify(addr)} is not host:port (write IPv6 as [addr]:port)`);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new Error(`${JSON.stringify(addr)} has an invalid port`);
  if (/\s/.test(host)) throw new Error(`${JSON.stringify(addr)} has an invalid host`);
  return { host, port };
}

/**
 * True when the address (`host:port` or a bare host) only listens on loopback: `localhost`, `127.0.0.0/8`, `::1`.
 * An empty host (`:8080`, all interfaces) is not loopback.
 */
export function isLoopbackAddr(addr: string): boolean {
  let host: string;
  try {
    host = parseHostPort(addr).host;
  } catch {
    host = addr.replace(/^\[(.*)\]$/, '$1');
  }
  host = host.toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((x) => Number(x) <= 255);
}

function httpAddr(values: OptionValues): string | undefined {
  const v = str(values, 'httpAddr').trim();
  if (v === '' || v.toLowerCase() === 'off') return undefined;
  try {
    parseHostPort(v);
  } catch (err) {
    throw bad(values, 'httpAddr', `${(err as Error).message}; use e.g. 127.0.0.1:8080, or off`);
  }
  return v;
}

function installationId(values: OptionValues, url: string, pool: string): string {
  const v = str(values, 'installationId').trim();
  const problem = v === '' ? undefined : installationIdProblem(v);
  if (problem !== undefined) throw optionError(spec('installationId'), problem);
  return resolveInstallationId(v, url, pool);
}

function poolId(values: OptionValues): string {
  const v = str(values, 'poolId');
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(v)) {
    throw bad(
      values,
      'poolId',
      `${JSON.stringify(v)} is not a valid pool ID (letters, digits, '-' and '_', starting with a letter or digit)`,
    );
  }
  return v;
}

function grpcAddr(values: OptionValues): string {
  const v = str(values, 'grpcAddr').trim();
  const parsed = parseGrpcAddr(v);
  if (typeof parsed === 'string') throw bad(values, 'grpcAddr', parsed);
  return v;
}

/** The label filter of the Go autoscaler 1.5.0: one `key=value`, cut at the first `=` (neither side trimmed). */
export interface LabelFilter {
  key: string;
  value: string;
}

function filterLabels(values: OptionValues): LabelFilter | undefined {
  const v = str(values, 'filterLabels');
  if (v === '') return undefined;
  const at = v.indexOf('=');
  if (at < 0) throw bad(values, 'filterLabels', `invalid labels filter: ${v} (expected one key=value)`);
  return { key: v.slice(0, at), value: v.slice(at + 1) };
}

/**
 * The user-data template: `cloudinit-template` (the Go autoscaler's main) or `provider-user-data` (1.1-1.5); both
 * were checked while resolving (`spec.validate`). Two different non-empty templates are an error naming both.
 */
function template(values: OptionValues): string {
  const a = str(values, 'cloudinitTemplate');
  const b = str(values, 'providerUserData');
  if (a !== '' && b !== '' && a !== b) {
    const where = (key: string): string => valueSource(values, key) ?? `--${spec(key).flag}`;
    throw new ConfigError(
      `both ${where('cloudinitTemplate')} and ${where('providerUserData')} are set, to different templates: ` +
        'set only one (they are two names of the same setting)',
    );
  }
  return a !== '' ? a : b;
}

/** Options for {@link toCoreConfig}. */
export interface ToCoreConfigOptions {
  /** Require server-url and server-token (default true; false for commands that never call the server). */
  requireServer?: boolean;
}

/**
 * Validates resolved values (from `resolveOptions(coreOptions, …)`; a missing key means its default) and
 * builds the typed core configuration. Not checked here: whether the provider name is known (the registry
 * does that), and a non-loopback http-addr without http-token (the HTTP server refuses admin calls then).
 * @throws ConfigError naming the flag and its env vars.
 */
export function toCoreConfig(values: OptionValues, opts: ToCoreConfigOptions = {}): CoreConfig {
  const requireServer = opts.requireServer ?? true;

  const minAgents = num(values, 'minAgents');
  const maxAgents = num(values, 'maxAgents');
  const workflowsPerAgent = num(values, 'workflowsPerAgent');
  if (!Number.isInteger(workflowsPerAgent) || workflowsPerAgent < 1) {
    throw bad(values, 'workflowsPerAgent', `must be at least 1, got ${workflowsPerAgent}`);
  }
  if (!Number.isInteger(minAgents) || minAgents < 0) {
    throw bad(values, 'minAgents', `must be 0 or more, got ${minAgents}`);
  }
  if (!Number.isInteger(maxAgents) || maxAgents < 1) {
    throw bad(values, 'maxAgents', `must be at least 1, got ${maxAgents}`);
  }
  if (minAgents > maxAgents) {
    throw bad(values, 'minAgents', `${minAgents} is greater than --max-agents (WOODPECKER_MAX_AGENTS) ${maxAgents}`);
  }

  const reconciliationInterval = duration(values, 'reconciliationInterval', { positive: true });
  const configuredGrace = duration(values, 'danglingGrace');

  const serverToken = str(values, 'serverToken');
  if (serverToken === '' && requireServer) {
    throw missingOptionError(spec('serverToken'), 'please provide a woodpecker access token');
  }

  const agentEnv = keyValues(values, 'agentEnv', 'agent environment');
  if ('WOODPECKER_AGENT_LABELS' in agentEnv) {
    throw bad(
      values,
      'agentEnv',
      `'WOODPECKER_AGENT_ENV' has forbidden env var set: "WOODPECKER_AGENT_LABELS" (use --agent-labels)`,
    );
  }
  const agentLabels = keyValues(values, 'agentLabels', 'agent labels');
  const httpToken = str(values, 'httpToken');

  const pool = poolId(values);
  const url = serverUrl(values, requireServer);
  return {
    logLevel: logLevel(values),
    logFormat: oneOf(values, 'logFormat', LOG_FORMATS),
    reconciliationInterval,
    poolId: pool,
    installationId: installationId(values, url, pool),
    installationIdSource:
      str(values, 'installationId').trim() !== '' ? 'set with --installation-id' : 'derived from --server-url and --pool-id',
    minAgents,
    maxAgents,
    agentInactivityTimeout: duration(values, 'agentInactivityTimeout'),
    agentIdleTimeout: duration(values, 'agentIdleTimeout'),
    agentBillingTeardownMargin: duration(values, 'agentBillingTeardownMargin'),
    workflowsPerAgent,
    serverUrl: url,
    serverToken,
    grpcAddr: grpcAddr(values),
    grpcSecure: bool(values, 'grpcSecure'),
    provider: str(values, 'provider').trim(),
    cloudinitTemplate: template(values),
    filterLabels: filterLabels(values),
    agentImage: str(values, 'agentImage'),
    agentEnv,
    agentLabels,
    policy: oneOf(values, 'policy', POLICIES),
    queuePollInterval: duration(values, 'queuePollInterval'),
    eventStream: bool(values, 'eventStream'),
    minIdleSlots: num(values, 'minIdleSlots'),
    forecast: bool(values, 'forecast'),
    bootTime: duration(values, 'bootTime', { positive: true }),
    schedules: schedulePeriods(str(values, 'schedule')).map((text) => parseSchedule(text)),
    timeZone: str(values, 'timeZone'),
    budgetDaily: optionalNum(values, 'budgetDaily'),
    budgetMonthly: optionalNum(values, 'budgetMonthly'),
    stateFile: str(values, 'stateFile').trim() || undefined,
    danglingGrace: configuredGrace === 0 ? 2 * reconciliationInterval : configuredGrace,
    requestTimeout: duration(values, 'requestTimeout', { positive: true }),
    httpAddr: httpAddr(values),
    httpToken: httpToken === '' ? undefined : httpToken,
    dryRun: bool(values, 'dryRun'),
    once: bool(values, 'once'),
  };
}

/** Arrivals older than this do not count for the forecast. */
export const FORECAST_WINDOW_MS = 30 * 60_000;

/**
 * The engine's slice of the core configuration, plus the provider's billing model and price (the budget needs the
 * price: a cap without one is a configuration error).
 */
export function engineConfigFrom(
  core: CoreConfig,
  billingModel: BillingModel,
  price?: { perHour: number; currency: string },
): EngineConfig {
  const warm =
    core.policy === 'default' && (core.minIdleSlots > 0 || core.schedules.length > 0 || core.forecast)
      ? {
          minIdleSlots: core.minIdleSlots,
          schedules: core.schedules,
          timeZone: core.timeZone,
          ...(core.forecast ? { forecast: { windowMs: FORECAST_WINDOW_MS, horizonMs: core.bootTime } } : {}),
        }
      : undefined;
  const own = core.poolBudget;
  const ownCapped = own !== undefined && (own.daily !== undefined || own.monthly !== undefined);
  const capped = core.budgetDaily !== undefined || core.budgetMonthly !== undefined || ownCapped;
  if (capped && !(price && price.perHour > 0)) {
    throw optionError(
      spec(core.budgetDaily !== undefined || own?.daily !== undefined ? 'budgetDaily' : 'budgetMonthly'),
      'a budget needs the price of a server, and the provider gave none',
    );
  }
  const budget =
    capped && price
      ? {
          ...(core.budgetDaily !== undefined ? { daily: core.budgetDaily } : {}),
          ...(core.budgetMonthly !== undefined ? { monthly: core.budgetMonthly } : {}),
          ...(ownCapped ? { pool: { ...own } } : {}),
          timeZone: core.timeZone,
          perHour: price.perHour,
          currency: price.currency,
        }
      : undefined;
  return {
    policy: core.policy,
    poolId: core.poolId,
    installationId: core.installationId,
    minAgents: core.minAgents,
    maxAgents: core.maxAgents,
    workflowsPerAgent: core.workflowsPerAgent,
    reconciliationInterval: core.reconciliationInterval,
    agentInactivityTimeout: core.agentInactivityTimeout,
    agentIdleTimeout: core.agentIdleTimeout,
    agentBillingTeardownMargin: core.agentBillingTeardownMargin,
    danglingGrace: core.danglingGrace,
    billingModel,
    ...(core.filterLabels !== undefined ? { filterLabels: core.filterLabels } : {}),
    ...(warm ? { warm } : {}),
    ...(budget ? { budget } : {}),
  };
}
