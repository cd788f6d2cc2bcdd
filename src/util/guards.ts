/** A plain JSON-like object (not null, not an array), so its fields can be read as `unknown`. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message of anything thrown (an Error's message, else the value as text). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
