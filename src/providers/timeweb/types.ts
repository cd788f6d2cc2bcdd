/**
 * Our own types for the subset of the Timeweb Cloud public API (https://api.timeweb.cloud) the autoscaler uses.
 * Written from the OpenAPI document and the behaviour of Timeweb's own CLI (twc); see docs/timeweb.md.
 * Fields the live API may omit or null are typed as optional/nullable even where the spec says "required".
 */

/** Server status enum (spec), plus any unknown word the API may send. */
export type TwServerStatus =
  | 'installing'
  | 'software_install'
  | 'reinstalling'
  | 'on'
  | 'off'
  | 'turning_on'
  | 'turning_off'
  | 'hard_turning_off'
  | 'rebooting'
  | 'hard_rebooting'
  | 'removing'
  | 'removed'
  | 'cloning'
  | 'transfer'
  | 'blocked'
  | 'configuring'
  | 'no_paid'
  | 'permanent_blocked'
  | (string & {});

export interface TwServerIp {
  type: 'ipv4' | 'ipv6' | (string & {});
  ip: string;
  ptr?: string | null;
  is_main: boolean;
  /** Undocumented: the floating IP id (twc deletes IPs through it). */
  id?: string | null;
}

export interface TwServerNetwork {
  /** Only on private (VPC) networks. */
  id?: string;
  type: 'public' | 'local' | (string & {});
  nat_mode?: string;
  bandwidth?: number | null;
  /** null or empty while the server installs. */
  ips: TwServerIp[] | null;
  is_ddos_guard?: boolean;
  is_image_mounted?: boolean;
  blocked_ports?: number[];
}

export interface TwServerDisk {
  id: number;
  size: number;
  used?: number;
  type?: string;
  is_mounted?: boolean;
  is_system?: boolean;
  system_name?: string;
  status?: string;
}

/** The `vds` object. Holds secrets (`root_pass`, `vnc_pass`, `cloud_init`): never log it raw. */
export interface TwServer {
  id: number;
  name: string;
  /** Always present in the spec; tolerate null. */
  comment: string | null;
  /** ISO 8601 */
  created_at: string;
  os?: { id: number; name: string; version: string | null } | null;
  software?: { id?: number | null; name?: string | null } | null;
  preset_id?: number | null;
  configurator_id?: number | null;
  location?: string;
  availability_zone?: string;
  boot_mode?: string;
  status: TwServerStatus;
  start_at?: string | null;
  is_ddos_guard?: boolean;
  is_master_ssh?: boolean;
  is_dedicated_cpu?: boolean;
  is_qemu_agent?: boolean;
  gpu?: number;
  cpu: number;
  cpu_frequency?: string;
  ram: number;
  disks?: TwServerDisk[];
  avatar_id?: string | null;
  avatar_link?: string | null;
  /** secret */
  vnc_pass?: string;
  /** secret */
  root_pass?: string | null;
  image?: { id: string; name: string; is_custom: boolean } | null;
  networks?: TwServerNetwork[];
  /** Echoes the user-data: contains the agent secret. */
  cloud_init?: string | null;
  /** Undocumented, seen in real use. */
  main_ipv4?: string | null;
}

export interface TwCreateServerConfiguration {
  configurator_id: number;
  /** MB */
  disk: number;
  cpu: number;
  /** MB */
  ram: number;
  gpu?: number;
}

export interface TwCreateServerNetwork {
  /** VPC id */
  id?: string;
  /** A public IP to attach, or `create_ip` to allocate a new public IPv4 (twc's "official dirty hack"). */
  floating_ip?: string;
  local_ip?: string;
}

/** `POST /api/v1/servers`. Exactly one of preset_id/configuration and one of os_id/image_id. */
export interface TwCreateServerRequest {
  name: string;
  comment?: string;
  preset_id?: number;
  configuration?: TwCreateServerConfiguration;
  os_id?: number;
  image_id?: string;
  software_id?: number;
  bandwidth?: number;
  is_ddos_guard?: boolean;
  ssh_keys_ids?: number[];
  network?: TwCreateServerNetwork;
  /** Plain-text user-data (not base64). Secret. */
  cloud_init?: string;
  availability_zone?: string;
  project_id?: number;
  hostname?: string;
  /** Not in the spec; twc and terraform send it. */
  is_root_password_required?: boolean;
}

