// Finds the text of named top-level members of a JSON object, so that large members (a Sanity
// document, its mutations) are stored as the upstream sent them, sliced from the frame, instead of
// being serialized again from the parsed value. Pure.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * The text of each of `names` that is a member of the object `json`, the last one where a name
 * repeats (as JSON.parse keeps the last). `json` must be text that JSON.parse accepted as an
 * object: it is not validated again. (Other text gives some slices of it, and always an answer.)
 */
export function memberTexts<Name extends string>(json: string, names: readonly Name[]): Partial<Record<Name, string>> {
  const found: Partial<Record<Name, string>> = {};
  let at = skipSpace(json, json.indexOf('{') + 1);
  while (json.charCodeAt(at) === QUOTE) {
    const keyEnd = stringEnd(json, at);
    const name = nameAt(json, at, keyEnd, names);
    const valueStart = skipSpace(json, skipSpace(json, keyEnd) + 1);
    const valueEnd = valueEndAt(json, valueStart);
    if (name !== undefined) found[name] = json.slice(valueStart, valueEnd);
    at = skipSpace(json, valueEnd);
    if (json.charCodeAt(at) !== COMMA) break;
    at = skipSpace(json, at + 1);
  }
  return found;
}

/** Which of `names` the key between `start` and `end` (both quotes included) spells, if any. */
function nameAt<Name extends string>(json: string, start: number, end: number, names: readonly Name[]): Name | undefined {
  const length = end - start - 2;
  for (const name of names) {
    if (name.length === length && json.startsWith(name, start + 1)) return name;
  }
  // A key written with escapes (`"res\u0075lt"`) is still that name.
  for (let i = start + 1; i < end - 1; i++) {
    if (json.charCodeAt(i) !== BACKSLASH) continue;
    const key = decodedKey(json.slice(start, end));
    return names.find((name) => name === key);
  }
  return undefined;
}

function decodedKey(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Where the value starting at `at` ends (one past its last character). */
function valueEndAt(json: string, at: number): number {
  const first = json.charCodeAt(at);
  if (first === QUOTE) return stringEnd(json, at);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) return primitiveEnd(json, at);
  let depth = 0;
  let i = at;
  const end = json.length;
  do {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(json, i);
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    i++;
  } while (depth > 0 && i < end);
  return i;
}

/** One past the closing quote of the string whose opening quote is at `at`. */
function stringEnd(json: string, at: number): number {
  let quote = json.indexOf('"', at + 1);
  while (quote !== -1 && json.charCodeAt(quote - 1) === BACKSLASH && escapedQuote(json, quote)) quote = json.indexOf('"', quote + 1);
  return quote === -1 ? json.length : quote + 1;
}

/** A quote is escaped when an odd number of backslashes stands before it. */
function escapedQuote(json: string, quote: number): boolean {
  let backslashes = 0;
  while (json.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/** A number, true, false or null ends at the first delimiter or space after it. */
function primitiveEnd(json: string, at: number): number {
  let i = at;
  for (; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isSpace(c)) break;
  }
  return i;
}

function skipSpace(json: string, at: number): number {
  let i = at;
  while (isSpace(json.charCodeAt(i))) i++;
  return i;
}

// JSON's whitespace: space, tab, line feed, carriage return.
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
