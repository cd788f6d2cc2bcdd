import { Hono } from 'hono';
import type { Context } from 'hono';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import { seededRandom } from '../util/clock.js';
import { isRecord } from '../util/guards.js';
import type { TimewebEndpoint } from '../providers/timeweb/client.js';
import { legacyServerComment } from '../providers/timeweb/ownership.js';
import type {
  TwAccountStatus,
  TwConfigurator,
  TwErrorBody,
  TwFinances,
  TwFloatingIp,
  TwLocation,
  TwOs,
  TwPreset,
  TwProject,
  TwServer,
  TwServiceCost,
  TwServerStatus,
  TwSshKey,
} from '../providers/timeweb/types.js';
import { IMAGE_ROUTES, registerFakeImages } from './fake-timeweb-images.js';
import type { FakeImages, FakeImageSeed, FakeImagesOptions } from './fake-timeweb-images.js';

/**
 * A stateful fake of the Timeweb Cloud API subset the autoscaler uses, mimicking the documented behaviour
 * (reference: docs/timeweb.md and our notes on the public API):
 * - `Authorization: Bearer <token>`, else 401 with an EMPTY body;
 * - a new server is `installing` with `networks[].ips: null` until its boot delay has passed on the injected clock,
 *   then `on` with a public IPv4 (`id`, `is_main`) — or stays `installing` / ends `no_paid`/`blocked` when told;
 * - `network.floating_ip: "create_ip"` allocates a floating IP that OUTLIVES its server (resource_id → null);
 *   deleting an IP still attached to a server fails like the real API (`delete_main_ip_error`);
 * - `GET /api/v1/servers` pages with `limit` (default 100) / `offset` and `meta.total`;
 * - errors `{status_code, error_code, message, response_id}`, `message` a string[] for 400 validation errors;
 * - 429 above 20 requests per second per endpoint (sliding window on the injected clock);
 * - DELETE server → 204, or (configurable) 200 `{server_delete:{hash}}` (NOT deleted), 423, or quarantine;
 * - catalogs: OS, presets (ru-1, nl-1, ru-3), configurators, v2 locations with zones, SSH keys, projects;
 * - faults: 5xx / non-JSON / hangs for the next N requests to a route, and the ambiguous create (created server-side,
 *   answered 500 or never answered);
 * - foreign servers in the account: the Woodpecker server's own VDS, `pool-1-agent-AbCd` without our marker,
 *   another pool's agent, a server with our marker but a foreign name, a database server.
 *
 * Time comes only from the injected clock: state is brought up to `clock.now()` on every request and control call.
 */

/** The routes the fake serves: the ones our client calls, plus everything else (answered 404). */
export type FakeTimewebRoute = TimewebEndpoint | 'other';

/** What a server ends as when its boot delay has passed. */
export type FakeBootOutcome = 'on' | 'installing' | 'no_paid' | 'blocked' | 'permanent_blocked' | 'off';

/** How `DELETE /api/v1/servers/:id` answers. */
export type FakeDeleteMode =
  /** 204, deleted. */
  | 'normal'
  /** 200 `{server_delete:{hash}}`: confirmation required, NOT deleted (token without delete permission). */
  | 'confirm'
  /** 423: deletion locked (SMS confirmation on the account). */
  | 'locked'
  /** 200 `{server_delete:{is_moved_in_quarantine:true}}`, deleted. */
  | 'quarantine';

export interface FakeCatalog {
  os: TwOs[];
  presets: TwPreset[];
  configurators: TwConfigurator[];
  locations: TwLocation[];
  sshKeys: TwSshKey[];
  projects: TwProject[];
  /** Custom images (usable as `image_id` once `created`); see fake-timeweb-images.ts. */
  images: FakeImageSeed[];
}

export interface FakeTimewebOptions {
  clock: Clock;
  /** Ids, passwords, IPs. Default `seededRandom(1)`. */
  random?: RandomFn;
  /** The valid API token. Default `fake-timeweb-token`. */
  token?: string;
  /** Time from create to the end of the install, fixed or per server. Default 60 s. */
  bootDelayMs?: number | ((server: TwServer) => number);
  /** What servers end as after the boot delay. Default `on`. */
  bootOutcome?: FakeBootOutcome | ((server: TwServer) => FakeBootOutcome);
  /** 429 above this many requests per second per route; false = no limit. Default 20. */
  rateLimitPerSecond?: number | false;
  /** When a `create_ip` floating IP appears: with the create call (default) or when the server boots. */
  floatingIpAt?: 'create' | 'boot';
  /** Seed the foreign servers and IPs (default true). */
  seedForeign?: boolean;
  /** The pool id the foreign look-alike `pool-<id>-agent-AbCd` imitates. Default `1`. */
  lookalikePoolId?: string;
  /** Replace parts of the default catalog. */
  catalog?: Partial<FakeCatalog>;
  /** Account balance in RUB; create fails with "insufficient balance" at ≤ 0. Default 5000. */
  balance?: number;
  /** What a floating IP costs (RUB/month) in `account/services/cost` and the finances. Default 150. */
  floatingIpPrice?: number;
  /** Image creation and guest power-off (fake-timeweb-images.ts). */
  images?: FakeImagesOptions;
}

export interface FakeTimewebHooks {
  /** A server was created (the simulator starts a VM here; `cloud_init` holds the user-data). */
  onServerCreated?: (server: TwServer) => void;
  /** A server finished installing (its boot outcome was applied). */
  onServerBooted?: (server: TwServer) => void;
  /** A server was deleted (the simulator stops its VM here). */
  onServerDeleted?: (server: TwServer) => void;
}

export interface FakeTimewebRequest {
  at: number;
  method: string;
  route: FakeTimewebRoute;
  /** Path with query. */
  path: string;
  status: number;
  /** Parsed JSON body of POST/PATCH requests. */
  body?: unknown;
}

export interface FakeFaultRequest {
  method: string;
  path: string;
  route: FakeTimewebRoute;
  headers: Headers;
  signal: AbortSignal;
}

/** Return a Response to answer instead of the fake (a pending promise simulates a hang); undefined to go on. */
export type FakeTimewebFaultHook = (req: FakeFaultRequest) => Response | Promise<Response> | undefined;

export interface FakeFailOptions {
  /** How many consecutive requests. Default 1. */
  times?: number;
  /** Raw body. Default: a Timeweb JSON error body. */
  body?: string;
  /** Content type of `body`. Default `application/json` (or `text/html` for a non-JSON body). */
  contentType?: string;
}