/** Result of `DELETE /api/v1/servers/{id}`. */
export type TwDeleteServerResult =
  | { kind: 'deleted' }
  | { kind: 'not-found' }
  /** 200 with a hash: NOT deleted; the token lacks delete permission or Telegram confirmation is on. */
  | { kind: 'confirmation-required'; hash: string }
  /** 200 with `is_moved_in_quarantine: true`: gone from the user's point of view. */
  | { kind: 'quarantined' };

export interface TwFloatingIp {
  /** uuid */
  id: string;
  ip: string | null;
  is_ddos_guard?: boolean;
  availability_zone?: string | null;
  resource_type: 'server' | 'balancer' | 'database' | 'network' | (string & {}) | null;
  resource_id: number | null;
  comment: string | null;
  ptr?: string | null;
}

export interface TwOsRequirements {
  cpu_min?: number;
  /** Unit not documented (the spec example says 4): see `normaliseMb` in the provider. */
  ram_min?: number;
  disk_min?: number;
  bandwidth_min?: number;
}

export interface TwOs {
  id: number;
  family?: string;
  name: string;
  version: string | null;
  version_codename?: string | null;
  description?: string;
  requirements?: TwOsRequirements | null;
}

export interface TwPreset {
  id: number;
  location: string;
  /** RUB per month (assumed; presets are sold monthly). */
  price: number;
  cpu: number;
  cpu_frequency?: string;
  /** MB */
  ram: number;
  /** MB */
  disk: number;
  disk_type?: string;
  /** Mbit/s; sent as `bandwidth` on create. */
  bandwidth: number;
  description?: string;
  description_short?: string;
  is_allowed_local_network?: boolean;
  tags?: string[];
}

export interface TwConfiguratorRequirements {
  cpu_min: number;
  cpu_step: number;
  cpu_max: number;
  /** MB */
  ram_min: number;
  ram_step: number;
  ram_max: number;
  /** MB */
  disk_min: number;
  disk_step: number;
  disk_max: number;
  network_bandwidth_min: number;
  network_bandwidth_step: number;
  network_bandwidth_max: number;
  gpu_min?: number | null;
  gpu_step?: number | null;
  gpu_max?: number | null;
}

export interface TwConfigurator {
  id: number;
  location: string;
  disk_type?: string;
  is_allowed_local_network?: boolean;
  cpu_frequency?: string;
  requirements: TwConfiguratorRequirements;
}

export interface TwLocation {
  location: string;
  location_code?: string;
  availability_zones: string[];
}

export interface TwSshKey {
  id: number;
  name: string;
  body?: string;
  created_at?: string;
  is_default?: boolean;
  used_by?: { id: number; name: string }[];
}

export interface TwProject {
  id: number;
  account_id?: string;
  avatar_id?: string | null;
  description?: string;
  name: string;
  is_default?: boolean;
}

export interface TwAccountStatus {
  is_blocked: boolean;
  is_permanent_blocked: boolean;
  is_send_bill_letters?: boolean;
  company_info?: { id?: number | string | null; name?: string | null } | null;
  last_password_changed_at?: string | null;
  ym_client_id?: string | null;
}

export interface TwFinances {
  balance: number;
  currency: string;
  discount_percent?: number;
  discount_end_date_at?: string | null;
  hourly_cost?: number;
  hourly_fee?: number;
  monthly_cost?: number;
  monthly_fee?: number;
  total_paid?: number;
  /** Hours of service the balance pays for. */
  hours_left?: number | null;
  autopay_card_info?: unknown;
}

/** One entry of `GET /api/v1/account/services/cost` (`services_costs[]`). The period of `cost` is not documented. */
export interface TwServiceCost {
  /** `server`, `floating_ip`, `floating_ip_with_ddos_guard`, … */
  type: string;
  cost: number;
  total_cost?: number;
  service_id?: number;
  /** Parts billed with the service: `type` is `floating_ip`, `additional_ips`, `bandwidth`, `disks`, … */
  services?: { id?: number; type?: string; cost?: number; description?: string }[];
}

/** Error body: `message` may be a string or a string[] (400 validation errors). */
export interface TwErrorBody {
  status_code?: number;
  error_code?: string;
  message?: string | string[];
  response_id?: string;
}
