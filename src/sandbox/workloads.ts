import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { seededRandom } from '../util/clock.js';
import type { RandomFn } from '../util/clock.js';

/**
 * Workloads: a list of workflows with arrival offsets, durations and optional labels. Built-in generators are
 * seeded (same seed, same workload); files are JSON or CSV (docs/simulator.md).
 */

export interface WorkloadItem {
  /** ms after the start of the simulation */
  arrival: number;
  /** ms the workflow runs once an agent picked it */
  duration: number;
  labels?: Record<string, string>;
}

export interface Workload {
  name: string;
  /** Sorted by arrival. */
  items: WorkloadItem[];
  /** ms from the start covered by the workload (at least the last arrival). */
  span: number;
}

export const BUILTIN_WORKLOADS = ['steady', 'bursty', 'office-day'] as const;
export type BuiltinWorkload = (typeof BUILTIN_WORKLOADS)[number];

const S = 1000;
const M = 60 * S;
const H = 60 * M;

export interface GeneratorOptions {
  seed?: number;
  /** Length of the generated workload, ms. Default 24 h. */
  span?: number;
}

/** Exponential sample with the given mean. */
function exp(random: RandomFn, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** Log-normal-ish CI job duration: median `median`, clipped to [min, max]. */
function jobDuration(random: RandomFn, median: number, min: number, max: number): number {
  // Box–Muller normal, sigma 0.6
  const u = Math.max(1e-12, random());
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.round(Math.min(max, Math.max(min, median * Math.exp(0.6 * z))));
}

/** Non-homogeneous Poisson arrivals by thinning: `rate(t)` is arrivals per ms, `peak` its maximum. */
function poisson(random: RandomFn, span: number, peak: number, rate: (t: number) => number): number[] {
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += exp(random, 1 / peak);
    if (t >= span) return out;
    if (random() * peak <= rate(t)) out.push(Math.round(t));
  }
}

/** About 6 workflows an hour, all day, 3–15 min each. */
function steady(random: RandomFn, span: number): WorkloadItem[] {
  const perMs = 6 / H;
  return poisson(random, span, perMs, () => perMs).map((arrival) => ({
    arrival,
    duration: jobDuration(random, 6 * M, 1 * M, 30 * M),
  }));
}

/**
 * Quiet background (about 1 an hour) plus bursts every 1–3 h: a push to a monorepo or a release fans out into
 * 6–20 workflows within a minute.
 */
function bursty(random: RandomFn, span: number): WorkloadItem[] {
  const items: WorkloadItem[] = [];
  const bg = 1 / H;
  for (const arrival of poisson(random, span, bg, () => bg)) {
    items.push({ arrival, duration: jobDuration(random, 5 * M, 1 * M, 20 * M) });
  }
  let t = 20 * M + random() * 60 * M;
  while (t < span) {
    const n = 6 + Math.floor(random() * 15);
    for (let i = 0; i < n; i++) {
      items.push({ arrival: Math.round(t + random() * 60 * S), duration: jobDuration(random, 8 * M, 2 * M, 25 * M) });
    }
    t += 1 * H + random() * 2 * H;
  }
  return items.filter((i) => i.arrival < span);
}

/**
 * A team's working day (UTC): almost nothing at night, a ramp from 08:00, busy 10:00–12:00 and 14:00–17:00,
 * a lunch dip, nightly scheduled builds at 02:00. Jobs carry their repository label (`repo=acme/…`), which every agent matches (`repo=*`).
 */
const REPOS = ['acme/web', 'acme/api', 'acme/mobile', 'acme/infra'];

function officeDay(random: RandomFn, span: number): WorkloadItem[] {
  const perHour = (t: number): number => {
    const h = (t % (24 * H)) / H;
    if (h < 7) return 0.3;
    if (h < 8) return 2;
    if (h < 10) return 12;
    if (h < 12) return 22;
    if (h < 13) return 8;
    if (h < 17) return 20;
    if (h < 19) return 8;
    return 1;
  };
  const peak = 22 / H;
  const items: WorkloadItem[] = poisson(random, span, peak, (t) => perHour(t) / H).map((arrival) => {
    const repo = REPOS[Math.floor(random() * REPOS.length)] ?? 'acme/web';
    return { arrival, duration: jobDuration(random, 7 * M, 1 * M, 40 * M), labels: { repo } };
  });
  // Nightly builds: 8 workflows at 02:00 of every day in the span.
  for (let day = 0; day * 24 * H < span; day++) {
    const at = day * 24 * H + 2 * H;
    if (at >= span) break;
    for (let i = 0; i < 8; i++) items.push({ arrival: at + i * 5 * S, duration: jobDuration(random, 15 * M, 5 * M, 40 * M) });
  }
  return items;
}

function finish(name: string, items: WorkloadItem[], span?: number): Workload {
  items.sort((a, b) => a.arrival - b.arrival);
  const last = items.length > 0 ? (items[items.length - 1] as WorkloadItem).arrival : 0;
  return { name, items, span: Math.max(span ?? 0, last) };
}

/** A built-in workload. */
export function builtinWorkload(name: BuiltinWorkload, opts: GeneratorOptions = {}): Workload {
  const random = seededRandom(opts.seed ?? 1);
  const span = opts.span ?? 24 * H;
  const gen = name === 'steady' ? steady : name === 'bursty' ? bursty : officeDay;
  return finish(name, gen(random, span), span);
}

