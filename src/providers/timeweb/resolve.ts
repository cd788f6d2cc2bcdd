import type { Logger } from 'pino';
import { ConfigError } from '../../config/types.js';
import type { BillingModel } from '../types.js';
import { TimewebApiError } from './client.js';
import type { TimewebClient } from './client.js';
import { DEFAULT_IPV4_PRICE_RUB, timewebOptionError, timewebOptionLabel } from './options.js';
import type { ConfigurationSpec, TimewebOptionValues } from './options.js';
import type {
  TwConfigurator,
  TwCreateServerConfiguration,
  TwLocation,
  TwOs,
  TwPreset,
  TwProject,
  TwSshKey,
} from './types.js';
import { errorMessage } from '../../util/guards.js';
import { listImages } from './images-api.js';
import type { TwImage } from './images-api.js';
import { resolveImage } from './image-resolve.js';

/**
 * Start-up resolution for the `timewebcloud` provider: every name and id is checked against the API once, so a
 * wrong value fails at start with the valid choices listed, never later at the first scale-up.
 */

/** Hours per month used to turn a monthly preset price into an hourly one (365 × 24 / 12 = 730; an assumption). */
export const HOURS_PER_MONTH = 730;

/** One way to create an agent server, tried in order. */
export interface TimewebCandidate {
  /** Exactly one of preset / configuration. */
  preset?: TwPreset;
  configuration?: TwCreateServerConfiguration;
  configurator?: TwConfigurator;
  location: string;
  /** Undefined = Timeweb picks the location's default zone. */
  zone?: string;
  /** Mbit/s sent as `bandwidth`. */
  bandwidth: number;
  /** Human description, e.g. `preset 2453 (ru-1, 2 CPU / 4 GB RAM / 50 GB disk, 1000 RUB/month) in spb-3`. */
  description: string;
}

export interface TimewebSettings {
  apiUrl: string;
  /** Exactly one of os / imageId. */
  os?: TwOs;
  imageId?: string;
  /** `ubuntu-24.04 (99)` or `image <uuid>`. */
  osDescription: string;
  candidates: TimewebCandidate[];
  sshKeyIds: number[];
  projectId?: number;
  publicIp: boolean;
  hostnamePrefix: string;
  billingModel: BillingModel;
  /** Monthly RUB price of a server's public IPv4 and where it came from; undefined without a public IP. */
  ipv4?: { perMonth: number; source: string };
  /** Warn when the balance is below this many RUB; 0 = never. */
  balanceWarn: number;
}

/**
 * The monthly price of one public IPv4: the option, else what the account pays for a floating IP now
 * (`services/cost`, a `floating_ip` service or a server's `floating_ip`/`additional_ips` part; taken as monthly like
 * preset prices), else the documented default.
 */
export async function resolveIpv4Price(
  client: TimewebClient,
  option: number | undefined,
  logger: Logger,
  signal?: AbortSignal,
): Promise<{ perMonth: number; source: string }> {
  if (option !== undefined) return { perMonth: option, source: '--timewebcloud-ipv4-price' };
  try {
    const costs = await client.getServiceCosts(signal);
    const ipTypes = new Set(['floating_ip', 'additional_ips']);
    const seen = [
      ...costs.filter((c) => c.type === 'floating_ip').map((c) => c.cost),
      ...costs.flatMap((c) => (c.services ?? []).filter((p) => ipTypes.has(p.type ?? '')).map((p) => p.cost)),
    ].filter((x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0);
    if (seen.length > 0) return { perMonth: Math.min(...seen), source: 'the account\'s floating IP cost' };
  } catch (err) {
    if (signal?.aborted) throw err;
    logger.debug(`timewebcloud: cannot read the account's service costs: ${errorMessage(err)}`);
  }
  return { perMonth: DEFAULT_IPV4_PRICE_RUB, source: 'default, --timewebcloud-ipv4-price to set it' };
}

// ---- formatting ----

const gb = (mb: number): string => {
  const g = mb / 1024;
  return Number.isInteger(g) ? `${g} GB` : `${g.toFixed(1)} GB`;
};

export function osLabel(os: TwOs): string {
  return os.version ? `${os.name}-${os.version}` : os.name;
}

export function describePreset(p: TwPreset): string {
  const price = typeof p.price === 'number' ? `, ${p.price} RUB/month` : '';
  return `preset ${p.id} (${p.location}, ${p.cpu} CPU / ${gb(p.ram)} RAM / ${gb(p.disk)} disk${price})`;
}

function shortPreset(p: TwPreset): string {
  return `${p.id} (${p.location}, ${p.cpu} CPU/${gb(p.ram)}/${gb(p.disk)}, ${p.price} RUB/mo)`;
}

function listSome(items: string[], max = 20): string {
  if (items.length === 0) return '(none)';
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')}, … (${items.length - max} more)`;
}

function compareVersions(a: string | null, b: string | null): number {
  const pa = (a ?? '').split(/[.-]/).map((x) => Number(x));
  const pb = (b ?? '').split(/[.-]/).map((x) => Number(x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return String(a).localeCompare(String(b));
    if (x !== y) return x - y;
  }
  return 0;
}

function sortedOs(list: TwOs[]): TwOs[] {
  return [...list].sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version) || a.id - b.id);
}

