import { ConfigError } from '../../config/types.js';
import type { OptionSpec, OptionValue, OptionValues } from '../../config/types.js';
import { splitList } from '../../config/resolve.js';

/**
 * The `timewebcloud` provider's flags (category "Timeweb Cloud", env `WOODPECKER_TIMEWEBCLOUD_*`).
 * Syntax is checked here (`validate`); the cloud-side values (OS, presets, zones, keys, project) are resolved
 * against the API at start-up by `resolveTimewebSettings`.
 */

export const TIMEWEB_CATEGORY = 'Timeweb Cloud';
export const DEFAULT_TIMEWEB_API_URL = 'https://api.timeweb.cloud';
export const DEFAULT_TIMEWEB_OS = 'ubuntu-24.04';
/**
 * Monthly RUB price of a public IPv4 address when neither the option nor the account tells: Timeweb Cloud's list
 * price for an extra IPv4 at the time of writing (an assumption; set --timewebcloud-ipv4-price for your account).
 */
export const DEFAULT_IPV4_PRICE_RUB = 150;

const env = (name: string): string[] => [`WOODPECKER_TIMEWEBCLOUD_${name}`];

export interface PresetCandidateSpec {
  presetId: number;
  zone?: string;
}

export interface ConfigurationSpec {
  cpu: number;
  /** MB */
  ram: number;
  /** MB */
  disk: number;
  configuratorId?: number;
  gpu?: number;
}

/** `2453`, `2453:spb-3` → candidates, in order. Throws a message (no flag name) on bad syntax. */
export function parsePresetCandidates(items: readonly string[]): PresetCandidateSpec[] {
  return items.map((item) => {
    const [id = '', zone, ...rest] = item.split(':').map((x) => x.trim());
    if (rest.length > 0 || !/^\d+$/.test(id) || zone === '') {
      throw new Error(`"${item}" is not "PRESET_ID[:ZONE]" (e.g. 2453 or 2453:spb-3)`);
    }
    return zone === undefined ? { presetId: Number(id) } : { presetId: Number(id), zone };
  });
}

/** `cpu=2,ram=4096,disk=51200[,configurator=11][,gpu=1]` (ram and disk in MB). Throws a message on bad syntax. */
export function parseConfiguration(s: string): ConfigurationSpec {
  const out: Partial<Record<'cpu' | 'ram' | 'disk' | 'configurator' | 'gpu', number>> = {};
  const allowed = new Set(['cpu', 'ram', 'disk', 'configurator', 'gpu']);
  for (const part of splitList(s)) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!allowed.has(key)) {
      throw new Error(`unknown key "${key}" in "${s}"; use cpu=N,ram=MB,disk=MB[,configurator=ID][,gpu=N]`);
    }
    if (!/^\d+$/.test(value)) throw new Error(`${key} must be a whole number in "${s}"`);
    out[key as keyof typeof out] = Number(value);
  }
  for (const k of ['cpu', 'ram', 'disk'] as const) {
    if (out[k] === undefined) throw new Error(`"${s}" lacks ${k}=; use cpu=N,ram=MB,disk=MB[,configurator=ID]`);
  }
  if ((out.ram ?? 0) < 512) throw new Error(`ram=${out.ram} is in MB: did you mean ram=${(out.ram ?? 0) * 1024}?`);
  if ((out.disk ?? 0) < 1024) throw new Error(`disk=${out.disk} is in MB: did you mean disk=${(out.disk ?? 0) * 1024}?`);
  const spec: ConfigurationSpec = { cpu: out.cpu ?? 0, ram: out.ram ?? 0, disk: out.disk ?? 0 };
  if (out.configurator !== undefined) spec.configuratorId = out.configurator;
  if (out.gpu !== undefined) spec.gpu = out.gpu;
  return spec;
}

function tryParse<T>(fn: () => T): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const asString = (v: OptionValue): string => (typeof v === 'string' ? v : String(v));
const asList = (v: OptionValue): string[] => (Array.isArray(v) ? v : [String(v)]);

