/** A plain JSON-like object (not null, not an array), so its fields can be read as `unknown`. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
