/**
 * Plain-text formatting for the `twcloud-scaler timeweb` tools: aligned tables, sizes, prices, elapsed times.
 * No colours and no terminal control codes, so the output reads the same in a terminal, a CI log or a file.
 */

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/** An aligned table: columns separated by two spaces, a header line, no trailing blanks. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    indent +
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const w = widths[i] ?? 0;
        if (c.right) return cell.padStart(w);
        return i === columns.length - 1 ? cell : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}

/** `key   value` lines with the keys padded to one width. */
export function formatPairs(pairs: readonly (readonly [string, string])[], indent = '  '): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`.trimEnd()).join('\n');
}

/** MB → `4 GB`, `0.5 GB`, `1.5 GB`. */
export function gbText(mb: number): string {
  const g = mb / 1024;
  return `${Number.isInteger(g) ? g : Number(g.toFixed(1))} GB`;
}

/** MB → `4`, `0.5` (the number only). */
export function gbNumber(mb: number): string {
  const g = mb / 1024;
  return String(Number.isInteger(g) ? g : Number(g.toFixed(1)));
}

/** A money amount: whole numbers stay whole, others get two decimals. */
export function money(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** Elapsed time for humans: `0.4s`, `12.3s`, `1m 05s`, `1h 02m`. */
export function elapsed(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 60_000) return `${(v / 1000).toFixed(1)}s`;
  const s = Math.round(v / 1000);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** ISO time → `2025-01-06 09:05` (UTC); the input unchanged when it does not parse. */
export function utcMinute(iso: string | null | undefined): string {
  if (typeof iso !== 'string' || iso.trim() === '') return '-';
  const raw = iso.trim();
  const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(raw) ? raw : `${raw}Z`;
  const t = Date.parse(zoned);
  if (!Number.isFinite(t)) return raw;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}

/** `a, b, c` or `-` for none. */
export function listOrDash(items: readonly string[]): string {
  return items.length === 0 ? '-' : items.join(', ');
}
