import { isMap, isScalar, LineCounter, type Node, parseDocument, stringify } from 'yaml';
import { PermanentError } from '../../core/errors.ts';
import type { DeskSecret } from '../../core/ports.ts';

/**
 * The desk secret document: flat YAML, like GitLab's encrypted service-desk email secret
 * (`gitlab:service_desk_email:secret:*`), with three optional keys. One parser serves the CLI (which
 * checks content before writing anything) and the functions (which read it at cold start), so what
 * `postdesk secret write` accepts is exactly what the desk can run with.
 *
 * Every message names keys and lines, never values: the text being checked is the secret, and an
 * error message ends up in terminals, CI logs and CloudWatch. The YAML library's own messages are
 * not passed through either, since a parser is free to quote the source it choked on.
 */

export const DESK_SECRET_KEYS = ['forge_token', 'webhook_token', 'reply_key'] as const;
export type DeskSecretKey = (typeof DESK_SECRET_KEYS)[number];

/** Shortest accepted `reply_key`: it keys the HMAC that makes reply addresses unforgeable. */
export const MIN_REPLY_KEY_LENGTH = 16;

export interface SecretProblem {
  /** The key concerned, when the problem is about one key (never shown for keys that may be a secret). */
  key?: string | undefined;
  /** 1-based line in the document, when known. */
  line?: number | undefined;
  message: string;
}

export type SecretParseResult =
  | { ok: true; secret: DeskSecret; keys: DeskSecretKey[] }
  | { ok: false; problems: SecretProblem[] };

const YAML_PROBLEMS: Readonly<Record<string, string>> = {
  BLOCK_AS_IMPLICIT_KEY: 'a value contains ": " (quote the value)',
  MISSING_CHAR: 'a quote or bracket is not closed',
  DUPLICATE_KEY: 'a key appears twice (keep one)',
  BAD_INDENT: 'the indentation is wrong (the document is flat: one "key: value" per line)',
  MULTIPLE_DOCS: 'the text holds more than one YAML document (remove the extra "---")',
  TAB_AS_INDENT: 'a tab is used for indentation (use spaces, or none: the document is flat)',
  UNEXPECTED_TOKEN: 'unexpected character (quote the value)',
};

/** A key is named in messages only when it looks like a setting name; anything else may be a pasted token. */
const NAMEABLE_KEY = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
/** C0 controls and DEL: a token with a line break would split an HTTP header. */
const hasControlCharacter = (value: string): boolean => {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
};

export const parseDeskSecret = (text: string): SecretParseResult => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: SecretProblem[] = doc.errors.map((error) => ({
    line: lineCounter.linePos(error.pos[0]).line,
    message: `YAML syntax: ${YAML_PROBLEMS[error.code] ?? `the document cannot be parsed (${error.code})`}`,
  }));
  if (problems.length > 0) return { ok: false, problems };

  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    return { ok: true, secret: {}, keys: [] };
  }
  if (!isMap(root)) {
    return {
      ok: false,
      problems: [
        {
          line: lineOf(root, lineCounter),
          message: `the document must be a mapping of ${DESK_SECRET_KEYS.join(', ')} ("key: value" lines)`,
        },
      ],
    };
  }

  const secret: DeskSecret = {};
  const keys: DeskSecretKey[] = [];
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const line = lineOf(keyNode, lineCounter);
    const name = isScalar(keyNode) ? keyNode.value : undefined;
    if (typeof name !== 'string' || !isDeskSecretKey(name)) {
      const shown =
        typeof name === 'string' && NAMEABLE_KEY.test(name)
          ? `unknown key "${name}"`
          : 'unknown key (not shown: it does not look like a setting name and may be a secret)';
      problems.push({
        ...(typeof name === 'string' && NAMEABLE_KEY.test(name) ? { key: name } : {}),
        line,
        message: `${shown}; allowed keys: ${DESK_SECRET_KEYS.join(', ')}`,
      });
      continue;
    }
    const valueNode = pair.value as Node | null;
    const value = isScalar(valueNode) ? valueNode.value : valueNode === null ? null : valueNode.toJSON();
    const problem = checkValue(name, value);
    if (problem !== undefined) {
      problems.push({ key: name, line, message: `${name} ${problem}` });
      continue;
    }
    secret[name] = value as string;
    keys.push(name);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, secret, keys };
};

const checkValue = (key: DeskSecretKey, value: unknown): string | undefined => {
  if (value === null || value === undefined) return 'has no value (give one, or remove the line)';
  if (typeof value !== 'string') {
    return `must be a string, not ${describeType(value)} (quote the value)`;
  }
  if (value.length === 0) return 'is empty (give a value, or remove the line)';
  if (hasControlCharacter(value)) return 'must be one line without control characters';
  if (key === 'reply_key' && value.length < MIN_REPLY_KEY_LENGTH) {
    return `is ${value.length} characters; it must be at least ${MIN_REPLY_KEY_LENGTH} (generate one with: openssl rand -base64 32)`;
  }
  return undefined;
};

const describeType = (value: unknown): string => {
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
};

export const isDeskSecretKey = (name: string): name is DeskSecretKey =>
  (DESK_SECRET_KEYS as readonly string[]).includes(name);

const lineOf = (node: Node | null | undefined, lineCounter: LineCounter): number | undefined => {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
};

export const formatSecretProblems = (problems: readonly SecretProblem[]): string =>
  problems
    .map((problem) => `  ${problem.line === undefined ? '' : `line ${problem.line}: `}${problem.message}`)
    .join('\n');

/** The document is not usable; `problems` say where and why, without a value in sight. */
export class SecretDocumentError extends PermanentError {
  readonly problems: readonly SecretProblem[];
  constructor(origin: string, problems: readonly SecretProblem[]) {
    super(
      'secret_invalid',
      `${origin} is not a valid desk secret (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${formatSecretProblems(problems)}`,
    );
    this.name = 'SecretDocumentError';
    this.problems = problems;
  }
}

/** Parses or throws SecretDocumentError; `origin` names where the text came from. */
export const parseDeskSecretOrThrow = (text: string, origin: string): DeskSecret => {
  const result = parseDeskSecret(text);
  if (!result.ok) throw new SecretDocumentError(origin, result.problems);
  return result.secret;
};

/** Writes a secret back as the flat YAML document, keys in their canonical order. */
export const serializeDeskSecret = (secret: DeskSecret): string => {
  const ordered: Record<string, string> = {};
  for (const key of DESK_SECRET_KEYS) {
    const value = secret[key];
    if (value !== undefined) ordered[key] = value;
  }
  return Object.keys(ordered).length === 0 ? '' : stringify(ordered);
};

/** The values in a secret, for redaction. */
export const secretValues = (secret: DeskSecret): string[] =>
  DESK_SECRET_KEYS.map((key) => secret[key]).filter((value): value is string => value !== undefined);
