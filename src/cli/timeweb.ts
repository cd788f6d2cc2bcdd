import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { addOptions, cliValues } from '../config/commander.js';
import { toCoreConfig } from '../config/core-config.js';
import { coreOptions } from '../config/core-options.js';
import { parseGoDuration } from '../config/duration.js';
import { loadDotEnv, resolveOptions } from '../config/resolve.js';
import type { CliValues } from '../config/resolve.js';
import { ConfigError } from '../config/types.js';
import type { OptionSpec, OptionValues } from '../config/types.js';
import { TimewebApiError } from '../providers/timeweb/client.js';
import type { TimewebClient } from '../providers/timeweb/client.js';
import { readTimewebOptions, timewebOptions } from '../providers/timeweb/options.js';
import type { TimewebOptionValues } from '../providers/timeweb/options.js';
import { classifyServer, foreignReason, isOwnedServer, parseMarker, MARKER_PREFIX } from '../providers/timeweb/ownership.js';
import type { Owner, Ownership } from '../providers/timeweb/ownership.js';
import { publicIpv4 } from '../providers/timeweb/provider.js';
import {
  HOURS_PER_MONTH,
  osLabel,
  osRequirements,
  resolveOs,
  resolveTimewebSettings,
} from '../providers/timeweb/resolve.js';
import type { TwOs, TwPreset, TwServer } from '../providers/timeweb/types.js';
import { systemClock } from '../util/clock.js';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { silentLogger } from '../observability/logger.js';
import { describeToolError, makeClient } from './timeweb-common.js';
import type { ToolDeps } from './timeweb-common.js';
import { formatTable, gbNumber, gbText, listOrDash, money, utcMinute } from './timeweb-format.js';
import { runTimewebTest } from './timeweb-test.js';
import { listImagesOutput, registerImageCommands, runBootComparison } from './timeweb-image.js';
import { errorMessage } from '../util/guards.js';

export { describeToolError } from './timeweb-common.js';
export type { ToolDeps } from './timeweb-common.js';

/**
 * `twcloud-scaler timeweb list …` and `twcloud-scaler timeweb test`: the first commands a new user runs, to find
 * OS / preset / zone values for the configuration and to check that the account can create (and delete) an agent
 * server. They take the same `--timewebcloud-*` flags and `WOODPECKER_TIMEWEBCLOUD_*` variables as the daemon.
 */

export interface TimewebCliIo {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Standard output. Default: process.stdout. */
  stdout?: (s: string) => void;
  /** Where provider log lines go. Default: the logger's default (stderr, human-readable on a terminal). */
  stderr?: (s: string) => void;
  /** Outer-edge defaults: global fetch, the system clock, Math.random, fs.readFileSync. */
  fetch?: FetchFn;
  clock?: Clock;
  random?: RandomFn;
  readFile?: (path: string) => string;
  /**
   * Subscribes to Ctrl-C (SIGINT) and SIGTERM; returns an unsubscribe function. Default: the process signals
   * (while a handler is installed the process does not exit on them, so `timeweb test` can clean up first).
   */
  onInterrupt?: (handler: (signal: string) => void) => () => void;
}

