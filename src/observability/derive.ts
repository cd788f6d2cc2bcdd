import type { PriceInfo } from '../providers/types.js';

/**
 * Small pieces shared by the metrics and the status tracker: the price source, the cost meter, text scrubbing and
 * the API request event the HTTP clients report.
 */

/** What an HTTP client reports per attempt (`onRequest` hook of the Woodpecker and Timeweb clients). */
export interface ApiRequestEvent {
  /** Route template, e.g. `GET /api/agents/:id/tasks` (never a concrete URL: it becomes a metric label). */
  endpoint: string;
  /** HTTP status; 0 = network error or timeout. */
  status: number;
  durationMs: number;
  /** The client was throttled (429, or its own rate limiter made it wait). A 429 status counts as well. */
  rateLimited?: boolean;
}

export type ApiName = 'woodpecker' | 'timeweb';

/** The price of one agent server: a fixed value, or a getter (e.g. `() => provider.price?.()`). */
export type PriceSource = PriceInfo | (() => PriceInfo | undefined) | undefined;

export function resolvePrice(source: PriceSource): PriceInfo | undefined {
  if (source === undefined) return undefined;
  if (typeof source === 'function') {
    try {
      return source();
    } catch {
      return undefined;
    }
  }
  return source;
}

const HOUR_MS = 3_600_000;

/**
 * Estimated spend: price per hour × server-hours observed. Between two observations of the owned servers, the
 * count seen at the earlier one is assumed to have run the whole gap. An observation without a server list (the
 * provider could not be read) adds nothing and keeps the last known count.
 */
export class CostMeter {
  private last: { at: number; servers: number } | undefined;
  /** Estimated cost so far, in `price.currency`. */
  total = 0;
  /** unix ms of the first observation (start of the estimate). */
  since: number | undefined;

  constructor(private readonly price: PriceSource) {}

  info(): PriceInfo | undefined {
    return resolvePrice(this.price);
  }

  /** Feeds one observation; returns the cost added by it (0 without a price). */
  observe(at: number, servers: number | undefined): number {
    if (this.since === undefined) this.since = at;
    if (servers === undefined) return 0;
    const prev = this.last;
    this.last = { at, servers };
    const price = this.info();
    if (!prev || !price || !(price.perHour > 0)) return 0;
    const dt = at - prev.at;
    if (!(dt > 0)) return 0;
    const add = (prev.servers * dt * price.perHour) / HOUR_MS;
    this.total += add;
    return add;
  }
}

/** Removes anything that looks like a credential from a human-readable message before it leaves the process. */
export function scrubText(s: string): string {
  return s
    .replace(/(bearer\s+)[^\s"',;]+/gi, '$1[redacted]')
    .replace(/((?:token|password|pass|secret|authorization)["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, '$1[redacted]');
}

/** A label value that cannot blow up cardinality or carry secrets: route templates only, bounded length. */
export function safeLabel(s: string, max = 80): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > max ? t.slice(0, max) : t;
}
