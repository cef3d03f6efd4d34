/**
 * The one redactor: which field names hold secrets, and how secret values are scrubbed from free
 * text before it is logged, stored (quarantine entries, traces) or printed. Used by the Lambda
 * logger's serialiser and by every forge adapter that quotes a remote answer.
 */

export const REDACTED = '[redacted]';

/**
 * Values shorter than this are not scrubbed from free text: a 2-character "secret" would shred every
 * log line. The secret parser refuses such values for `reply_key`; tokens are far longer.
 */
export const MIN_REDACTED_VALUE_LENGTH = 4;

/**
 * A run of at least this many characters of a secret counts as the secret: a forge that quotes a
 * token cut short ("glpat-abc…"), or a prefix of it, still gives it away.
 */
export const MIN_FRAGMENT_LENGTH = 8;

/** Whole words that name a secret, wherever they stand in a field name. */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'authorization',
  'credential',
  'credentials',
  'cookie',
]);

/**
 * Kinds of key that are secrets (`apiKey`, `replyKey`, `privateKey`). Other camel-case `…Key` names
 * are diagnostics and stay: `rawKey`, `objectKey`, `cacheKey`, `partitionKey`.
 */
const SECRET_KEY_KINDS: ReadonlySet<string> = new Set([
  'api',
  'reply',
  'private',
  'master',
  'access',
  'secret',
  'signing',
  'encryption',
  'session',
  'webhook',
]);

const words = (name: string): string[] =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');

/**
 * Whether a field's value is never written, whatever it holds: whole words `token`, `secret`,
 * `password`, `authorization` (`forge_token`, `PRIVATE-TOKEN`, `webhookSecret`, `Authorization`),
 * snake-case `*_key` (`reply_key`), and the camel-case keys of a secret kind (`apiKey`). Matching
 * whole words keeps `rawKey`, `objectKey` and `keys`, the diagnostics a person needs.
 */
export const isSensitiveKey = (name: string): boolean => {
  const parts = words(name);
  if (parts.some((part) => SECRET_WORDS.has(part))) return true;
  if (/_key$/i.test(name) || /-key$/i.test(name)) return true;
  const last = parts.at(-1);
  const before = parts.at(-2);
  return last === 'key' && before !== undefined && SECRET_KEY_KINDS.has(before);
};

/** The forms a secret value takes in text: itself, and its base64 and base64url encodings. */
const formsOf = (value: string): string[] => {
  const bytes = Buffer.from(value, 'utf8');
  const base64 = bytes.toString('base64');
  return [value, base64, base64.replace(/=+$/, ''), bytes.toString('base64url')];
};

/**
 * Knows the secret values in play and removes them from text: the exact value, any run of
 * `MIN_FRAGMENT_LENGTH` or more of its characters (a prefix, a truncation), its base64 forms, in
 * any letter case. Linear in the text: one pass over its fragments against a set.
 */
export class SecretScrubber {
  #short: string[] = [];
  #fragments = new Set<string>();
  #values = new Set<string>();

  /** Adds values to scrub (e.g. every value of the desk secret once it is read). */
  add(values: Iterable<string | undefined>): void {
    for (const value of values) {
      if (value === undefined || value.length < MIN_REDACTED_VALUE_LENGTH || this.#values.has(value))
        continue;
      this.#values.add(value);
      for (const form of formsOf(value)) {
        const lower = form.toLowerCase();
        if (lower.length < MIN_FRAGMENT_LENGTH) {
          this.#short.push(lower);
          continue;
        }
        for (let at = 0; at + MIN_FRAGMENT_LENGTH <= lower.length; at += 1) {
          this.#fragments.add(lower.slice(at, at + MIN_FRAGMENT_LENGTH));
        }
      }
    }
    this.#short = [...new Set(this.#short)].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.#values.size;
  }

  scrub(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_REDACTED_VALUE_LENGTH) return text;
    const lower = text.toLowerCase();
    // Characters covered by a secret's fragment, merged into ranges.
    const ranges: [number, number][] = [];
    if (this.#fragments.size > 0) {
      for (let at = 0; at + MIN_FRAGMENT_LENGTH <= lower.length; at += 1) {
        if (!this.#fragments.has(lower.slice(at, at + MIN_FRAGMENT_LENGTH))) continue;
        const end = at + MIN_FRAGMENT_LENGTH;
        const last = ranges.at(-1);
        if (last && at <= last[1]) last[1] = Math.max(last[1], end);
        else ranges.push([at, end]);
      }
    }
    for (const value of this.#short) {
      let from = lower.indexOf(value);
      while (from !== -1) {
        ranges.push([from, from + value.length]);
        from = lower.indexOf(value, from + value.length);
      }
    }
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0]);
    let out = '';
    let cursor = 0;
    for (const [start, end] of ranges) {
      if (end <= cursor) continue;
      out += text.slice(cursor, Math.max(cursor, start)) + (start >= cursor ? REDACTED : '');
      cursor = end;
    }
    return out + text.slice(cursor);
  }

  /** A JSON.stringify replacer: sensitive keys out, known values out of every string. */
  readonly replacer = (key: string, value: unknown): unknown => {
    if (key !== '' && isSensitiveKey(key)) return REDACTED;
    if (typeof value === 'string') return this.scrub(value);
    return value;
  };
}