export const timewebOptions: readonly OptionSpec[] = [
  {
    key: 'timewebcloudApiToken',
    flag: 'timewebcloud-api-token',
    env: env('API_TOKEN'),
    fileEnv: env('API_TOKEN_FILE'),
    type: 'string',
    secret: true,
    required: true,
    description:
      'Timeweb Cloud API token (panel → "API и Terraform"). It needs delete permission, and Telegram/SMS delete ' +
      'confirmation must be off. Required.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'TOKEN',
  },
  {
    key: 'timewebcloudApiUrl',
    flag: 'timewebcloud-api-url',
    env: env('API_URL'),
    type: 'string',
    default: DEFAULT_TIMEWEB_API_URL,
    description: 'Base URL of the Timeweb Cloud API (change only for tests or a proxy).',
    category: TIMEWEB_CATEGORY,
    placeholder: 'URL',
    validate: (v) => {
      const s = asString(v);
      try {
        const u = new URL(s);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') return `"${s}" is not an http(s) URL`;
        return undefined;
      } catch {
        return `"${s}" is not a URL`;
      }
    },
  },
  {
    key: 'timewebcloudOsId',
    flag: 'timewebcloud-os-id',
    env: env('OS_ID'),
    type: 'string',
    default: DEFAULT_TIMEWEB_OS,
    description:
      'Operating system: a numeric id or NAME-VERSION such as ubuntu-24.04 or debian-12 ' +
      '(see `twcloud-scaler timeweb list os`). Ignored when --timewebcloud-image-id is set.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'OS',
  },
  {
    key: 'timewebcloudImageId',
    flag: 'timewebcloud-image-id',
    env: env('IMAGE_ID'),
    type: 'string',
    description:
      'Custom image to boot instead of an OS: its id (uuid) or name, e.g. the baked agent image that ' +
      '`twcloud-scaler timeweb image build` prints. It must be ready ("created"). Wins over --timewebcloud-os-id.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'IMAGE',
  },
  {
    key: 'timewebcloudPresetId',
    flag: 'timewebcloud-preset-id',
    env: env('PRESET_ID'),
    type: 'list',
    description:
      'Ordered list of PRESET_ID[:ZONE] candidates; the next one is tried when one is unavailable ' +
      '(see `twcloud-scaler timeweb list presets`). Without it (and without --timewebcloud-configuration) the ' +
      'cheapest preset meeting --timewebcloud-min-cpu/--timewebcloud-min-ram is chosen.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'ID[:ZONE],...',
    validate: (v) => tryParse(() => parsePresetCandidates(asList(v))),
  },
  {
    key: 'timewebcloudConfiguration',
    flag: 'timewebcloud-configuration',
    env: env('CONFIGURATION'),
    type: 'string',
    description:
      'Custom size instead of a preset: cpu=N,ram=MB,disk=MB[,configurator=ID][,gpu=N], checked against the ' +
      "configurator's limits (see `twcloud-scaler timeweb list configurators`).",
    category: TIMEWEB_CATEGORY,
    placeholder: 'cpu=2,ram=4096,disk=51200',
    validate: (v, all) => {
      const s = asString(v);
      if (s.trim() === '') return undefined;
      const preset = all.timewebcloudPresetId;
      if (Array.isArray(preset) && preset.length > 0) {
        return 'use either --timewebcloud-preset-id or --timewebcloud-configuration, not both';
      }
      return tryParse(() => parseConfiguration(s));
    },
  },
  {
    key: 'timewebcloudAvailabilityZone',
    flag: 'timewebcloud-availability-zone',
    env: env('AVAILABILITY_ZONE'),
    type: 'string',
    description: 'Availability zone, e.g. spb-3, msk-1, ams-1 (see `twcloud-scaler timeweb list zones`). Default: the location\'s default.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'ZONE',
  },
  {
    key: 'timewebcloudLocation',
    flag: 'timewebcloud-location',
    env: env('LOCATION'),
    type: 'string',
    description: 'Location for the automatic preset choice, e.g. ru-1 or nl-1 (optional).',
    category: TIMEWEB_CATEGORY,
    placeholder: 'LOCATION',
  },
  {
    key: 'timewebcloudSshKeyId',
    flag: 'timewebcloud-ssh-key-id',
    env: env('SSH_KEY_ID'),
    type: 'list',
    description: 'SSH keys (ids or names) to install on agent servers; disables the root password.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'KEY,...',
  },
  {
    key: 'timewebcloudHostnamePrefix',
    flag: 'timewebcloud-hostname-prefix',
    env: env('HOSTNAME_PREFIX'),
    type: 'string',
    default: '',
    description: 'Prefix of the agent servers\' hostnames (the hostname is the prefix plus the agent name, lower-cased).',
    category: TIMEWEB_CATEGORY,
    placeholder: 'PREFIX',
    validate: (v) => {
      const s = asString(v);
      return s === '' || /^[A-Za-z0-9-]{0,40}$/.test(s) ? undefined : `"${s}" may only hold letters, digits and "-" (≤ 40)`;
    },
  },
  {
    key: 'timewebcloudProjectId',
    flag: 'timewebcloud-project-id',
    env: env('PROJECT_ID'),
    type: 'string',
    description: 'Project (id or name) to create agent servers in (see `twcloud-scaler timeweb list projects`).',
    category: TIMEWEB_CATEGORY,
    placeholder: 'PROJECT',
  },
  {
    key: 'timewebcloudPublicIp',
    flag: 'timewebcloud-public-ip',
    env: env('PUBLIC_IP'),
    type: 'bool',
    default: true,
    description:
      'Give each agent server a public IPv4 at create time (network.floating_ip "create_ip"), so cloud-init has ' +
      'internet. The IP is deleted with the server.',
    category: TIMEWEB_CATEGORY,
  },
  {
    key: 'timewebcloudBandwidth',
    flag: 'timewebcloud-bandwidth',
    env: env('BANDWIDTH'),
    type: 'int',
    description: "Bandwidth in Mbit/s (100–1000 in steps of 100). Default: the preset's, or the configurator's minimum.",
    category: TIMEWEB_CATEGORY,
    placeholder: 'MBITS',
    validate: (v) => {
      const n = Number(v);
      return Number.isInteger(n) && n >= 100 && n <= 1000 && n % 100 === 0
        ? undefined
        : `${n} is not 100–1000 in steps of 100`;
    },
  },
  {
    key: 'timewebcloudBilling',
    flag: 'timewebcloud-billing',
    env: env('BILLING'),
    type: 'string',
    default: 'hourly',
    description:
      'How Timeweb bills a server: hourly (idle agents are kept until shortly before their next paid hour) or ' +
      'per-second (idle agents are removed after the idle timeout).',
    category: TIMEWEB_CATEGORY,
    placeholder: 'hourly|per-second',
    validate: (v) => (v === 'hourly' || v === 'per-second' ? undefined : `"${asString(v)}" is not hourly or per-second`),
  },
  {
    key: 'timewebcloudIpv4Price',
    flag: 'timewebcloud-ipv4-price',
    env: env('IPV4_PRICE'),
    type: 'float',
    description:
      'Monthly price in RUB of the public IPv4 address each agent server gets (added to the server price in cost ' +
      `estimates). Default: what the account pays for a floating IP now (account services cost), else ${DEFAULT_IPV4_PRICE_RUB}.`,
    category: TIMEWEB_CATEGORY,
    placeholder: 'RUB',
    validate: (v) => (Number(v) >= 0 ? undefined : 'must be 0 or more'),
  },
  {
    key: 'timewebcloudBalanceWarn',
    flag: 'timewebcloud-balance-warn',
    env: env('BALANCE_WARN'),
    type: 'float',
    default: 500,
    description:
      'Log a warning (and flag it on the status page) when the account balance, read every 10 minutes, is below ' +
      'this many RUB; 0 turns the warning off.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'RUB',
    validate: (v) => (Number(v) >= 0 ? undefined : 'must be 0 or more'),
  },
  {
    key: 'timewebcloudMinCpu',
    flag: 'timewebcloud-min-cpu',
    env: env('MIN_CPU'),
    type: 'int',
    default: 2,
    description: 'Minimum CPU cores for the automatic preset choice.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'N',
    validate: (v) => (Number(v) >= 1 ? undefined : 'must be at least 1'),
  },
  {
    key: 'timewebcloudMinRam',
    flag: 'timewebcloud-min-ram',
    env: env('MIN_RAM'),
    type: 'int',
    default: 4096,
    description: 'Minimum RAM in MB (not GB: 4096 = 4 GB) for the automatic preset choice.',
    category: TIMEWEB_CATEGORY,
    placeholder: 'MB',
    validate: (v) => {
      const n = Number(v);
      if (n >= 512) return undefined;
      return n > 0 && n <= 256 ? `the value is in MB, not GB: did you mean ${n * 1024}?` : 'must be at least 512 (MB)';
    },
  },
];

