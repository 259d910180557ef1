// Reading what upstreams send, loosely: JSON that may not be JSON, and bodies shown in messages.

/** The parsed JSON, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An upstream's answer for a message: one line, at most 300 characters. */
export function bodyExcerpt(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
