import type { Logger } from 'pino';
import type { Clock, FetchFn, RandomFn } from '../util/clock.js';
import type { OptionSpec, OptionValues } from '../config/types.js';
import type { ForeignResource } from '../engine/pool.js';

/**
 * How the cloud bills a server. It changes when an idle agent is torn down (reference §4.10):
 * - `per-second`: drain and remove after `agent-idle-timeout` without work;
 * - `hourly`: every started hour is paid, so an idle agent is kept until the teardown window before its next
 *   paid-hour boundary (anchored at its creation time).
 */
export type BillingModel = 'per-second' | 'hourly';

/** Coarse server state the engine reasons about. */
export type ServerState = 'booting' | 'running' | 'failed' | 'deleting';

export interface ProviderServer {
  /** Provider-side id (opaque to the engine). */
  id: string;
  /** Equals the agent name (`pool-<id>-agent-<rand>`). */
  name: string;
  /** Creation time, unix ms. */
  createdAt: number;
  state: ServerState;
  /** The provider's own status word, for humans (e.g. `installing`, `on`, `no_paid`). */
  status: string;
  publicIpv4?: string;
  /** The Woodpecker agent id the server's ownership marker names (proves which agent it was made for). */
  agentId?: number;
}

export interface DeployAgent {
  id: number;
  name: string;
  /** Per-agent secret; goes only into user-data, never into logs. */
  token: string;
}

export interface DeployRequest {
  agent: DeployAgent;
  /** Rendered cloud-init user-data (contains the agent token). */
  userData: string;
}

export type RemoveResult = 'removed' | 'not-found';

export interface SweepResult {
  /** Human-readable names of the billed leftovers that were deleted (e.g. `floating-ip 1.2.3.4`). */
  deleted: string[];
}

export interface PriceInfo {
  /** Price of one agent server per hour, in `currency`, everything it is billed for included (e.g. its public IP). */
  perHour: number;
  currency: string;
  /** What the price is for, e.g. `preset 2453 (2 CPU / 4 GB / 50 GB)`. */
  description: string;
  /** The parts of `perHour` (e.g. the server and its public IPv4), when there are several. */
  parts?: { label: string; perHour: number }[];
}

/** The account's balance, as the provider last read it. */
export interface AccountBalance {
  amount: number;
  currency: string;
  /** Hours of service the balance pays for at the account's current spending, when known. */
  hoursLeft?: number;
  /** The warning threshold (0 = none); `low` is amount < warnBelow. */
  warnBelow: number;
  low: boolean;
}

/**
 * Thrown by `deploy` when it cannot tell whether the server was created: the create got no clear answer and looking
 * for the server failed too. The engine then keeps the agent registered — the server may exist, and its agent then
 * connects and counts against max-agents; if no server turns up, the dangling clean-up removes the agent.
 */
export class DeployOutcomeUnknownError extends Error {
  override name = 'DeployOutcomeUnknownError';
}

/** How long to wait after a 429 that carries no (valid) `Retry-After`. */
export const DEFAULT_RETRY_AFTER_MS = 60_000;

/**
 * Thrown by `deploy` when the provider refused the create because of its rate limit (HTTP 429): no server was
 * created. The engine unregisters the agent and creates nothing before `retryAfterMs` has passed; it is not a
 * provisioning failure (no back-off, no failure count).
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  /** The provider's `Retry-After`, in ms (DEFAULT_RETRY_AFTER_MS when it sent none). */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The provider contract. Everything the engine knows about servers comes from `list()`.
 * - `deploy` creates exactly one server named `agent.name`; it must never create a second one for the same name
 *   (look before you create again after an ambiguous failure). When it cannot tell whether the server exists, it
 *   throws `DeployOutcomeUnknownError`.
 * - `remove(name)` is idempotent: a server that is already gone is `not-found`, not an error. It must only ever
 *   touch servers that carry this pool's ownership markers.
 * - `list()` returns this pool's servers INCLUDING booting ones; it throws when the list cannot be read.
 */
export interface Provider {
  readonly name: string;
  readonly billingModel: BillingModel;
  /** Commands that run in cloud-init before the agent starts (metadata blackhole). */
  readonly preExec: readonly string[];
  readonly postExec: readonly string[];
  /** Throws `RateLimitedError` when the provider's rate limit refused the create (nothing was created). */
  deploy(req: DeployRequest, signal?: AbortSignal): Promise<ProviderServer>;
  remove(name: string, signal?: AbortSignal): Promise<RemoveResult>;
  list(signal?: AbortSignal): Promise<ProviderServer[]>;
  /** `list()` plus the earlier release's servers (adoption candidates) and the foreign look-alikes. Optional. */
  inventory?(signal?: AbortSignal): Promise<ProviderInventory>;
  /**
   * Upgrades the marker of an earlier release's server (`legacy` in the inventory) to this installation's, once the
   * engine proved it ours (its agent, by name and id). Never touches any other server. Optional.
   */
  adopt?(name: string, agentId: number, signal?: AbortSignal): Promise<void>;
  /** Periodic clean-up of billed leftovers the provider owns (e.g. unattached floating IPs). Optional. */
  sweep?(signal?: AbortSignal): Promise<SweepResult>;
  /**
   * Upkeep writes on the pool's own servers seen by the last `list()` (e.g. marking a new server's floating IP),
   * run after each full tick's actions. Never called in a dry run, so `list()` itself must stay read-only. Best
   * effort: it logs its own failures. Optional.
   */
  tend?(signal?: AbortSignal): Promise<void>;
  /** Price of one agent server, for cost estimates. Optional. */
  price?(): PriceInfo | undefined;
  /** Reads the account balance (a GET; callers poll it every few minutes, not every tick); logs a low balance. */
  balance?(signal?: AbortSignal): Promise<AccountBalance>;
}

/** One listing, sorted by ownership (see `Provider.inventory`). */
export interface ProviderInventory {
  /** Servers with this installation's markers (what `list()` returns). */
  servers: ProviderServer[];
  /** Servers with an earlier release's marker for this pool (no installation id), with the agent id it names. */
  legacy: ProviderServer[];
  /** Servers named like the pool that are not ours. */
  foreign: ForeignResource[];
}

/** What a provider factory receives. */
export interface ProviderContext {
  poolId: string;
  /** This installation's identity (markers carry it). */
  installationId: string;
  /** Values of this provider's own options (see `ProviderDefinition.options`). */
  values: OptionValues;
  fetch: FetchFn;
  clock: Clock;
  random: RandomFn;
  logger: Logger;
  signal?: AbortSignal;
  /** Per-request timeout for the provider's API client (ms). */
  requestTimeout?: number;
  /** Observability hook for every API request the provider makes. */
  onRequest?: (e: { endpoint: string; status: number; durationMs: number; rateLimited?: boolean }) => void;
  /**
   * Several pools (`--pools-file`): the first pool's provider. A provider of the same kind shares its API client, so
   * all pools share one rate limit (the API token and URL are one value for the daemon).
   */
  sibling?: Provider;
}

export interface ProviderDefinition {
  name: string;
  description: string;
  /** The provider's flags; they join the one configuration table (help, docs, env, validation). */
  options: readonly OptionSpec[];
  /** Validates options and resolves cloud resources at start-up; throws a ConfigError on a wrong value. */
  create(ctx: ProviderContext): Promise<Provider>;
}