/** The options by key, for error labels. */
export function timewebOption(key: string): OptionSpec {
  const spec = timewebOptions.find((o) => o.key === key);
  if (!spec) throw new Error(`unknown timewebcloud option ${key}`);
  return spec;
}

/** `--timewebcloud-os-id (WOODPECKER_TIMEWEBCLOUD_OS_ID)` */
export function timewebOptionLabel(key: string): string {
  const spec = timewebOption(key);
  const names = [...spec.env, ...(spec.fileEnv ?? [])];
  return `--${spec.flag} (${names.join(', ')})`;
}

/** `--timewebcloud-os-id (WOODPECKER_TIMEWEBCLOUD_OS_ID): <reason>` */
export function timewebOptionError(key: string, reason: string): ConfigError {
  return new ConfigError(`${timewebOptionLabel(key)}: ${reason}`);
}

/** The typed view of the option values, with defaults applied and syntax validated (ConfigError otherwise). */
export interface TimewebOptionValues {
  apiToken: string;
  apiUrl: string;
  os: string;
  imageId: string | undefined;
  presets: PresetCandidateSpec[];
  configuration: ConfigurationSpec | undefined;
  availabilityZone: string | undefined;
  location: string | undefined;
  sshKeys: string[];
  hostnamePrefix: string;
  project: string | undefined;
  publicIp: boolean;
  bandwidth: number | undefined;
  billing: 'hourly' | 'per-second';
  minCpu: number;
  minRam: number;
  /** RUB/month; undefined = from the account, else DEFAULT_IPV4_PRICE_RUB. */
  ipv4Price: number | undefined;
  /** RUB; 0 = no warning. */
  balanceWarn: number;
}

