/**
 * Go `time.ParseDuration` syntax, so `WOODPECKER_*` duration values written for the Go autoscaler parse the same.
 * Values are milliseconds (a `number`; sub-millisecond units give fractions).
 */

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;
const HINT = 'e.g. 90s, 5m, 1h30m, 1.5h; units ns, us, ms, s, m, h';

/**
 * Parses a Go duration (`90s`, `1h30m`, `1.5h`, `300ms`, `-2m`, `0`) into milliseconds.
 * Like Go: a sign is optional, every number needs a unit (`0` alone excepted), no spaces, at most ~292 years.
 * @throws Error whose message quotes the input and says what is wrong.
 */
export function parseGoDuration(input: string): number {
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`invalid duration ${JSON.stringify(input)} (${HINT})`);

  let total = 0n;
  let i = 0;
  while (i < s.length) {
    const intStart = i;
    while (i < s.length && isDigit(s[i])) i++;
    const intPart = s.slice(intStart, i);
    let fracPart = '';
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      while (i < s.length && isDigit(s[i])) i++;
      fracPart = s.slice(fracStart, i);
    }
    if (intPart === '' && fracPart === '') {
      throw new Error(`invalid duration ${JSON.stringify(input)} (${HINT})`);
    }
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unit = s.slice(unitStart, i);
    if (unit === '') throw new Error(`missing unit in duration ${JSON.stringify(input)} (${HINT})`);
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) {
      throw new Error(`unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(input)} (${HINT})`);
    }
    let ns = BigInt(intPart === '' ? '0' : intPart) * perUnit;
    if (fracPart !== '') {
      // Truncated to whole nanoseconds, as Go does.
      ns += (BigInt(fracPart) * perUnit) / 10n ** BigInt(fracPart.length);
    }
    total += ns;
    if (total > MAX_NS) throw new Error(`duration ${JSON.stringify(input)} is too large`);
  }
  const ms = Number(total / 1_000_000n) + Number(total % 1_000_000n) / 1e6;
  return negative ? -ms : ms;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/**
 * Formats milliseconds as a short Go-parsable duration without zero parts:
 * `0s`, `300ms`, `45s`, `1m30s`, `1h`, `1h30m`, `1.5s`. `parseGoDuration(formatDuration(x)) === x` for whole ms.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1) {
    const ns = Math.round(abs * 1e6);
    return ns % 1000 === 0 ? `${sign}${ns / 1000}us` : `${sign}${ns}ns`;
  }
  if (abs < 1000) return `${sign}${trimNumber(abs)}ms`;
  const hours = Math.floor(abs / 3_600_000);
  const minutes = Math.floor((abs - hours * 3_600_000) / 60_000);
  const seconds = (abs - hours * 3_600_000 - minutes * 60_000) / 1000;
  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (seconds > 0) out += `${trimNumber(seconds)}s`;
  return sign + out;
}

/** A rough duration for messages: whole seconds below 2 minutes (`45s`), else whole minutes (`3m`, `90m`). */
export function roughDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(9)));
}