export interface FakeCreateRejection {
  /** Which create requests are rejected. */
  match: (req: Readonly<Record<string, unknown>>) => boolean;
  status: number;
  errorCode: string;
  message: string | string[];
  /** How many times; undefined = until removed. */
  times?: number;
}

export interface FakeTimeweb {
  readonly app: Hono;
  /** `fetch` bound to the app (any host), for injecting into clients without a socket. */
  readonly fetch: FetchFn;
  /** The base URL to pair with `fetch` (any URL works). */
  readonly baseUrl: string;
  readonly token: string;
  /** Callbacks for the simulator; assign freely. */
  readonly hooks: FakeTimewebHooks;
  /** Brings states up to `clock.now()` (boots). Called implicitly by every request and control method. */
  tick(): void;
  /** All servers as the API would show them (copies). */
  servers(): TwServer[];
  server(id: number): TwServer | undefined;
  serverByName(name: string): TwServer[];
  /** All floating IPs (copies). */
  floatingIps(): TwFloatingIp[];
  /** Adds a server directly (foreign servers, odd states). Default status `on` with a public IP. */
  seedServer(input: Partial<TwServer> & { name: string; publicIp?: boolean; projectId?: number }): TwServer;
  /** Adds a floating IP directly. */
  seedFloatingIp(input: Partial<TwFloatingIp>): TwFloatingIp;
  /** Sets a server's status now (e.g. `no_paid`, `blocked`, `off`). */
  setServerStatus(id: number, status: TwServerStatus): void;
  /** Boot delay for servers created from now on. */
  setBootDelay(delay: number | ((server: TwServer) => number)): void;
  /** Boot outcome for servers created from now on. */
  setBootOutcome(outcome: FakeBootOutcome | ((server: TwServer) => FakeBootOutcome)): void;
  setDeleteMode(mode: FakeDeleteMode): void;
  /** Creates of this preset (optionally only in this zone) answer 409 "not available" until turned off. */
  setPresetUnavailable(presetId: number, zone?: string, unavailable?: boolean): void;
  /** A general create rejection rule. */
  rejectCreate(rule: FakeCreateRejection): void;
  setBalance(rub: number): void;
  /** The next `times` requests to `route` answer `status` (after auth) without being processed. */
  failNext(route: FakeTimewebRoute, status: number, opts?: FakeFailOptions): void;
  /** The next `times` requests to `route` never answer (until the client gives up). */
  hangNext(route: FakeTimewebRoute, times?: number): void;
  /** The next `times` creates SUCCEED server-side, but answer 500 (`error`) or never answer (`hang`). */
  ambiguousCreate(mode: 'error' | 'hang', times?: number): void;
  /** General fault hook consulted first (after auth); undefined removes it. */
  injectFault(hook: FakeTimewebFaultHook | undefined): void;
  clearFaults(): void;
  /** Requests received per route (faulted, rate-limited and unauthorised ones included). */
  requestCounts(): Partial<Record<FakeTimewebRoute, number>>;
  /** Every request, in order. */
  requests(): FakeTimewebRequest[];
  resetRequestCounts(): void;
  /** The catalog in use (copies). */
  catalog(): FakeCatalog;
  /** Images, server disks and the guest's power-off (fake-timeweb-images.ts). */
  readonly images: FakeImages;
}

// ---------------------------------------------------------------------------------------------------------------

const INSTALLING_STATUSES = new Set(['installing', 'software_install', 'reinstalling', 'configuring', 'cloning']);

const DEFAULT_ZONE: Record<string, string> = {
  'ru-1': 'spb-3',
  'ru-2': 'nsk-1',
  'ru-3': 'msk-1',
  'kz-1': 'ala-1',
  'nl-1': 'ams-1',
  'de-1': 'fra-1',
};