export const LIST_KINDS = ['os', 'presets', 'configurators', 'zones', 'ssh-keys', 'projects', 'servers', 'images'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

const KIND_ALIASES: Readonly<Record<string, ListKind>> = {
  locations: 'zones',
  'availability-zones': 'zones',
  keys: 'ssh-keys',
  'ssh-key': 'ssh-keys',
  sshkeys: 'ssh-keys',
  image: 'images',
  preset: 'presets',
  configurator: 'configurators',
  project: 'projects',
  server: 'servers',
};

function coreSpec(key: string): OptionSpec {
  const s = coreOptions.find((o) => o.key === key);
  if (!s) throw new Error(`no core option ${key}`);
  return s;
}

/**
 * Options of `timeweb list`: the pool id, server URL and installation id (whose servers are ours, for `servers`), the
 * request timeout, and the provider's flags.
 */
export function listSpecs(): OptionSpec[] {
  return [coreSpec('poolId'), coreSpec('serverUrl'), coreSpec('installationId'), coreSpec('requestTimeout'), ...timewebOptions];
}

/** Options of `timeweb test`: what the daemon uses to create an agent server (pool, cloud-init, server) + provider. */
export function testSpecs(): OptionSpec[] {
  const keys = [
    'poolId',
    'installationId',
    'serverUrl',
    'serverToken',
    'requestTimeout',
    'grpcAddr',
    'grpcSecure',
    'agentImage',
    'agentEnv',
    'agentLabels',
    'workflowsPerAgent',
    'cloudinitTemplate',
    'providerUserData',
  ];
  return [...keys.map(coreSpec), ...timewebOptions];
}

function defaultInterrupt(handler: (signal: string) => void): () => void {
  const onInt = (): void => handler('SIGINT');
  const onTerm = (): void => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

function toolDeps(io: TimewebCliIo): ToolDeps {
  return {
    env: io.env,
    cwd: io.cwd,
    out: io.stdout ?? ((s: string) => void process.stdout.write(s)),
    stderr: io.stderr,
    fetch: io.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: io.clock ?? systemClock,
    random: io.random ?? Math.random,
    readFile: io.readFile ?? ((p: string) => readFileSync(p, 'utf8')),
    onInterrupt: io.onInterrupt ?? defaultInterrupt,
  };
}

/**
 * Option values for a (sub)command: its own flags, then the same flags given to its parents (the root program
 * defines every option too), then the environment (with `.env` from the working directory), then defaults.
 */
export function resolveToolValues(cmd: Command, specs: readonly OptionSpec[], deps: ToolDeps): OptionValues {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
  const cli: CliValues = {};
  for (const c of chain) Object.assign(cli, cliValues(c, specs));
  const env = loadDotEnv(deps.env, deps.cwd, deps.readFile);
  return resolveOptions(specs, { cli, env, readFile: deps.readFile });
}

// ---- errors ---------------------------------------------------------------------------------------------------------

function fail(cmd: Command, err: unknown, apiUrl?: string): never {
  const { message, exitCode } = describeToolError(err, apiUrl);
  cmd.error(`twcloud-scaler timeweb: ${message}`, { exitCode, code: 'twcloud.timeweb' });
}

// ---- list -------------------------------------------------------------------------------------------------------------

export interface ListFilters {
  location?: string;
  minCpu?: number;
  /** MB */
  minRamMb?: number;
}

export interface ListOutput {
  /** Printed with --json. Secrets (root/vnc passwords, user-data) are removed. */
  json: unknown;
  /** The human-readable table and notes. */
  text: string;
}

/** `--min-ram`: GB (`4`, `0.5`, `4G`, `4GB`) or MB (`4096`, `4096M`, `4096MB`); plain numbers above 256 are MB. */
export function parseRamFilter(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(g|gb|gib|m|mb|mib)?\s*$/i.exec(s);
  if (!m) throw new ConfigError(`--min-ram: "${s}" is not a size (e.g. 4 or 4GB, or 4096MB)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  if (unit.startsWith('m')) return n;
  if (unit.startsWith('g')) return n * 1024;
  return n > 256 ? n : n * 1024;
}

function parseCpuFilter(s: string): number {
  if (!/^\s*\d+\s*$/.test(s) || Number(s) < 1) throw new ConfigError(`--min-cpu: "${s}" is not a whole number of at least 1`);
  return Number(s);
}

interface ListContext {
  client: TimewebClient;
  t: TimewebOptionValues;
  poolId: string;
  installationId: string;
  filters: ListFilters;
  clock: Clock;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function filterText(f: ListFilters): string {
  const parts: string[] = [];
  if (f.location !== undefined) parts.push(`location ${f.location}`);
  if (f.minCpu !== undefined) parts.push(`≥ ${f.minCpu} CPU`);
  if (f.minRamMb !== undefined) parts.push(`≥ ${gbText(f.minRamMb)} RAM`);
  return parts.join(', ');
}

function checkLocation(known: readonly string[], f: ListFilters): void {
  if (f.location !== undefined && known.length > 0 && !known.includes(f.location)) {
    throw new ConfigError(`--location: no location ${f.location}; known: ${[...new Set(known)].sort().join(', ')}`);
  }
}

async function listPresets(c: ListContext): Promise<ListOutput> {
  const all = await c.client.listPresets();
  checkLocation(
    all.map((p) => p.location),
    c.filters,
  );
  const f = c.filters;
  const shown = all
    .filter((p) => f.location === undefined || p.location === f.location)
    .filter((p) => f.minCpu === undefined || p.cpu >= f.minCpu)
    .filter((p) => f.minRamMb === undefined || p.ram >= f.minRamMb)
    .sort((a, b) => (a.price ?? Infinity) - (b.price ?? Infinity) || a.id - b.id);

  // What the provider itself would use with the current settings (the same resolution the daemon runs at start).
  const marks = new Map<number, string>();
  const notes: string[] = [];
  try {
    const settings = await resolveTimewebSettings(c.client, c.t, silentLogger());
    if (c.t.configuration !== undefined) {
      notes.push(
        `A custom size is configured (--timewebcloud-configuration): ${settings.candidates.map((x) => x.description).join(', ')}; presets are not used.`,
      );
    } else if (c.t.presets.length > 0) {
      settings.candidates.forEach((cand, i) => {
        if (cand.preset && !marks.has(cand.preset.id)) marks.set(cand.preset.id, `#${i + 1}`);
      });
      notes.push(
        `#1, #2, … = the presets configured with --timewebcloud-preset-id (WOODPECKER_TIMEWEBCLOUD_PRESET_ID), tried in that order.`,
      );
    } else {
      const chosen = settings.candidates[0]?.preset;
      if (chosen) {
        marks.set(chosen.id, 'auto');
        const where = c.t.location !== undefined ? ` in ${c.t.location}` : '';
        notes.push(
          `auto = the preset the autoscaler picks when WOODPECKER_TIMEWEBCLOUD_PRESET_ID is not set: the cheapest${where} with ` +
            `≥ ${c.t.minCpu} CPU and ≥ ${gbText(c.t.minRam)} RAM (--timewebcloud-min-cpu / --timewebcloud-min-ram) that meets ` +
            `the minimums of ${settings.osDescription}${shown.some((p) => p.id === chosen.id) ? '' : ` (preset ${chosen.id}, hidden by the filters)`}.`,
        );
      }
    }
  } catch (err) {
    if (err instanceof TimewebApiError && err.status === 401) throw err;
    const msg = errorMessage(err);
    notes.push(`With the current settings the autoscaler would NOT start: ${msg}`);
  }

  const rows = shown.map((p) => [
    marks.get(p.id) ?? '',
    String(p.id),
    p.location,
    String(p.cpu),
    gbNumber(p.ram),
    `${gbNumber(p.disk)}${p.disk_type ? ` ${p.disk_type}` : ''}`,
    typeof p.bandwidth === 'number' ? String(p.bandwidth) : '-',
    typeof p.price === 'number' ? money(p.price) : '-',
    typeof p.price === 'number' ? (p.price / HOURS_PER_MONTH).toFixed(2) : '-',
    presetDescription(p),
  ]);
  const head =
    `${plural(all.length, 'preset')}` +
    (shown.length !== all.length ? `, ${shown.length} shown (${filterText(f)})` : '') +
    ', cheapest first. Prices in RUB.';
  const table = formatTable(
    [
      { header: 'USE' },
      { header: 'ID', right: true },
      { header: 'LOCATION' },
      { header: 'CPU', right: true },
      { header: 'RAM GB', right: true },
      { header: 'DISK GB' },
      { header: 'MBIT/S', right: true },
      { header: 'PER MONTH', right: true },
      { header: 'PER HOUR*', right: true },
      { header: 'DESCRIPTION' },
    ],
    rows,
  );
  const lines = [head, '', shown.length === 0 ? 'No preset matches the filters.' : table, ''];
  lines.push(`* per hour = monthly price ÷ ${HOURS_PER_MONTH} h: an estimate, Timeweb quotes presets per month. A public IPv4 costs extra.`);
  for (const n of notes) lines.push(n);
  lines.push('Choose one with WOODPECKER_TIMEWEBCLOUD_PRESET_ID=<ID>[:ZONE][,<ID>…] (zones: `twcloud-scaler timeweb list zones`).');
  return { json: shown, text: `${lines.join('\n')}\n` };
}