/** Reads the provider's values (defaults applied when the config layer did not), re-running the checks. */
export function readTimewebOptions(values: OptionValues): TimewebOptionValues {
  const get = (key: string): OptionValue | undefined => {
    const v = values[key];
    return v === undefined ? timewebOption(key).default : v;
  };
  const str = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    const s = asString(v).trim();
    return s === '' ? undefined : s;
  };
  const check = (key: string): void => {
    const spec = timewebOption(key);
    const v = get(key);
    if (v === undefined || spec.validate === undefined) return;
    const problem = spec.validate(v, values);
    if (problem !== undefined) throw timewebOptionError(key, problem);
  };
  for (const o of timewebOptions) check(o.key);

  const apiToken = str('timewebcloudApiToken');
  if (apiToken === undefined) {
    throw timewebOptionError('timewebcloudApiToken', 'required: create a token in the Timeweb Cloud panel (API и Terraform)');
  }
  const presetRaw = get('timewebcloudPresetId');
  const presets = presetRaw === undefined ? [] : parsePresetCandidates(asList(presetRaw));
  const confRaw = str('timewebcloudConfiguration');
  const billing = str('timewebcloudBilling') ?? 'hourly';
  const bandwidth = get('timewebcloudBandwidth');
  return {
    apiToken,
    apiUrl: str('timewebcloudApiUrl') ?? DEFAULT_TIMEWEB_API_URL,
    os: str('timewebcloudOsId') ?? DEFAULT_TIMEWEB_OS,
    imageId: str('timewebcloudImageId'),
    presets,
    configuration: confRaw === undefined ? undefined : parseConfiguration(confRaw),
    availabilityZone: str('timewebcloudAvailabilityZone'),
    location: str('timewebcloudLocation'),
    sshKeys: asList(get('timewebcloudSshKeyId') ?? []).map((x) => x.trim()).filter((x) => x !== ''),
    hostnamePrefix: str('timewebcloudHostnamePrefix') ?? '',
    project: str('timewebcloudProjectId'),
    publicIp: get('timewebcloudPublicIp') !== false,
    bandwidth: bandwidth === undefined ? undefined : Number(bandwidth),
    billing: billing === 'per-second' ? 'per-second' : 'hourly',
    minCpu: Number(get('timewebcloudMinCpu') ?? 2),
    minRam: Number(get('timewebcloudMinRam') ?? 4096),
    ipv4Price: get('timewebcloudIpv4Price') === undefined ? undefined : Number(get('timewebcloudIpv4Price')),
    balanceWarn: Number(get('timewebcloudBalanceWarn') ?? 500),
  };
}