/** The default catalog: realistic-looking ids and prices (RUB per month). */
export function defaultFakeCatalog(): FakeCatalog {
  const linuxReq = { cpu_min: 1, ram_min: 1024, disk_min: 10240, bandwidth_min: 100 };
  const preset = (
    id: number,
    location: string,
    cpu: number,
    ramGb: number,
    diskGb: number,
    price: number,
    extra: Partial<TwPreset> = {},
  ): TwPreset => ({
    id,
    location,
    price,
    cpu,
    cpu_frequency: '3.3',
    ram: ramGb * 1024,
    disk: diskGb * 1024,
    disk_type: 'nvme',
    bandwidth: 200,
    description: `Cloud MSK ${cpu} CPU ${ramGb} GB`,
    description_short: `${cpu} x 3.3 ГГц • ${ramGb} ГБ RAM • ${diskGb} ГБ NVMe`,
    is_allowed_local_network: true,
    tags: [],
    ...extra,
  });
  const req = (cpuMax: number, ramMaxGb: number) => ({
    cpu_min: 1,
    cpu_step: 1,
    cpu_max: cpuMax,
    ram_min: 1024,
    ram_step: 1024,
    ram_max: ramMaxGb * 1024,
    disk_min: 15360,
    disk_step: 5120,
    disk_max: 512000,
    network_bandwidth_min: 100,
    network_bandwidth_step: 100,
    network_bandwidth_max: 1000,
    gpu_min: null,
    gpu_step: null,
    gpu_max: null,
  });
  return {
    os: [
      { id: 47, family: 'linux', name: 'ubuntu', version: '20.04', version_codename: 'focal', requirements: linuxReq },
      { id: 79, family: 'linux', name: 'ubuntu', version: '22.04', version_codename: 'jammy', requirements: linuxReq },
      { id: 99, family: 'linux', name: 'ubuntu', version: '24.04', version_codename: 'noble', requirements: linuxReq },
      { id: 93, family: 'linux', name: 'debian', version: '12', version_codename: 'bookworm', requirements: linuxReq },
      {
        id: 65,
        family: 'windows',
        name: 'windows',
        version: '2012',
        version_codename: 'standard',
        // The spec's own example gives ram_min 4: the unit is not documented (GB here).
        requirements: { cpu_min: 2, ram_min: 4, disk_min: 50, bandwidth_min: 100 },
      },
    ],
    presets: [
      preset(2447, 'ru-1', 1, 1, 15, 300),
      preset(2449, 'ru-1', 1, 2, 30, 550),
      preset(2451, 'ru-1', 2, 2, 40, 800),
      preset(2453, 'ru-1', 2, 4, 50, 1000),
      preset(2455, 'ru-1', 4, 8, 80, 1900),
      preset(2457, 'ru-1', 2, 4, 50, 3000, { tags: ['vds_dedic'], description: 'Dedicated CPU' }),
      preset(4795, 'nl-1', 2, 4, 50, 1100),
      preset(4797, 'nl-1', 1, 2, 30, 600),
      preset(4801, 'ru-3', 2, 4, 50, 1050),
    ],
    configurators: [
      { id: 11, location: 'ru-1', disk_type: 'nvme', is_allowed_local_network: true, cpu_frequency: '3.3', requirements: req(16, 64) },
      { id: 15, location: 'nl-1', disk_type: 'nvme', is_allowed_local_network: true, cpu_frequency: '3.3', requirements: req(8, 32) },
      { id: 17, location: 'ru-3', disk_type: 'nvme', is_allowed_local_network: true, cpu_frequency: '3.3', requirements: req(8, 32) },
    ],
    locations: [
      { location: 'ru-1', location_code: 'RU', availability_zones: ['spb-1', 'spb-3', 'spb-4'] },
      { location: 'ru-2', location_code: 'RU', availability_zones: ['nsk-1'] },
      { location: 'ru-3', location_code: 'RU', availability_zones: ['msk-1'] },
      { location: 'kz-1', location_code: 'KZ', availability_zones: ['ala-1'] },
      { location: 'nl-1', location_code: 'NL', availability_zones: ['ams-1'] },
      { location: 'de-1', location_code: 'DE', availability_zones: ['fra-1'] },
    ],
    sshKeys: [
      { id: 501, name: 'ci-admin', body: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyOne ci-admin', created_at: '2025-01-01T00:00:00.000Z', is_default: false, used_by: [] },
      { id: 502, name: 'laptop', body: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyTwo laptop', created_at: '2025-01-01T00:00:00.000Z', is_default: true, used_by: [] },
    ],
    projects: [
      { id: 1, account_id: 'ab12345', avatar_id: null, description: '', name: 'Общий проект', is_default: true },
      { id: 2, account_id: 'ab12345', avatar_id: null, description: 'CI agents', name: 'woodpecker-agents', is_default: false },
    ],
    images: [{ id: '5f7a1c2e-8d4b-4e3a-9c1f-0a2b3c4d5e6f', name: 'ci-agent-golden', location: 'ru-1' }],
  };
}

interface ServerRec {
  id: number;
  name: string;
  comment: string;
  createdAt: number;
  bootAt: number;
  booted: boolean;
  status: TwServerStatus;
  outcome: FakeBootOutcome;
  startAt: number | null;
  os: TwOs | undefined;
  image: { id: string; name: string } | undefined;
  presetId: number | null;
  configuratorId: number | null;
  location: string;
  zone: string;
  cpu: number;
  ram: number;
  disk: number;
  bandwidth: number;
  cloudInit: string | null;
  hostname: string | null;
  projectId: number;
  sshKeyIds: number[];
  rootPass: string | null;
  vncPass: string;
  wantsIp: boolean;
}

interface Fault {
  kind: 'status' | 'hang';
  status: number;
  body?: string;
  contentType?: string;
}

const ROUTES: { method: string; re: RegExp; route: FakeTimewebRoute }[] = [
  { method: 'POST', re: /^\/api\/v1\/servers$/, route: 'POST /api/v1/servers' },
  { method: 'GET', re: /^\/api\/v1\/servers$/, route: 'GET /api/v1/servers' },
  { method: 'GET', re: /^\/api\/v1\/servers\/[^/]+$/, route: 'GET /api/v1/servers/:id' },
  { method: 'DELETE', re: /^\/api\/v1\/servers\/[^/]+$/, route: 'DELETE /api/v1/servers/:id' },
  { method: 'PATCH', re: /^\/api\/v1\/servers\/[^/]+$/, route: 'PATCH /api/v1/servers/:id' },
  { method: 'GET', re: /^\/api\/v1\/floating-ips$/, route: 'GET /api/v1/floating-ips' },
  { method: 'PATCH', re: /^\/api\/v1\/floating-ips\/[^/]+$/, route: 'PATCH /api/v1/floating-ips/:id' },
  { method: 'DELETE', re: /^\/api\/v1\/floating-ips\/[^/]+$/, route: 'DELETE /api/v1/floating-ips/:id' },
  { method: 'GET', re: /^\/api\/v1\/os\/servers$/, route: 'GET /api/v1/os/servers' },
  { method: 'GET', re: /^\/api\/v1\/presets\/servers$/, route: 'GET /api/v1/presets/servers' },
  { method: 'GET', re: /^\/api\/v1\/configurator\/servers$/, route: 'GET /api/v1/configurator/servers' },
  { method: 'GET', re: /^\/api\/v2\/locations$/, route: 'GET /api/v2/locations' },
  { method: 'GET', re: /^\/api\/v1\/ssh-keys$/, route: 'GET /api/v1/ssh-keys' },
  { method: 'GET', re: /^\/api\/v1\/projects$/, route: 'GET /api/v1/projects' },
  { method: 'GET', re: /^\/api\/v1\/projects\/[^/]+\/resources\/servers$/, route: 'GET /api/v1/projects/:id/resources/servers' },
  { method: 'GET', re: /^\/api\/v1\/account\/status$/, route: 'GET /api/v1/account/status' },
  { method: 'GET', re: /^\/api\/v1\/account\/finances$/, route: 'GET /api/v1/account/finances' },
  { method: 'GET', re: /^\/api\/v1\/account\/services\/cost$/, route: 'GET /api/v1/account/services/cost' },
  ...IMAGE_ROUTES,
];

function routeOf(method: string, path: string): FakeTimewebRoute {
  for (const r of ROUTES) if (r.method === method && r.re.test(path)) return r.route;
  return 'other';
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x);
}

const clone = <T>(x: T): T => structuredClone(x);

export function createFakeTimeweb(opts: FakeTimewebOptions): FakeTimeweb {
  const clock = opts.clock;
  const random = opts.random ?? seededRandom(1);
  const token = opts.token ?? 'fake-timeweb-token';
  const rateLimit = opts.rateLimitPerSecond === undefined ? 20 : opts.rateLimitPerSecond;
  const floatingIpAt = opts.floatingIpAt ?? 'create';
  const cat: FakeCatalog = { ...defaultFakeCatalog(), ...(opts.catalog ?? {}) };
  let bootDelay: number | ((server: TwServer) => number) = opts.bootDelayMs ?? 60_000;
  let bootOutcome: FakeBootOutcome | ((server: TwServer) => FakeBootOutcome) = opts.bootOutcome ?? 'on';
  let deleteMode: FakeDeleteMode = 'normal';
  let balance = opts.balance ?? 5000;
  const ipPrice = opts.floatingIpPrice ?? 150;
  let faultHook: FakeTimewebFaultHook | undefined;
  /** Set once the routes are registered (below); `tick` and `validateCreate` run only after that. */
  const imagesRef: { api?: FakeImages } = {};

  const servers = new Map<number, ServerRec>();
  const ips = new Map<string, TwFloatingIp>();
  const hooks: FakeTimewebHooks = {};
  const counts: Partial<Record<FakeTimewebRoute, number>> = {};
  const log: FakeTimewebRequest[] = [];
  const windows = new Map<FakeTimewebRoute, number[]>();
  const faults = new Map<FakeTimewebRoute, Fault[]>();
  let ambiguous: { mode: 'error' | 'hang'; left: number } | undefined;
  const rejections: FakeCreateRejection[] = [];
  const unavailable = new Set<string>();
  let nextServerId = 3_100_001;
  let nextIpOctet = 10;

  const hex = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16);
    return s;
  };
  const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const password = (): string => {
    const chars = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    let s = '';
    for (let i = 0; i < 16; i++) s += chars[Math.floor(random() * chars.length)] ?? 'x';
    return s;
  };
  const newIp = (): string => {
    const n = nextIpOctet++;
    return `185.${200 + Math.floor(n / 65536)}.${Math.floor(n / 256) % 256}.${n % 256}`;
  };
  const iso = (ms: number): string => new Date(ms).toISOString();

  // ---- views ----

  function attachedIps(id: number): TwFloatingIp[] {
    return [...ips.values()].filter((ip) => ip.resource_type === 'server' && ip.resource_id === id);
  }

  function view(rec: ServerRec): TwServer {
    const installing = INSTALLING_STATUSES.has(rec.status);
    const pub = attachedIps(rec.id).filter((ip) => ip.ip !== null);
    const preset = cat.presets.find((p) => p.id === rec.presetId);
    return {
      id: rec.id,
      name: rec.name,
      comment: rec.comment,
      created_at: iso(rec.createdAt),
      os: rec.os ? { id: rec.os.id, name: rec.os.name, version: rec.os.version } : { id: 0, name: 'custom', version: null },
      software: null,
      preset_id: rec.presetId,
      configurator_id: rec.configuratorId,
      location: rec.location,
      availability_zone: rec.zone,
      boot_mode: 'std',
      status: rec.status,
      start_at: rec.startAt === null ? null : iso(rec.startAt),
      is_ddos_guard: false,
      is_master_ssh: false,
      is_dedicated_cpu: (preset?.tags ?? []).includes('vds_dedic'),
      is_qemu_agent: true,
      gpu: 0,
      cpu: rec.cpu,
      cpu_frequency: '3.3',
      ram: rec.ram,
      disks: [
        {
          id: rec.id * 10,
          size: rec.disk,
          used: installing ? 0 : 2048,
          type: 'nvme',
          is_mounted: true,
          is_system: true,
          system_name: 'vda',
          status: 'done',
        },
      ],
      avatar_id: null,
      avatar_link: null,
      vnc_pass: rec.vncPass,
      root_pass: rec.rootPass,
      image: rec.image ? { id: rec.image.id, name: rec.image.name, is_custom: true } : null,
      networks: [
        {
          type: 'public',
          nat_mode: 'dnat_and_snat',
          bandwidth: rec.bandwidth,
          ips: installing
            ? null
            : pub.map((ip, i) => ({ type: 'ipv4', ip: ip.ip ?? '', ptr: ip.ptr ?? '', is_main: i === 0, id: ip.id })),
          is_ddos_guard: false,
          is_image_mounted: false,
          blocked_ports: [25],
        },
      ],
      cloud_init: rec.cloudInit,
    };
  }

  function allocateIp(rec: ServerRec): void {
    const ip: TwFloatingIp = {
      id: uuid(),
      ip: newIp(),
      is_ddos_guard: false,
      availability_zone: rec.zone,
      resource_type: 'server',
      resource_id: rec.id,
      comment: '',
      ptr: null,
    };
    ips.set(ip.id, ip);
  }

  // ---- time ----

  function tick(): void {
    const now = clock.now();
    for (const rec of servers.values()) {
      if (rec.booted || now < rec.bootAt) continue;
      rec.booted = true;
      if (rec.status !== 'installing') continue; // someone set a status meanwhile
      if (rec.outcome === 'installing') continue;
      rec.status = rec.outcome;
      rec.startAt = rec.outcome === 'on' ? rec.bootAt : null;
      if (floatingIpAt === 'boot' && rec.wantsIp && attachedIps(rec.id).length === 0) allocateIp(rec);
      hooks.onServerBooted?.(view(rec));
    }
    imagesRef.api?.tick();
  }

  // ---- responses ----

  function errorBody(status: number, errorCode: string, message: string | string[]): TwErrorBody {
    return { status_code: status, error_code: errorCode, message, response_id: uuid() };
  }

  function jsonResponse(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }

  function apiError(status: number, errorCode: string, message: string | string[]): Response {
    return jsonResponse(status, errorBody(status, errorCode, message));
  }

  const notFound = (what: string): Response => apiError(404, 'not_found', `${what} not found`);

  function hang(signal: AbortSignal): Promise<Response> {
    return new Promise<Response>((_, reject) => {
      if (signal.aborted) reject(new Error('client went away'));
      signal.addEventListener('abort', () => reject(new Error('client went away')), { once: true });
    });
  }

  function rateLimited(route: FakeTimewebRoute): boolean {
    if (rateLimit === false) return false;
    const now = clock.now();
    const list = (windows.get(route) ?? []).filter((t) => t > now - 1000);
    if (list.length >= rateLimit) {
      windows.set(route, list);
      return true;
    }
    list.push(now);
    windows.set(route, list);
    return false;
  }

  // ---- server creation ----

  function validateCreate(b: Record<string, unknown>): {
    errors: string[];
    preset?: TwPreset;
    configurator?: TwConfigurator;
    os?: TwOs;
    image?: { id: string; name: string };
    location?: string;
    zone?: string;
  } {
    const errors: string[] = [];
    const out: ReturnType<typeof validateCreate> = { errors };
    if (typeof b.name !== 'string' || b.name.trim() === '') errors.push('name must be a non-empty string');
    else if (b.name.length > 255) errors.push('name must be shorter than or equal to 255 characters');
    if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 255)) {
      errors.push('comment must be a string of at most 255 characters');
    }
    const hasPreset = b.preset_id !== undefined;
    const hasConf = b.configuration !== undefined;
    if (hasPreset && hasConf) errors.push('preset_id and configuration are mutually exclusive');
    if (!hasPreset && !hasConf) errors.push('one of preset_id or configuration is required');
    if (hasPreset) {
      const p = cat.presets.find((x) => x.id === b.preset_id);
      if (!isInt(b.preset_id)) errors.push('preset_id must be a number');
      else if (!p) errors.push(`preset_id ${b.preset_id} does not exist`);
      else {
        out.preset = p;
        out.location = p.location;
      }
    }
    if (hasConf) {
      const c = b.configuration;
      if (!isRecord(c)) errors.push('configuration must be an object');
      else {
        const conf = cat.configurators.find((x) => x.id === c.configurator_id);
        if (!conf) errors.push(`configuration.configurator_id ${String(c.configurator_id)} does not exist`);
        else {
          out.configurator = conf;
          out.location = conf.location;
          const r = conf.requirements;
          const check = (k: 'cpu' | 'ram' | 'disk', min: number, max: number, step: number): void => {
            const v = c[k];
            if (!isInt(v)) errors.push(`configuration.${k} must be an integer`);
            else if (v < min || v > max || (v - min) % step !== 0) {
              errors.push(`configuration.${k} must be between ${min} and ${max} in steps of ${step}`);
            }
          };
          check('cpu', r.cpu_min, r.cpu_max, r.cpu_step);
          check('ram', r.ram_min, r.ram_max, r.ram_step);
          check('disk', r.disk_min, r.disk_max, r.disk_step);
        }
      }
    }
    const hasOs = b.os_id !== undefined;
    const hasImage = b.image_id !== undefined;
    if (hasOs && hasImage) errors.push('os_id and image_id are mutually exclusive');
    if (!hasOs && !hasImage) errors.push('one of os_id or image_id is required');
    if (hasOs) {
      const os = cat.os.find((x) => x.id === b.os_id);
      if (!os) errors.push(`os_id ${String(b.os_id)} does not exist`);
      else out.os = os;
    }
    if (hasImage && imagesRef.api) {
      const r = imagesRef.api.bootImage(b.image_id, out.location);
      if (r.error !== undefined) errors.push(r.error);
      else out.image = r.image;
    }
    if (b.bandwidth !== undefined) {
      const bw = b.bandwidth;
      if (!isInt(bw) || bw < 100 || bw > 1000 || bw % 100 !== 0) {
        errors.push('bandwidth must be between 100 and 1000 in steps of 100');
      }
    }
    if (b.availability_zone !== undefined) {
      const zone = b.availability_zone;
      const all = cat.locations.flatMap((l) => l.availability_zones);
      if (typeof zone !== 'string' || !all.includes(zone)) {
        errors.push(`availability_zone must be one of the following values: ${all.join(', ')}`);
      } else if (out.location !== undefined) {
        const loc = cat.locations.find((l) => l.location === out.location);
        if (!loc?.availability_zones.includes(zone)) {
          errors.push(`availability_zone ${zone} is not in location ${out.location}`);
        } else out.zone = zone;
      }
    }
    if (out.zone === undefined && out.location !== undefined) {
      const loc = cat.locations.find((l) => l.location === out.location);
      out.zone = DEFAULT_ZONE[out.location] ?? loc?.availability_zones[0] ?? out.location;
    }
    if (b.ssh_keys_ids !== undefined) {
      const ids = b.ssh_keys_ids;
      if (!Array.isArray(ids) || !ids.every(isInt)) errors.push('ssh_keys_ids must be an array of numbers');
      else for (const id of ids) if (!cat.sshKeys.some((k) => k.id === id)) errors.push(`ssh key ${id} does not exist`);
    }
    if (b.project_id !== undefined && !cat.projects.some((p) => p.id === b.project_id)) {
      errors.push(`project_id ${String(b.project_id)} does not exist`);
    }
    if (b.cloud_init !== undefined && typeof b.cloud_init !== 'string') errors.push('cloud_init must be a string');
    if (b.hostname !== undefined && (typeof b.hostname !== 'string' || !/^[a-z0-9]([a-z0-9-.]{0,61}[a-z0-9])?$/i.test(b.hostname))) {
      errors.push('hostname must be a valid host name');
    }
    if (b.network !== undefined) {
      const n = b.network;
      if (!isRecord(n)) errors.push('network must be an object');
      else if (n.floating_ip !== undefined && n.floating_ip !== 'create_ip') {
        const free = [...ips.values()].find((ip) => ip.ip === n.floating_ip && ip.resource_id === null);
        if (!free) errors.push(`network.floating_ip ${String(n.floating_ip)} is not a free floating IP`);
      }
    }
    return out;
  }

  function createServer(b: Record<string, unknown>, v: ReturnType<typeof validateCreate>): ServerRec {
    const now = clock.now();
    const conf = isRecord(b.configuration) ? b.configuration : undefined;
    const preset = v.preset;
    const projectId = isInt(b.project_id) ? b.project_id : (cat.projects.find((p) => p.is_default)?.id ?? 1);
    const network = isRecord(b.network) ? b.network : undefined;
    const rec: ServerRec = {
      id: nextServerId++,
      name: String(b.name),
      comment: typeof b.comment === 'string' ? b.comment : '',
      createdAt: now,
      bootAt: now,
      booted: false,
      status: 'installing',
      outcome: 'on',
      startAt: null,
      os: v.os,
      image: v.image,
      presetId: preset?.id ?? null,
      configuratorId: v.configurator?.id ?? null,
      location: v.location ?? 'ru-1',
      zone: v.zone ?? 'spb-3',
      cpu: preset?.cpu ?? Number(conf?.cpu),
      ram: preset?.ram ?? Number(conf?.ram),
      disk: preset?.disk ?? Number(conf?.disk),
      bandwidth: isInt(b.bandwidth) ? b.bandwidth : (preset?.bandwidth ?? 100),
      cloudInit: typeof b.cloud_init === 'string' ? b.cloud_init : null,
      hostname: typeof b.hostname === 'string' ? b.hostname : null,
      projectId,
      sshKeyIds: Array.isArray(b.ssh_keys_ids) ? b.ssh_keys_ids.filter(isInt) : [],
      rootPass: b.is_root_password_required === false ? null : password(),
      vncPass: password(),
      wantsIp: network?.floating_ip === 'create_ip',
    };
    servers.set(rec.id, rec);
    const first = view(rec);
    rec.bootAt = now + Math.max(0, typeof bootDelay === 'function' ? bootDelay(first) : bootDelay);
    rec.outcome = typeof bootOutcome === 'function' ? bootOutcome(first) : bootOutcome;
    if (rec.wantsIp && floatingIpAt === 'create') allocateIp(rec);
    if (typeof network?.floating_ip === 'string' && network.floating_ip !== 'create_ip') {
      const free = [...ips.values()].find((ip) => ip.ip === network.floating_ip && ip.resource_id === null);
      if (free) {
        free.resource_type = 'server';
        free.resource_id = rec.id;
      }
    }
    hooks.onServerCreated?.(view(rec));
    return rec;
  }

  function deleteServerRec(rec: ServerRec): void {
    servers.delete(rec.id);
    for (const ip of attachedIps(rec.id)) ip.resource_id = null; // the IP outlives its server, and keeps costing
    hooks.onServerDeleted?.(view(rec));
  }

  // ---- seeding ----

  function seedServer(input: Partial<TwServer> & { name: string; publicIp?: boolean; projectId?: number }): TwServer {
    const now = clock.now();
    const preset = cat.presets.find((p) => p.id === (input.preset_id ?? 2453)) ?? cat.presets[0];
    const created = input.created_at ? Date.parse(input.created_at) : now - 30 * 86_400_000;
    const status = input.status ?? 'on';
    const os = cat.os.find((o) => o.id === (input.os?.id ?? 99)) ?? cat.os[0];
    const rec: ServerRec = {
      id: input.id ?? nextServerId++,
      name: input.name,
      comment: input.comment ?? '',
      createdAt: created,
      bootAt: created,
      booted: !INSTALLING_STATUSES.has(status),
      status,
      outcome: 'on',
      startAt: status === 'on' ? created : null,
      os,
      image: undefined,
      presetId: preset?.id ?? null,
      configuratorId: null,
      location: input.location ?? preset?.location ?? 'ru-1',
      zone: input.availability_zone ?? DEFAULT_ZONE[preset?.location ?? 'ru-1'] ?? 'spb-3',
      cpu: input.cpu ?? preset?.cpu ?? 2,
      ram: input.ram ?? preset?.ram ?? 4096,
      disk: preset?.disk ?? 51200,
      bandwidth: preset?.bandwidth ?? 200,
      cloudInit: input.cloud_init ?? null,
      hostname: null,
      projectId: input.projectId ?? 1,
      sshKeyIds: [],
      rootPass: password(),
      vncPass: password(),
      wantsIp: input.publicIp !== false,
    };
    if (rec.id >= nextServerId) nextServerId = rec.id + 1;
    servers.set(rec.id, rec);
    if (rec.wantsIp) allocateIp(rec);
    return view(rec);
  }

  function seedFloatingIp(input: Partial<TwFloatingIp>): TwFloatingIp {
    const ip: TwFloatingIp = {
      id: input.id ?? uuid(),
      ip: input.ip ?? newIp(),
      is_ddos_guard: input.is_ddos_guard ?? false,
      availability_zone: input.availability_zone ?? 'spb-3',
      resource_type: input.resource_type ?? (input.resource_id ? 'server' : null),
      resource_id: input.resource_id ?? null,
      comment: input.comment ?? '',
      ptr: input.ptr ?? null,
    };
    ips.set(ip.id, ip);
    return clone(ip);
  }

  if (opts.seedForeign !== false) {
    const poolId = opts.lookalikePoolId ?? '1';
    seedServer({ id: 1001, name: 'woodpecker-server', comment: 'Woodpecker CI server — do not delete' });
    // Named exactly like one of our agents, but without our marker: must never be touched.
    seedServer({ id: 1002, name: `pool-${poolId}-agent-AbCd`, comment: '' });
    // Another pool's agent, properly marked for ITS pool.
    seedServer({ id: 1003, name: 'pool-2-agent-XyZw', comment: legacyServerComment('2', 77) });
    // Our marker, but a name outside the pool pattern: still foreign.
    seedServer({ id: 1004, name: `pool-${poolId}-builder`, comment: legacyServerComment(poolId, 5) });
    seedServer({ id: 1005, name: 'db-primary', comment: 'postgres 16', publicIp: false, preset_id: 2455 });
    // Foreign unattached IPs: a reserved one with a comment, and one with an empty comment.
    seedFloatingIp({ comment: 'reserved for vpn' });
    seedFloatingIp({ comment: '' });
  }

  // ---- HTTP ----

  const app = new Hono();

  app.use('*', async (c, next) => {
    tick();
    const url = new URL(c.req.url);
    const method = c.req.method;
    const route = routeOf(method, url.pathname);
    counts[route] = (counts[route] ?? 0) + 1;
    let body: unknown;
    if (method === 'POST' || method === 'PATCH') {
      try {
        body = await c.req.raw.clone().json();
      } catch {
        body = undefined;
      }
    }
    const entry: FakeTimewebRequest = { at: clock.now(), method, route, path: url.pathname + url.search, status: 0 };
    if (body !== undefined) entry.body = body;
    log.push(entry);
    const respond = (r: Response): Response => {
      entry.status = r.status;
      return r;
    };

    if (c.req.header('authorization') !== `Bearer ${token}`) return respond(new Response(null, { status: 401 }));
    if (rateLimited(route)) return respond(apiError(429, 'too_many_requests', 'Too Many Requests'));

    if (faultHook) {
      const r = faultHook({ method, path: url.pathname, route, headers: c.req.raw.headers, signal: c.req.raw.signal });
      if (r !== undefined) return respond(await r);
    }
    const queue = faults.get(route);
    const fault = queue?.shift();
    if (queue && queue.length === 0) faults.delete(route);
    if (fault?.kind === 'hang') return respond(await hang(c.req.raw.signal));
    if (fault?.kind === 'status') {
      const text = fault.body ?? JSON.stringify(errorBody(fault.status, 'internal_server_error', 'Internal Server Error'));
      const ct = fault.contentType ?? (fault.body === undefined ? 'application/json' : 'text/html');
      return respond(new Response(text, { status: fault.status, headers: { 'content-type': ct } }));
    }
    await next();
    entry.status = c.res.status;
    return undefined;
  });

  const idParam = (c: Context): number | undefined => {
    const raw = c.req.param('id') ?? '';
    return /^\d+$/.test(raw) ? Number(raw) : undefined;
  };

  /** The request's JSON object body, or the 400 the API answers for anything else. */
  const objectBody = async (c: Context): Promise<Record<string, unknown> | Response> => {
    let b: unknown;
    try {
      b = await c.req.json();
    } catch {
      return apiError(400, 'bad_request', ['body must be valid JSON']);
    }
    return isRecord(b) ? b : apiError(400, 'bad_request', ['body must be an object']);
  };

  app.post('/api/v1/servers', async (c) => {
    const b = await objectBody(c);
    if (b instanceof Response) return b;
    const v = validateCreate(b);
    if (v.errors.length > 0) return apiError(400, 'bad_request', v.errors);
    if (balance <= 0) {
      return apiError(400, 'no_balance', 'Insufficient funds: top up the balance to create a server');
    }
    const key = `${String(b.preset_id ?? '')}`;
    if (key !== '' && (unavailable.has(key) || unavailable.has(`${key}:${v.zone ?? ''}`))) {
      return apiError(409, 'preset_unavailable', `Preset ${key} is temporarily unavailable in zone ${v.zone ?? ''}: no free resources`);
    }
    for (let i = 0; i < rejections.length; i++) {
      const rule = rejections[i];
      if (!rule || !rule.match(b)) continue;
      if (rule.times !== undefined && --rule.times <= 0) rejections.splice(i, 1);
      return apiError(rule.status, rule.errorCode, rule.message);
    }
    const rec = createServer(b, v);
    if (ambiguous && ambiguous.left > 0) {
      const mode = ambiguous.mode;
      if (--ambiguous.left <= 0) ambiguous = undefined;
      if (mode === 'hang') return hang(c.req.raw.signal);
      return apiError(500, 'internal_server_error', 'Internal Server Error');
    }
    return jsonResponse(201, { server: view(rec), response_id: uuid() });
  });

  app.get('/api/v1/servers', (c) => {
    const limitRaw = c.req.query('limit');
    const offsetRaw = c.req.query('offset');
    const limit = limitRaw === undefined ? 100 : Number(limitRaw);
    const offset = offsetRaw === undefined ? 0 : Number(offsetRaw);
    const errors: string[] = [];
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) errors.push('limit must be an integer between 1 and 1000');
    if (!Number.isInteger(offset) || offset < 0) errors.push('offset must be a non-negative integer');
    if (errors.length > 0) return apiError(400, 'bad_request', errors);
    const all = [...servers.values()].sort((a, b) => a.id - b.id);
    return jsonResponse(200, {
      servers: all.slice(offset, offset + limit).map(view),
      meta: { total: all.length },
      response_id: uuid(),
    });
  });

  app.get('/api/v1/servers/:id', (c) => {
    const id = idParam(c);
    const rec = id === undefined ? undefined : servers.get(id);
    if (!rec) return notFound('Server');
    return jsonResponse(200, { server: view(rec), response_id: uuid() });
  });

  // Update: only `name` and `comment` are modelled (each at most 255 characters, as the spec says).
  app.patch('/api/v1/servers/:id', async (c) => {
    const id = idParam(c);
    const rec = id === undefined ? undefined : servers.get(id);
    if (!rec) return notFound('Server');
    const b = await objectBody(c);
    if (b instanceof Response) return b;
    const errors: string[] = [];
    for (const key of ['name', 'comment'] as const) {
      const v = b[key];
      if (v !== undefined && (typeof v !== 'string' || v.length > 255)) errors.push(`${key} must be a string of at most 255 characters`);
    }
    if (typeof b.name === 'string' && b.name.trim() === '') errors.push('name must not be empty');
    if (errors.length > 0) return apiError(400, 'bad_request', errors);
    if (typeof b.comment === 'string') rec.comment = b.comment;
    if (typeof b.name === 'string') rec.name = b.name;
    return jsonResponse(200, { server: view(rec), response_id: uuid() });
  });

  app.delete('/api/v1/servers/:id', (c) => {
    const id = idParam(c);
    const rec = id === undefined ? undefined : servers.get(id);
    if (!rec) return notFound('Server');
    switch (deleteMode) {
      case 'confirm':
        return jsonResponse(200, { server_delete: { hash: uuid(), is_moved_in_quarantine: false }, response_id: uuid() });
      case 'locked':
        return apiError(423, 'locked', 'Server deletion requires confirmation by SMS');
      case 'quarantine':
        deleteServerRec(rec);
        return jsonResponse(200, { server_delete: { is_moved_in_quarantine: true }, response_id: uuid() });
      case 'normal':
        deleteServerRec(rec);
        return new Response(null, { status: 204 });
    }
  });

  app.get('/api/v1/floating-ips', () => {
    const list = [...ips.values()].map(clone);
    return jsonResponse(200, { ips: list, meta: { total: list.length }, response_id: uuid() });
  });

  app.patch('/api/v1/floating-ips/:id', async (c) => {
    const ip = ips.get(c.req.param('id'));
    if (!ip) return notFound('Floating IP');
    const b = await objectBody(c);
    if (b instanceof Response) return b;
    const errors: string[] = [];
    if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 255)) {
      errors.push('comment must be a string of at most 255 characters');
    }
    if (b.ptr !== undefined && typeof b.ptr !== 'string') errors.push('ptr must be a string');
    if (errors.length > 0) return apiError(400, 'bad_request', errors);
    if (typeof b.comment === 'string') ip.comment = b.comment;
    if (typeof b.ptr === 'string') ip.ptr = b.ptr;
    return jsonResponse(200, { ip: clone(ip), response_id: uuid() });
  });

  app.delete('/api/v1/floating-ips/:id', (c) => {
    const ip = ips.get(c.req.param('id'));
    if (!ip) return notFound('Floating IP');
    if (ip.resource_type === 'server' && ip.resource_id !== null && servers.has(ip.resource_id)) {
      return apiError(400, 'delete_main_ip_error', 'Can`t delete main ip');
    }
    ips.delete(ip.id);
    return new Response(null, { status: 204 });
  });

  const listed = (key: string, items: unknown[]): Response =>
    jsonResponse(200, { [key]: clone(items), meta: { total: items.length }, response_id: uuid() });

  app.get('/api/v1/os/servers', () => listed('servers_os', cat.os));
  app.get('/api/v1/presets/servers', () => listed('server_presets', cat.presets));
  app.get('/api/v1/configurator/servers', () => listed('server_configurators', cat.configurators));
  app.get('/api/v2/locations', () => listed('locations', cat.locations));
  app.get('/api/v1/ssh-keys', () => listed('ssh_keys', cat.sshKeys));
  app.get('/api/v1/projects', () => listed('projects', cat.projects));
  app.get('/api/v1/projects/:id/resources/servers', (c) => {
    const id = idParam(c);
    if (id === undefined || !cat.projects.some((p) => p.id === id)) return notFound('Project');
    return listed('servers', [...servers.values()].filter((s) => s.projectId === id).map(view));
  });
  app.get('/api/v1/account/status', () => {
    const status: TwAccountStatus = {
      is_blocked: false,
      is_permanent_blocked: false,
      is_send_bill_letters: true,
      company_info: { id: null, name: null },
      last_password_changed_at: '2025-01-01T00:00:00.000Z',
      ym_client_id: null,
    };
    return jsonResponse(200, { status, response_id: uuid() });
  });
  // Monthly prices of the services the account pays for: each server (its IPs as parts) and each floating IP on its
  // own. The real API does not say which period `cost` is; presets are priced monthly, so the fake uses months.
  function serviceCosts(): TwServiceCost[] {
    const out: TwServiceCost[] = [];
    for (const s of servers.values()) {
      const cost = cat.presets.find((x) => x.id === s.presetId)?.price ?? 730;
      const parts = attachedIps(s.id).map((ip) => ({ type: 'floating_ip', cost: ipPrice, description: `IPv4 ${ip.ip}` }));
      out.push({ type: 'server', service_id: s.id, cost, total_cost: cost + parts.length * ipPrice, services: parts });
    }
    for (const ip of ips.values()) if (ip.resource_id === null) out.push({ type: 'floating_ip', cost: ipPrice, total_cost: ipPrice, services: [] });
    return out;
  }
  app.get('/api/v1/account/services/cost', () => jsonResponse(200, { services_costs: serviceCosts(), response_id: uuid() }));
  app.get('/api/v1/account/finances', () => {
    const hourly = serviceCosts().reduce((sum, c) => sum + (c.total_cost ?? c.cost), 0) / 730;
    const finances: TwFinances = {
      balance,
      currency: 'RUB',
      discount_percent: 0,
      discount_end_date_at: null,
      hourly_cost: Math.round(hourly * 100) / 100,
      hourly_fee: 0,
      monthly_cost: Math.round(hourly * 730),
      monthly_fee: 0,
      total_paid: 10000,
      hours_left: hourly > 0 ? Math.floor(balance / hourly) : null,
      autopay_card_info: null,
    };
    return jsonResponse(200, { finances, response_id: uuid() });
  });

  const images = registerFakeImages(
    app,
    {
      now: () => clock.now(),
      uuid,
      servers: () => servers.values(),
      server: (id) => servers.get(id),
      locations: () => cat.locations.map((l) => l.location),
      jsonResponse,
      apiError,
      objectBody,
    },
    cat.images,
    opts.images,
  );
  imagesRef.api = images;

  app.notFound(() => apiError(404, 'not_found', 'Route not found'));
  app.onError((err) => apiError(500, 'internal_server_error', err.message));

  const fetch: FetchFn = (input, init) => {
    const req = input instanceof Request && init === undefined ? input : new Request(input, init);
    return Promise.resolve(app.fetch(req));
  };

  return {
    app,
    fetch,
    baseUrl: 'http://timeweb.fake',
    token,
    hooks,
    tick,
    servers: () => {
      tick();
      return [...servers.values()].sort((a, b) => a.id - b.id).map(view);
    },
    server: (id) => {
      tick();
      const rec = servers.get(id);
      return rec ? view(rec) : undefined;
    },
    serverByName: (name) => {
      tick();
      return [...servers.values()].filter((s) => s.name === name).map(view);
    },
    floatingIps: () => {
      tick();
      return [...ips.values()].map(clone);
    },
    seedServer: (input) => {
      tick();
      return seedServer(input);
    },
    seedFloatingIp,
    setServerStatus: (id, status) => {
      tick();
      const rec = servers.get(id);
      if (!rec) throw new Error(`fake timeweb: no server ${id}`);
      rec.status = status;
      rec.booted = true;
    },
    setBootDelay: (d) => {
      bootDelay = d;
    },
    setBootOutcome: (o) => {
      bootOutcome = o;
    },
    setDeleteMode: (m) => {
      deleteMode = m;
    },
    setPresetUnavailable: (presetId, zone, on = true) => {
      const key = zone === undefined ? String(presetId) : `${presetId}:${zone}`;
      if (on) unavailable.add(key);
      else unavailable.delete(key);
    },
    rejectCreate: (rule) => {
      rejections.push({ ...rule });
    },
    setBalance: (rub) => {
      balance = rub;
    },
    failNext: (route, status, o = {}) => {
      const q = faults.get(route) ?? [];
      const fault: Fault = { kind: 'status', status };
      if (o.body !== undefined) fault.body = o.body;
      if (o.contentType !== undefined) fault.contentType = o.contentType;
      for (let i = 0; i < (o.times ?? 1); i++) q.push({ ...fault });
      faults.set(route, q);
    },
    hangNext: (route, times = 1) => {
      const q = faults.get(route) ?? [];
      for (let i = 0; i < times; i++) q.push({ kind: 'hang', status: 0 });
      faults.set(route, q);
    },
    ambiguousCreate: (mode, times = 1) => {
      ambiguous = { mode, left: times };
    },
    injectFault: (hook) => {
      faultHook = hook;
    },
    clearFaults: () => {
      faults.clear();
      ambiguous = undefined;
      faultHook = undefined;
      rejections.length = 0;
      unavailable.clear();
    },
    requestCounts: () => ({ ...counts }),
    requests: () => log.map((e) => ({ ...e })),
    resetRequestCounts: () => {
      for (const k of Object.keys(counts)) delete counts[k as FakeTimewebRoute];
      log.length = 0;
    },
    catalog: () => clone(cat),
    images,
  };
}