function presetDescription(p: TwPreset): string {
  const parts: string[] = [];
  if (p.description) parts.push(p.description);
  if (p.cpu_frequency) parts.push(`${p.cpu_frequency} GHz`);
  const tags = (p.tags ?? []).filter((t) => t !== '');
  if (tags.includes('vds_dedic') && !/dedic/i.test(p.description ?? '')) parts.push('dedicated CPU');
  return parts.join(', ');
}

function osMinimum(os: TwOs): string {
  const r = osRequirements(os);
  const parts: string[] = [];
  if (r.cpu > 0) parts.push(`${r.cpu} CPU`);
  if (r.ramMb > 0) parts.push(`${gbText(r.ramMb)} RAM`);
  if (r.diskMb > 0) parts.push(`${gbText(r.diskMb)} disk`);
  return listOrDash(parts);
}

function compareOs(a: TwOs, b: TwOs): number {
  const va = (a.version ?? '').split(/[.-]/).map(Number);
  const vb = (b.version ?? '').split(/[.-]/).map(Number);
  const byName = a.name.localeCompare(b.name);
  if (byName !== 0) return byName;
  for (let i = 0; i < Math.max(va.length, vb.length); i++) {
    const x = va[i] ?? 0;
    const y = vb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return String(a.version).localeCompare(String(b.version));
    if (x !== y) return x - y;
  }
  return a.id - b.id;
}