export function isBuiltinWorkload(name: string): name is BuiltinWorkload {
  return (BUILTIN_WORKLOADS as readonly string[]).includes(name);
}

// ---- files -------------------------------------------------------------------------------------------------------

export class WorkloadError extends Error {
  override name = 'WorkloadError';
}

function parseLabels(text: string, where: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const at = p.indexOf('=');
    if (at <= 0) throw new WorkloadError(`${where}: label ${JSON.stringify(p)} is not key=value`);
    out[p.slice(0, at).trim()] = p.slice(at + 1).trim();
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Arrival: a number of seconds from the start, or an ISO timestamp (then relative to the earliest one). */
type RawArrival = { seconds: number } | { iso: number };

function parseArrival(v: unknown, where: string): RawArrival {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return { seconds: v };
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+(\.\d+)?$/.test(s)) return { seconds: Number(s) };
    const t = Date.parse(s);
    if (/^\d{4}-\d{2}-\d{2}/.test(s) && Number.isFinite(t)) return { iso: t };
  }
  throw new WorkloadError(`${where}: arrival ${JSON.stringify(v)} is neither seconds from the start nor an ISO time`);
}

function parseDuration(v: unknown, where: string): number {
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new WorkloadError(`${where}: duration ${JSON.stringify(v)} must be a positive number of seconds`);
  }
  return Math.round(n * 1000);
}

function build(name: string, rows: { arrival: RawArrival; duration: number; labels?: Record<string, string> }[]): Workload {
  const isoTimes = rows.flatMap((r) => ('iso' in r.arrival ? [r.arrival.iso] : []));
  const origin = isoTimes.length > 0 ? Math.min(...isoTimes) : 0;
  const items = rows.map((r) => {
    const arrival = 'iso' in r.arrival ? r.arrival.iso - origin : Math.round(r.arrival.seconds * 1000);
    const item: WorkloadItem = { arrival, duration: r.duration };
    if (r.labels) item.labels = r.labels;
    return item;
  });
  return finish(name, items);
}

/** Parses a JSON workload: an array of `{arrival, duration, labels?}` (or `{workflows: [...]}`). */
export function parseJsonWorkload(text: string, name = 'json'): Workload {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WorkloadError(`${name}: invalid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(raw)
    ? raw
    : typeof raw === 'object' && raw !== null && Array.isArray((raw as { workflows?: unknown }).workflows)
      ? ((raw as { workflows: unknown[] }).workflows)
      : undefined;
  if (!list) throw new WorkloadError(`${name}: expected an array of {arrival, duration, labels?}`);
  const rows = list.map((entry: unknown, i) => {
    const where = `${name}[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new WorkloadError(`${where}: expected an object`);
    const e = entry as Record<string, unknown>;
    let labels: Record<string, string> | undefined;
    if (e.labels !== undefined && e.labels !== null) {
      if (typeof e.labels === 'string') labels = parseLabels(e.labels, where);
      else if (typeof e.labels === 'object' && !Array.isArray(e.labels)) {
        labels = {};
        for (const [k, v] of Object.entries(e.labels)) labels[k] = String(v);
        if (Object.keys(labels).length === 0) labels = undefined;
      } else throw new WorkloadError(`${where}: labels must be an object of strings`);
    }
    return { arrival: parseArrival(e.arrival, where), duration: parseDuration(e.duration, where), labels };
  });
  return build(name, rows);
}

/** Splits one CSV line (double quotes allowed around a field, `""` inside). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

/** Parses a CSV workload: `arrival,duration,labels` (header optional; labels `k=v;k2=v2`; `#` comments). */
export function parseCsvWorkload(text: string, name = 'csv'): Workload {
  const rows: { arrival: RawArrival; duration: number; labels?: Record<string, string> }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    const f = csvFields(line);
    if (rows.length === 0 && f[0]?.toLowerCase() === 'arrival') return; // header
    if (f.length < 2) throw new WorkloadError(`${where}: expected arrival,duration[,labels]`);
    rows.push({
      arrival: parseArrival(f[0], where),
      duration: parseDuration(f[1], where),
      labels: f[2] ? parseLabels(f[2], where) : undefined,
    });
  });
  return build(name, rows);
}

/** A workload file by extension (`.json`, `.csv`; anything else: JSON if it starts with `[` or `{`, else CSV). */
export function parseWorkloadFile(path: string, text: string): Workload {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return parseJsonWorkload(text, path);
  if (ext === '.csv') return parseCsvWorkload(text, path);
  return /^\s*[[{]/.test(text) ? parseJsonWorkload(text, path) : parseCsvWorkload(text, path);
}

/** `steady|bursty|office-day` or a file path. */
export function loadWorkload(
  spec: string,
  opts: GeneratorOptions & { readFile?: (path: string) => string } = {},
): Workload {
  if (isBuiltinWorkload(spec)) return builtinWorkload(spec, opts);
  let text: string;
  try {
    text = (opts.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(spec);
  } catch (e) {
    throw new WorkloadError(
      `workload ${JSON.stringify(spec)} is neither a built-in (${BUILTIN_WORKLOADS.join(', ')}) nor a readable file: ${(e as Error).message}`,
    );
  }
  return parseWorkloadFile(spec, text);
}