/**
 * The OS requirement unit is not documented (the spec's example has `ram_min: 4`, `disk_min: 200`).
 * Values that are too small to be MB are taken as GB.
 */
export function normaliseMb(v: number | undefined, gbBelow: number): number {
  if (typeof v !== 'number' || !(v > 0)) return 0;
  return v < gbBelow ? v * 1024 : v;
}

export interface OsRequirementsMb {
  cpu: number;
  ramMb: number;
  diskMb: number;
}

export function osRequirements(os: TwOs | undefined): OsRequirementsMb {
  const r = os?.requirements ?? undefined;
  return {
    cpu: typeof r?.cpu_min === 'number' ? r.cpu_min : 0,
    ramMb: normaliseMb(r?.ram_min, 256),
    diskMb: normaliseMb(r?.disk_min, 1024),
  };
}

function meetsOs(p: { cpu: number; ram: number; disk: number }, req: OsRequirementsMb): boolean {
  return p.cpu >= req.cpu && p.ram >= req.ramMb && p.disk >= req.diskMb;
}

// ---- resolution ----

/** Resolves `--timewebcloud-os-id`: a numeric id, or NAME-VERSION (`ubuntu-24.04`, `debian 12`, `Ubuntu24.04`). */
export function resolveOs(list: TwOs[], value: string): TwOs {
  const available = (): string => listSome(sortedOs(list).map((o) => `${osLabel(o)} (${o.id})`), 60);
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const os = list.find((o) => o.id === Number(v));
    if (!os) throw timewebOptionError('timewebcloudOsId', `os ${v} not found; available: ${available()}`);
    return os;
  }
  const norm = (s: string): string => s.toLowerCase().replace(/[\s_-]+/g, '');
  const wanted = norm(v);
  const exact = list.filter((o) => norm(`${o.name}${o.version ?? ''}`) === wanted);
  if (exact.length >= 1) return sortedOs(exact)[0] as TwOs;
  const byName = list.filter((o) => norm(o.name) === wanted);
  if (byName.length === 1) return byName[0] as TwOs;
  if (byName.length > 1) {
    const choices = sortedOs(byName).map((o) => `${osLabel(o)} (${o.id})`);
    throw timewebOptionError('timewebcloudOsId', `os ${v} is ambiguous: add the version, one of ${choices.join(', ')}`);
  }
  throw timewebOptionError('timewebcloudOsId', `os ${v} not found; available: ${available()}`);
}

function zonesOf(locations: TwLocation[], location: string): string[] {
  return locations.find((l) => l.location === location)?.availability_zones ?? [];
}

function locationOfZone(locations: TwLocation[], zone: string): string | undefined {
  return locations.find((l) => l.availability_zones.includes(zone))?.location;
}