async function listOs(c: ListContext): Promise<ListOutput> {
  const all = [...(await c.client.listOs())].sort(compareOs);
  let chosen: TwOs | undefined;
  let problem: string | undefined;
  if (c.t.imageId === undefined) {
    try {
      chosen = resolveOs(all, c.t.os);
    } catch (err) {
      problem = errorMessage(err);
    }
  }
  const rows = all.map((os) => [
    chosen?.id === os.id ? '→' : '',
    String(os.id),
    osLabel(os),
    os.version_codename ?? '-',
    os.family ?? '-',
    osMinimum(os),
  ]);
  const table = formatTable(
    [
      { header: 'USE' },
      { header: 'ID', right: true },
      { header: 'NAME (for --timewebcloud-os-id)' },
      { header: 'CODENAME' },
      { header: 'FAMILY' },
      { header: 'MINIMUM' },
    ],
    rows,
  );
  const lines = [`${plural(all.length, 'operating system')} for cloud servers.`, '', table, ''];
  if (c.t.imageId !== undefined) {
    lines.push(`A custom image is configured (--timewebcloud-image-id ${c.t.imageId}): the OS setting is not used.`);
  } else if (chosen) {
    lines.push(`→ = the OS agent servers get: --timewebcloud-os-id / WOODPECKER_TIMEWEBCLOUD_OS_ID is "${c.t.os}" (${osLabel(chosen)}, id ${chosen.id}).`);
  } else if (problem) {
    lines.push(`With the current settings the autoscaler would NOT start: ${problem}`);
  }
  lines.push('Pass the NAME (e.g. ubuntu-24.04) or the ID. The built-in cloud-init template installs Docker for Ubuntu: keep Ubuntu unless you bring your own template.');
  return { json: all, text: `${lines.join('\n')}\n` };
}

