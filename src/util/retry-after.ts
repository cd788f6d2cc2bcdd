/**
 * A `Retry-After` header value in ms from `now` (RFC 9110 §10.2.3: delay-seconds or an HTTP date), or undefined
 * when it is absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Only an HTTP date (it names a weekday or month); Date.parse alone would also read "12" or "1.5" as dates.
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