function allZones(locations: TwLocation[]): string {
  return listSome(locations.flatMap((l) => l.availability_zones.map((z) => `${z} (${l.location})`)), 60);
}

function checkStep(name: string, v: number, min: number, max: number, step: number): string | undefined {
  if (v < min || v > max) return `${name}=${v} is outside ${min}–${max}`;
  if (step > 0 && (v - min) % step !== 0) return `${name}=${v} is not ${min} plus a multiple of ${step}`;
  return undefined;
}

/** The first problem of a size against a configurator, or undefined. */
export function configuratorProblem(c: TwConfigurator, conf: ConfigurationSpec): string | undefined {
  const r = c.requirements;
  return (
    checkStep('cpu', conf.cpu, r.cpu_min, r.cpu_max, r.cpu_step) ??
    checkStep('ram', conf.ram, r.ram_min, r.ram_max, r.ram_step) ??
    checkStep('disk', conf.disk, r.disk_min, r.disk_max, r.disk_step) ??
    (conf.gpu !== undefined && conf.gpu > 0
      ? r.gpu_max === null || r.gpu_max === undefined
        ? `configurator ${c.id} has no GPUs`
        : checkStep('gpu', conf.gpu, r.gpu_min ?? 0, r.gpu_max, r.gpu_step ?? 1)
      : undefined)
  );
}

function describeConfigurator(c: TwConfigurator): string {
  const r = c.requirements;
  return (
    `${c.id} (${c.location}, ${c.disk_type ?? 'disk'}: cpu ${r.cpu_min}–${r.cpu_max}, ram ${r.ram_min}–${r.ram_max} MB ` +
    `step ${r.ram_step}, disk ${r.disk_min}–${r.disk_max} MB step ${r.disk_step})`
  );
}

/** Wraps an API failure during start-up: 401/403 become configuration errors about the token. */
function startupApiError(err: unknown, what: string): Error {
  if (err instanceof TimewebApiError && (err.status === 401 || err.status === 403)) {
    return timewebOptionError(
      'timewebcloudApiToken',
      err.status === 401
        ? `the API token was rejected while reading ${what} (HTTP 401: invalid or expired)`
        : `the API token may not read ${what} (HTTP 403): give it access to cloud servers`,
    );
  }
  if (err instanceof Error) return new Error(`timewebcloud: cannot read ${what} at start-up: ${err.message}`, { cause: err });
  return new Error(`timewebcloud: cannot read ${what} at start-up: ${String(err)}`);
}

async function load<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw startupApiError(err, what);
  }
}

/**
 * Resolves every provider option against the API. Throws a ConfigError (naming the flag and its env var and
 * listing the valid choices) on a wrong value, or an Error when the API cannot be read.
 */