async function listConfigurators(c: ListContext): Promise<ListOutput> {
  const all = await c.client.listConfigurators();
  checkLocation(
    all.map((x) => x.location),
    c.filters,
  );
  const shown = all
    .filter((x) => c.filters.location === undefined || x.location === c.filters.location)
    .sort((a, b) => a.location.localeCompare(b.location) || a.id - b.id);
  const range = (min: number, max: number, step: number, conv: (n: number) => string = String): string =>
    `${conv(min)}–${conv(max)}${step > 0 ? ` step ${conv(step)}` : ''}`;
  const rows = shown.map((x) => {
    const r = x.requirements;
    return [
      String(x.id),
      x.location,
      x.disk_type ?? '-',
      range(r.cpu_min, r.cpu_max, r.cpu_step),
      range(r.ram_min, r.ram_max, r.ram_step, gbNumber),
      range(r.disk_min, r.disk_max, r.disk_step, gbNumber),
      range(r.network_bandwidth_min, r.network_bandwidth_max, r.network_bandwidth_step),
      r.gpu_max ? `up to ${r.gpu_max}` : '-',
    ];
  });
  const table = formatTable(
    [
      { header: 'ID', right: true },
      { header: 'LOCATION' },
      { header: 'DISK TYPE' },
      { header: 'CPU' },
      { header: 'RAM GB' },
      { header: 'DISK GB' },
      { header: 'MBIT/S' },
      { header: 'GPU' },
    ],
    rows,
  );
  const head =
    `${plural(all.length, 'configurator')} (custom sizes)` +
    (shown.length !== all.length ? `, ${shown.length} shown (${filterText({ location: c.filters.location })})` : '') +
    '.';
  const lines = [head, '', shown.length === 0 ? 'No configurator matches the filters.' : table, ''];
  lines.push(
    'Use one with WOODPECKER_TIMEWEBCLOUD_CONFIGURATION=cpu=2,ram=4096,disk=51200[,configurator=<ID>] ' +
      '(RAM and disk in MB, on the steps above). Prices of custom sizes are not in the API.',
  );
  return { json: shown, text: `${lines.join('\n')}\n` };
}

async function listZones(c: ListContext): Promise<ListOutput> {
  const all = await c.client.listLocations();
  checkLocation(
    all.map((l) => l.location),
    c.filters,
  );
  const shown = all.filter((l) => c.filters.location === undefined || l.location === c.filters.location);
  const rows = shown.map((l) => [l.location, l.location_code ?? '-', listOrDash(l.availability_zones)]);
  const table = formatTable([{ header: 'LOCATION' }, { header: 'COUNTRY' }, { header: 'ZONES' }], rows);
  const lines = [`${plural(all.length, 'location')} with their availability zones.`, '', table, ''];
  lines.push(
    'A zone must be in the location of the preset: set it for all with WOODPECKER_TIMEWEBCLOUD_AVAILABILITY_ZONE=<ZONE>, ' +
      'or per preset with WOODPECKER_TIMEWEBCLOUD_PRESET_ID=2453:spb-3. Without one, Timeweb uses the location\'s default zone.',
  );
  return { json: shown, text: `${lines.join('\n')}\n` };
}

function keySummary(body: string | undefined): string {
  if (typeof body !== 'string' || body.trim() === '') return '-';
  const parts = body.trim().split(/\s+/);
  const type = parts[0] ?? '';
  const comment = parts.slice(2).join(' ');
  return comment === '' ? type : `${type} … ${comment}`;
}

async function listSshKeys(c: ListContext): Promise<ListOutput> {
  const all = [...(await c.client.listSshKeys())].sort((a, b) => a.id - b.id);
  const rows = all.map((k) => [
    String(k.id),
    k.name,
    k.is_default ? 'yes' : '',
    keySummary(k.body),
    listOrDash((k.used_by ?? []).map((u) => u.name)),
  ]);
  const lines: string[] = [];
  if (all.length === 0) {
    lines.push(
      'No SSH keys in the account. They are optional: add one in the panel ("SSH-ключи") if you want to log in to agent servers.',
    );
  } else {
    lines.push(`${plural(all.length, 'SSH key')}.`, '');
    lines.push(
      formatTable(
        [{ header: 'ID', right: true }, { header: 'NAME' }, { header: 'DEFAULT' }, { header: 'KEY' }, { header: 'USED BY' }],
        rows,
      ),
    );
    lines.push('', 'Install keys on agent servers with WOODPECKER_TIMEWEBCLOUD_SSH_KEY_ID=<NAME or ID>[,…] (the root password is then not set).');
  }
  return { json: all, text: `${lines.join('\n')}\n` };
}

async function listProjects(c: ListContext): Promise<ListOutput> {
  const all = [...(await c.client.listProjects())].sort((a, b) => a.id - b.id);
  const rows = all.map((p) => [String(p.id), p.name, p.is_default ? 'yes' : '', p.description ?? '']);
  const lines = [`${plural(all.length, 'project')}.`, ''];
  lines.push(formatTable([{ header: 'ID', right: true }, { header: 'NAME' }, { header: 'DEFAULT' }, { header: 'DESCRIPTION' }], rows));
  lines.push('', 'Put agent servers in a project with WOODPECKER_TIMEWEBCLOUD_PROJECT_ID=<NAME or ID> (default: the account\'s default project).');
  return { json: all, text: `${lines.join('\n')}\n` };
}

/** How a server relates to this installation's pool, for the `ours` column (ownership.ts decides). */
export type { Ownership } from '../providers/timeweb/ownership.js';

function ownershipCell(o: Ownership, s: Pick<TwServer, 'comment'>): string {
  switch (o) {
    case 'ours':
      return 'YES';
    case 'legacy':
      return 'foreign until adopted (earlier release marker; adopted when its agent is on this Woodpecker server)';
    case 'other-installation':
      return `foreign (installation ${parseMarker(s.comment)?.inst ?? '?'})`;
    case 'lookalike':
      return 'foreign (look-alike, no marker)';
    case 'other-pool':
      return `no (pool ${parseMarker(s.comment)?.pool ?? '?'})`;
    case 'marker-foreign-name':
      return 'no (marker, but not an agent name)';
    case 'foreign':
      return 'no';
  }
}

/** A server as printed by `--json`: without the root/VNC passwords and the user-data, plus `ours`. */
function publicServer(s: TwServer, owner: Owner, kind: Ownership): Record<string, unknown> {
  const { root_pass: _r, vnc_pass: _v, cloud_init: _c, ...rest } = s;
  const why = foreignReason(s, kind);
  return { ...rest, ours: isOwnedServer(s, owner), ownership: kind, ...(why !== undefined ? { foreign: why } : {}) };
}

async function listServers(c: ListContext): Promise<ListOutput> {
  const all = [...(await c.client.listServers())].sort((a, b) => a.id - b.id);
  const poolId = c.poolId;
  const owner: Owner = { poolId, installationId: c.installationId };
  const kinds = all.map((s) => classifyServer(s, owner));
  const rows = all.map((s, i) => [
    String(s.id),
    s.name,
    s.status,
    utcMinute(s.created_at),
    publicIpv4(s) ?? '-',
    ownershipCell(kinds[i] ?? 'foreign', s),
  ]);
  const ours = kinds.filter((k) => k === 'ours').length;
  const lines = [
    `${plural(all.length, 'server')} in the account; ${ours} belong${ours === 1 ? 's' : ''} to pool ${poolId} of installation ` +
      `${c.installationId} (--pool-id, --installation-id or derived from --server-url).`,
    '',
    formatTable(
      [
        { header: 'ID', right: true },
        { header: 'NAME' },
        { header: 'STATUS' },
        { header: 'CREATED (UTC)' },
        { header: 'PUBLIC IPv4' },
        { header: 'OURS' },
      ],
      rows,
    ),
    '',
    `A server is ours only when its name matches pool-${poolId}-agent-<letters> AND its comment carries the marker ` +
      `${MARKER_PREFIX}inst=${c.installationId};pool=${encodeURIComponent(poolId)};… . The autoscaler never counts, changes ` +
      'or deletes any other server.',
  ];
  all.forEach((s, i) => {
    if (kinds[i] === 'other-installation' || kinds[i] === 'legacy') {
      lines.push(`Note: ${s.name} (id ${s.id}) is foreign: ${foreignReason(s, kinds[i] ?? 'foreign') ?? ''}. It is left alone.`);
    } else if (kinds[i] === 'lookalike') {
      lines.push(
        `Note: ${s.name} (id ${s.id}) is named like an agent of pool ${poolId} but its comment has no ${MARKER_PREFIX} marker: ` +
          'it is NOT ours and is left alone.',
      );
    } else if (kinds[i] === 'marker-foreign-name') {
      lines.push(`Note: ${s.name} (id ${s.id}) carries pool ${poolId}'s marker but its name is not an agent name: it is NOT ours and is left alone.`);
    }
  });
  return { json: all.map((s, i) => publicServer(s, owner, kinds[i] ?? 'foreign')), text: `${lines.join('\n')}\n` };
}