export async function resolveTimewebSettings(
  client: TimewebClient,
  o: TimewebOptionValues,
  logger: Logger,
  signal?: AbortSignal,
): Promise<TimewebSettings> {
  // The presets alone first: a bad token then fails with one clear message instead of six.
  const presets = await load('the presets', () => client.listPresets(signal));
  const [osList, configurators, locations, sshKeys, projects] = await Promise.all([
    o.imageId === undefined ? load('the OS list', () => client.listOs(signal)) : Promise.resolve<TwOs[]>([]),
    o.configuration !== undefined
      ? load('the configurators', () => client.listConfigurators(signal))
      : Promise.resolve<TwConfigurator[]>([]),
    load('the locations', () => client.listLocations(signal)),
    o.sshKeys.length > 0 ? load('the SSH keys', () => client.listSshKeys(signal)) : Promise.resolve<TwSshKey[]>([]),
    o.project !== undefined ? load('the projects', () => client.listProjects(signal)) : Promise.resolve<TwProject[]>([]),
  ]);

  // OS or image
  let os: TwOs | undefined;
  let osDescription: string;
  let image: TwImage | undefined;
  if (o.imageId !== undefined) {
    const imageValue = o.imageId;
    const images = await load('the images', () => listImages(client, signal));
    image = resolveImage(images, imageValue, o.location ?? presets.find((p) => p.id === o.presets[0]?.presetId)?.location);
    osDescription = `image ${image.name} (${image.id}${image.location ? `, ${image.location}` : ''})`;
  } else {
    os = resolveOs(osList, o.os);
    osDescription = `${osLabel(os)} (${os.id})`;
  }
  const req = osRequirements(os);

  // location and zone
  const knownLocations = locations.map((l) => l.location);
  if (o.location !== undefined && !knownLocations.includes(o.location)) {
    throw timewebOptionError('timewebcloudLocation', `location ${o.location} not found; available: ${listSome(knownLocations)}`);
  }
  let zoneLocation: string | undefined;
  if (o.availabilityZone !== undefined) {
    zoneLocation = locationOfZone(locations, o.availabilityZone);
    if (zoneLocation === undefined) {
      throw timewebOptionError(
        'timewebcloudAvailabilityZone',
        `zone ${o.availabilityZone} not found; available: ${allZones(locations)}`,
      );
    }
    if (o.location !== undefined && zoneLocation !== o.location) {
      throw timewebOptionError(
        'timewebcloudAvailabilityZone',
        `zone ${o.availabilityZone} is in ${zoneLocation}, not in --timewebcloud-location ${o.location}; zones of ${o.location}: ${zonesOf(locations, o.location).join(', ')}`,
      );
    }
  }

  const checkZone = (zone: string, location: string, key: string, what: string): void => {
    const zones = zonesOf(locations, location);
    if (!zones.includes(zone)) {
      throw timewebOptionError(key, `zone ${zone} is not in location ${location} of ${what}; zones of ${location}: ${listSome(zones)}`);
    }
  };

  const candidates: TimewebCandidate[] = [];
  const zoneText = (z: string | undefined): string => (z === undefined ? '' : ` in ${z}`);

  if (o.configuration !== undefined) {
    const conf = o.configuration;
    const where = o.location ?? zoneLocation;
    let configurator: TwConfigurator | undefined;
    if (conf.configuratorId !== undefined) {
      configurator = configurators.find((c) => c.id === conf.configuratorId);
      if (!configurator) {
        throw timewebOptionError(
          'timewebcloudConfiguration',
          `configurator ${conf.configuratorId} not found; available: ${listSome(configurators.map(describeConfigurator), 30)}`,
        );
      }
      const problem = configuratorProblem(configurator, conf);
      if (problem) {
        throw timewebOptionError('timewebcloudConfiguration', `${problem} for configurator ${describeConfigurator(configurator)}`);
      }
    } else {
      const inPlace = configurators.filter((c) => where === undefined || c.location === where);
      configurator = [...inPlace].sort((a, b) => a.id - b.id).find((c) => configuratorProblem(c, conf) === undefined);
      if (!configurator) {
        const place = where === undefined ? '' : ` in ${where}`;
        const details = inPlace.map((c) => `${describeConfigurator(c)}: ${configuratorProblem(c, conf) ?? 'ok'}`);
        throw timewebOptionError(
          'timewebcloudConfiguration',
          `no configurator${place} accepts cpu=${conf.cpu},ram=${conf.ram},disk=${conf.disk}; configurators: ${listSome(details, 30)}`,
        );
      }
    }
    if (o.location !== undefined && configurator.location !== o.location) {
      throw timewebOptionError(
        'timewebcloudConfiguration',
        `configurator ${configurator.id} is in ${configurator.location}, not in --timewebcloud-location ${o.location}`,
      );
    }
    if (o.availabilityZone !== undefined) {
      checkZone(o.availabilityZone, configurator.location, 'timewebcloudAvailabilityZone', `configurator ${configurator.id}`);
    }
    if (!meetsOs({ cpu: conf.cpu, ram: conf.ram, disk: conf.disk }, req)) {
      logger.warn(
        `timewebcloud: cpu=${conf.cpu},ram=${conf.ram},disk=${conf.disk} may be below the requirements of ${osDescription} ` +
          `(cpu ≥ ${req.cpu}, ram ≥ ${req.ramMb} MB, disk ≥ ${req.diskMb} MB)`,
      );
    }
    const r = configurator.requirements;
    const bandwidth = o.bandwidth ?? r.network_bandwidth_min;
    const bwProblem = checkStep(
      'bandwidth',
      bandwidth,
      r.network_bandwidth_min,
      r.network_bandwidth_max,
      r.network_bandwidth_step,
    );
    if (bwProblem) throw timewebOptionError('timewebcloudBandwidth', `${bwProblem} for configurator ${configurator.id}`);
    const configuration: TwCreateServerConfiguration = {
      configurator_id: configurator.id,
      cpu: conf.cpu,
      ram: conf.ram,
      disk: conf.disk,
    };
    if (conf.gpu !== undefined) configuration.gpu = conf.gpu;
    candidates.push({
      configuration,
      configurator,
      location: configurator.location,
      ...(o.availabilityZone !== undefined ? { zone: o.availabilityZone } : {}),
      bandwidth,
      description:
        `configurator ${configurator.id} (${configurator.location}, ${conf.cpu} CPU / ${gb(conf.ram)} RAM / ${gb(conf.disk)} disk)` +
        zoneText(o.availabilityZone),
    });
  } else if (o.presets.length > 0) {
    for (const c of o.presets) {
      const preset = presets.find((p) => p.id === c.presetId);
      if (!preset) {
        const sorted = [...presets].sort((a, b) => a.price - b.price || a.id - b.id).map(shortPreset);
        throw timewebOptionError('timewebcloudPresetId', `preset ${c.presetId} not found; available: ${listSome(sorted, 25)}`);
      }
      let zone = c.zone;
      if (zone !== undefined) {
        if (locationOfZone(locations, zone) === undefined) {
          throw timewebOptionError('timewebcloudPresetId', `zone ${zone} not found; available: ${allZones(locations)}`);
        }
        checkZone(zone, preset.location, 'timewebcloudPresetId', `preset ${preset.id}`);
      } else if (o.availabilityZone !== undefined) {
        checkZone(o.availabilityZone, preset.location, 'timewebcloudAvailabilityZone', `preset ${preset.id}`);
        zone = o.availabilityZone;
      }
      if (o.location !== undefined && preset.location !== o.location) {
        logger.warn(`timewebcloud: preset ${preset.id} is in ${preset.location}, not in --timewebcloud-location ${o.location}`);
      }
      if (!meetsOs(preset, req)) {
        logger.warn(
          `timewebcloud: ${describePreset(preset)} may be below the requirements of ${osDescription} ` +
            `(cpu ≥ ${req.cpu}, ram ≥ ${req.ramMb} MB, disk ≥ ${req.diskMb} MB)`,
        );
      }
      candidates.push({
        preset,
        location: preset.location,
        ...(zone !== undefined ? { zone } : {}),
        bandwidth: o.bandwidth ?? preset.bandwidth,
        description: describePreset(preset) + zoneText(zone),
      });
    }
  } else {
    const where = o.location ?? zoneLocation;
    const fits = presets
      .filter((p) => where === undefined || p.location === where)
      .filter((p) => p.cpu >= o.minCpu && p.ram >= o.minRam && meetsOs(p, req))
      .filter((p) => typeof p.price === 'number')
      .sort((a, b) => a.price - b.price || a.id - b.id);
    const chosen = fits[0];
    if (!chosen) {
      const place = where === undefined ? '' : ` in ${where}`;
      throw new ConfigError(
        `timewebcloud: no preset${place} has at least ${o.minCpu} CPU and ${o.minRam} MB RAM and meets the requirements ` +
          `of ${osDescription}; lower ${timewebOptionLabel('timewebcloudMinCpu')} / ${timewebOptionLabel('timewebcloudMinRam')}, ` +
          `or choose one with ${timewebOptionLabel('timewebcloudPresetId')}`,
      );
    }
    const zone = o.availabilityZone;
    candidates.push({
      preset: chosen,
      location: chosen.location,
      ...(zone !== undefined ? { zone } : {}),
      bandwidth: o.bandwidth ?? chosen.bandwidth,
      description: describePreset(chosen) + zoneText(zone),
    });
    logger.info(
      `timewebcloud: chose the cheapest preset with ≥ ${o.minCpu} CPU and ≥ ${o.minRam} MB RAM` +
        `${where === undefined ? '' : ` in ${where}`}: ${describePreset(chosen)}, ` +
        `about ${(chosen.price / HOURS_PER_MONTH).toFixed(2)} RUB/hour`,
    );
  }

  // SSH keys by id or name
  const sshKeyIds: number[] = [];
  for (const k of o.sshKeys) {
    const key =
      (/^\d+$/.test(k) ? sshKeys.find((x) => x.id === Number(k)) : undefined) ??
      sshKeys.find((x) => x.name === k) ??
      sshKeys.find((x) => x.name.toLowerCase() === k.toLowerCase());
    if (!key) {
      const available = sshKeys.length === 0 ? 'the account has no SSH keys' : `available: ${listSome(sshKeys.map((x) => `${x.name} (${x.id})`), 40)}`;
      throw timewebOptionError('timewebcloudSshKeyId', `ssh key ${k} not found; ${available}`);
    }
    if (!sshKeyIds.includes(key.id)) sshKeyIds.push(key.id);
  }

  // project by id or name
  let projectId: number | undefined;
  if (o.project !== undefined) {
    const p = o.project;
    const project =
      (/^\d+$/.test(p) ? projects.find((x) => x.id === Number(p)) : undefined) ??
      projects.find((x) => x.name === p) ??
      projects.find((x) => x.name.toLowerCase() === p.toLowerCase());
    if (!project) {
      throw timewebOptionError(
        'timewebcloudProjectId',
        `project ${p} not found; available: ${listSome(projects.map((x) => `${x.name} (${x.id})`), 40)}`,
      );
    }
    projectId = project.id;
  }

  // Account pre-flight: informative only (some tokens may not read the account).
  try {
    const status = await client.getAccountStatus(signal);
    if (status.is_blocked || status.is_permanent_blocked) {
      logger.warn('timewebcloud: the Timeweb Cloud account is blocked: new servers cannot be created until it is unblocked');
    }
  } catch (err) {
    logger.debug(`timewebcloud: cannot read the account status: ${errorMessage(err)}`);
  }
  try {
    const f = await client.getFinances(signal);
    const hours = typeof f.hours_left === 'number' ? `, about ${f.hours_left} h of service left` : '';
    if (f.balance <= 0) logger.warn(`timewebcloud: the account balance is ${f.balance} ${f.currency}: new servers will fail`);
    else if (f.balance < o.balanceWarn) {
      logger.warn(`timewebcloud: the account balance ${f.balance} ${f.currency} is below --timewebcloud-balance-warn ${o.balanceWarn}${hours}`);
    } else logger.info(`timewebcloud: account balance ${f.balance} ${f.currency}${hours}`);
  } catch (err) {
    logger.debug(`timewebcloud: cannot read the account finances: ${errorMessage(err)}`);
  }

  const settings: TimewebSettings = {
    balanceWarn: o.balanceWarn,
    apiUrl: o.apiUrl,
    osDescription,
    candidates,
    sshKeyIds,
    publicIp: o.publicIp,
    hostnamePrefix: o.hostnamePrefix,
    billingModel: o.billing,
  };
  if (os !== undefined) settings.os = os;
  if (image !== undefined) {
    settings.imageId = image.id;
    const elsewhere = candidates.filter((c) => image.location !== null && c.location !== image.location);
    if (elsewhere.length > 0) {
      logger.warn(
        `timewebcloud: ${osDescription} is in ${image.location}, but ${elsewhere.map((c) => c.description).join('; ')} ` +
          `${elsewhere.length === 1 ? 'is' : 'are'} elsewhere: creating servers there from the image may fail`,
      );
    }
  }
  if (projectId !== undefined) settings.projectId = projectId;
  if (o.publicIp) settings.ipv4 = await resolveIpv4Price(client, o.ipv4Price, logger, signal);
  return settings;
}