const LISTERS: Readonly<Record<ListKind, (c: ListContext) => Promise<ListOutput>>> = {
  os: listOs,
  presets: listPresets,
  configurators: listConfigurators,
  zones: listZones,
  'ssh-keys': listSshKeys,
  projects: listProjects,
  servers: listServers,
  images: (c) => listImagesOutput(c.client),
};

export function parseListKind(s: string): ListKind {
  const k = s.trim().toLowerCase();
  const found = LIST_KINDS.find((x) => x === k) ?? KIND_ALIASES[k];
  if (!found) throw new ConfigError(`nothing called "${s}" to list; choose one of ${LIST_KINDS.join(', ')}`);
  return found;
}

/** Runs one listing against the API (exported for tests and other tools). */
export async function runTimewebList(
  kind: ListKind,
  values: OptionValues,
  filters: ListFilters,
  deps: Pick<ToolDeps, 'fetch' | 'clock' | 'random'>,
): Promise<ListOutput> {
  const core = toCoreConfig(values, { requireServer: false });
  const t = readTimewebOptions(values);
  const client = makeClient(t, core, deps);
  return LISTERS[kind]({ client, t, poolId: core.poolId, installationId: core.installationId, filters, clock: deps.clock });
}

// ---- registration -----------------------------------------------------------------------------------------------------

function apiUrlOf(values: OptionValues | undefined): string | undefined {
  const v = values?.timewebcloudApiUrl;
  return typeof v === 'string' ? v : undefined;
}

/**
 * Adds `timeweb list <what>` and `timeweb test` to `program`. Failures end the command through `cmd.error`
 * (message on stderr; exit 2 for configuration errors, 1 otherwise, 130 after Ctrl-C), so `exitOverride()` turns
 * them into exceptions in tests. Call once from the CLI entry: `registerTimewebCommands(program, io)`.
 */
export function registerTimewebCommands(program: Command, io: TimewebCliIo): Command {
  const deps = toolDeps(io);
  const tw = program
    .command('timeweb')
    .description(
      'Timeweb Cloud tools: list OS, presets, zones, keys, projects, servers and images; test-create one agent server; ' +
        'build a baked agent image',
    );

  const list = tw
    .command('list')
    .argument('<what>', `one of ${LIST_KINDS.join(', ')}`)
    .description(
      'List what the Timeweb Cloud account offers, as readable tables: os, presets (with prices), configurators, ' +
        'zones, ssh-keys, projects, servers (marks the ones this pool owns), images (marks the ones image build made)',
    )
    .option('--json', 'print the raw list as JSON (for scripts); servers get an extra "ours" field, secrets removed')
    .option('--location <LOCATION>', 'presets, configurators, zones: only this location (e.g. ru-1, nl-1)')
    .option('--min-cpu <N>', 'presets: at least N CPU cores')
    .option('--min-ram <SIZE>', 'presets: at least this much RAM, in GB (4, 4GB) or MB (4096, 4096MB; plain numbers above 256 are MB)');
  addOptions(list, listSpecs());
  list.action(async function (this: Command, what: string) {
    let values: OptionValues | undefined;
    try {
      const kind = parseListKind(what);
      const o = this.opts<{ json?: boolean; location?: string; minCpu?: string; minRam?: string }>();
      const filters: ListFilters = {};
      if (o.location !== undefined) filters.location = o.location.trim();
      if (o.minCpu !== undefined) filters.minCpu = parseCpuFilter(o.minCpu);
      if (o.minRam !== undefined) filters.minRamMb = parseRamFilter(o.minRam);
      values = resolveToolValues(this, listSpecs(), deps);
      const res = await runTimewebList(kind, values, filters, deps);
      deps.out(o.json ? `${JSON.stringify(res.json, null, 2)}\n` : res.text);
    } catch (err) {
      fail(this, err, apiUrlOf(values));
    }
  });

  const test = tw
    .command('test')
    .description(
      'Create ONE agent server exactly as the autoscaler would (same flags), show how long it takes to come up, ' +
        'then delete it and its public IP (also on Ctrl-C or any error)',
    )
    .option('--keep', 'keep the server when the test succeeds (prints how to delete it later)')
    .addOption(new Option('--wait-agent', 'the default; kept for scripts written for older versions').hideHelp())
    .option(
      '--no-wait-agent',
      'stop once the server is on with its public IPv4, without registering an agent on the Woodpecker server and ' +
        "waiting for its first contact (the default needs --server-url and --server-token)",
    )
    .option('--register-agent', 'with --no-wait-agent: still register a real agent (default then: a throwaway token)')
    .option('--timeout <DURATION>', 'how long to wait for the server (and the agent) to come up', '10m')
    .option('--image <ID|NAME>', 'run the test twice, from the OS and from this image, and print both boot times')
    .option('--verbose', "show the provider's log lines (info level)")
    .addOption(new Option('--poll-interval <DURATION>', 'status poll interval').default('5s').hideHelp());
  addOptions(test, testSpecs());
  test.action(async function (this: Command) {
    let values: OptionValues | undefined;
    let result: { exitCode: number; message?: string };
    try {
      const o = this.opts<{
        keep?: boolean;
        registerAgent?: boolean;
        waitAgent?: boolean;
        timeout: string;
        pollInterval: string;
        verbose?: boolean;
        image?: string;
      }>();
      const timeoutMs = durationFlag('--timeout', o.timeout);
      const pollMs = durationFlag('--poll-interval', o.pollInterval);
      if (!(timeoutMs > 0)) throw new ConfigError('--timeout must be greater than 0');
      if (!(pollMs > 0)) throw new ConfigError('--poll-interval must be greater than 0');
      values = resolveToolValues(this, testSpecs(), deps);
      const run = (v: OptionValues): ReturnType<typeof runTimewebTest> =>
        runTimewebTest({
          values: v,
          keep: o.keep === true,
          // Waiting for the agent is the default: the pre-flight that matters is the agent connecting.
          registerAgent: o.registerAgent === true || o.waitAgent !== false,
          waitAgent: o.waitAgent !== false,
          timeoutMs,
          pollMs,
          verbose: o.verbose === true,
          deps,
        });
      const upTo = o.waitAgent !== false ? 'agent first contact' : 'server up';
      result = o.image === undefined ? await run(values) : await runBootComparison(values, o.image, run, deps.out, upTo);
    } catch (err) {
      fail(this, err, apiUrlOf(values));
    }
    if (result.exitCode !== 0) {
      this.error(`twcloud-scaler timeweb test: ${result.message ?? 'failed'}`, { exitCode: result.exitCode, code: 'twcloud.timeweb' });
    }
  });
  registerImageCommands(tw, deps, {
    fail: (cmd, err) => fail(cmd, err),
    duration: durationFlag,
    resolveValues: resolveToolValues,
  });
  return program;
}

function durationFlag(flag: string, raw: string): number {
  try {
    return parseGoDuration(raw.trim());
  } catch (err) {
    throw new ConfigError(`${flag}: ${errorMessage(err)}`);
  }
}
