import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isReasonCode, REASON_CODES, type ReasonCode } from '../../core/reasons.ts';
import { classifyRules } from '../../core/stages/classify/index.ts';

const ROOT = join(import.meta.dirname, '../..');

/** Every TypeScript source file under the given top-level folders, as repo-relative paths. */
const sourceFiles = (...folders: string[]): string[] =>
  folders.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.ts'))
      .map((path) => relative(ROOT, join(ROOT, folder, path)).replaceAll('\\', '/')),
  );

const SOURCES = new Map(
  sourceFiles('core', 'adapters').map((path) => [path, readFileSync(join(ROOT, path), 'utf8')]),
);

const filesQuoting = (code: string): string[] =>
  [...SOURCES].filter(([, text]) => text.includes(`'${code}'`)).map(([path]) => path);

// --- the README table ----------------------------------------------------------------------------

interface ReadmeRow {
  stage: string;
  codes: string[];
}

/** The README's reason table: the Markdown table whose header has a `reason codes` column. */
const readmeReasonTable = (): ReadmeRow[] => {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const header = lines.findIndex((line) => /^\|\s*stage\s*\|\s*reason codes\s*\|/.test(line));
  if (header < 0) throw new Error('README.md has no table with a "reason codes" column');
  const rows: ReadmeRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [stage = '', codes = ''] = line.split('|').slice(1, -1);
    rows.push({
      stage: stage.trim(),
      // A code is a backticked snake_case word; anything else in backticks (a command) is prose.
      codes: [...codes.matchAll(/`([^`]+)`/g)].flatMap((match) =>
        match[1] !== undefined && /^[a-z][a-z0-9_]*$/.test(match[1]) ? [match[1]] : [],
      ),
    });
  }
  return rows;
};

/** Codes of PostdeskErrors thrown somewhere in core/ or adapters/: what a quarantined mail's reason can also be. */
const errorCodes = (): Set<string> => {
  const codes = new Set<string>();
  for (const text of SOURCES.values()) {
    for (const match of text.matchAll(/new (?:Permanent|Transient|Postdesk)Error\(\s*'([a-z0-9_]+)'/g)) {
      if (match[1] !== undefined) codes.add(match[1]);
    }
  }
  return codes;
};

describe('the README reason table', () => {
  const rows = readmeReasonTable();
  const named = new Set(rows.flatMap((row) => row.codes));

  it('is found and names codes', () => {
    expect(rows.length).toBeGreaterThan(5);
    expect(named.size).toBeGreaterThan(50);
  });

  it('misses no reason code', () => {
    expect(REASON_CODES.filter((code) => !named.has(code))).toEqual([]);
  });

  it('names no code that does not exist (error codes only in the "any" row, as examples)', () => {
    const errors = errorCodes();
    const unknown = rows.flatMap((row) =>
      row.codes
        .filter((code) => !isReasonCode(code) && !(row.stage === 'any' && errors.has(code)))
        .map((code) => `${row.stage}: ${code}`),
    );
    expect(unknown).toEqual([]);
  });

  it('names each code once', () => {
    const all = rows.flatMap((row) => row.codes);
    expect(all.filter((code, index) => all.indexOf(code) !== index)).toEqual([]);
  });
});

// --- the code is in the rule's file ----------------------------------------------------------------

/** The files that emit each code, with the code written there literally. */
const EMITTERS: Readonly<Record<string, readonly ReasonCode[]>> = {
  // The pipeline's own codes; their union is declared in core/reasons.ts until pipeline.ts exports it.
  'core/pipeline.ts': ['loaded', 'internal_error'],
  'core/execute.ts': ['dry_run', 'new_ticket'],
  'core/trace-recorder.ts': ['error', 'no_delivery'],
  'core/reasons.ts': ['loaded', 'dry_run', 'error', 'no_delivery', 'internal_error'],
  'core/stages/authenticate/sender-identity.ts': ['sender_identified', 'from_missing', 'from_invalid'],
  'core/stages/authenticate/dmarc-identity.ts': ['dmarc_identity_mismatch'],
  'core/stages/parse/parse-mail.ts': ['parsed'],
  'core/stages/parse/limits.ts': [
    'raw_too_large',
    'header_too_large',
    'mime_too_deep',
    'too_many_parts',
    'duplicate_from',
    'duplicate_subject',
    'empty_mail',
    'unparseable',
  ],
  // The S3 raw store enforces the same cap on the bytes it streams, under the same code.
  'adapters/aws/s3-raw-mail-store.ts': ['raw_too_large'],
  'core/stages/authenticate/index.ts': [
    'policy_satisfied',
    'arc_rescued',
    'virus_detected',
    'spam_detected',
    'dmarc_failed',
    'dkim_failed',
    'spf_failed',
    'virus_unverified',
    'spam_unverified',
    'dmarc_unverified',
    'dkim_unverified',
    'spf_unverified',
    'dmarc_policy_reject',
    'dmarc_policy_quarantine',
  ],
  'core/stages/classify/index.ts': ['human'],
  // One rule, one file, named after its code.
  ...Object.fromEntries(
    classifyRules.map((rule) => [
      `core/stages/classify/rules/${rule.reason.replaceAll('_', '-')}.ts`,
      [rule.reason],
    ]),
  ),
  'core/stages/route/index.ts': ['envelope_recipients', 'header_recipients', 'no_route'],
  'core/stages/thread/thread.ts': ['new_ticket', 'automated_on_ticket', 'reply_from_stranger'],
  'core/stages/thread/reply-token.ts': [
    'reply_token',
    'reply_token_invalid',
    'reply_key_missing',
    'reply_token_participant_mismatch',
  ],
  'core/stages/thread/message-ids.ts': ['in_reply_to', 'references'],
  'core/stages/limit/index.ts': ['within_limits'],
  'core/stages/limit/per-ticket.ts': ['rate_limit_per_ticket'],
  'core/stages/limit/per-sender.ts': ['rate_limit_per_sender'],
  'core/stages/limit/per-desk.ts': ['rate_limit_per_desk'],
  'core/stages/render/body.ts': [
    'text_body',
    'html_body',
    'html_fallback_text',
    'html_fallback_stripped',
    'empty_body',
  ],
  'core/stages/render/note.ts': ['empty_reply'],
  'core/stages/render/failure.ts': ['render_failed'],
  // The deliver stage keeps its codes in one map that issue.ts, note.ts and claim.ts read.
  'core/stages/deliver/reasons.ts': [
    'issue_created',
    'note_added',
    'duplicate_delivery',
    'recovered_by_marker',
  ],
};

/** Files where the same word means something else: a mail class, a route's `via`, a header name. */
const HOMONYMS: Readonly<Record<string, readonly ReasonCode[]>> = {
  'core/stages/contracts.ts': ['human', 'new_ticket', 'reply_token', 'in_reply_to', 'references'],
  'core/stages/classify/types.ts': ['human'],
  'core/stages/limit/index.ts': ['human'],
  'core/plan.ts': ['new_ticket', 'human'],
  'core/outbound/on-delivered.ts': ['human'],
  'core/stages/route/index.ts': ['reply_token'],
  'core/stages/route/match.ts': ['reply_token'],
  'core/stages/thread/thread.ts': ['reply_token'],
  'core/stages/parse/parse-mail.ts': ['references'],
};

/** Too common a word to own: only checked to be in its emitter (`'error'` is also an event name and a log level). */
const COMMON_WORDS: ReadonlySet<ReasonCode> = new Set(['error']);

const filesListing = (map: Readonly<Record<string, readonly ReasonCode[]>>, code: ReasonCode): string[] =>
  Object.entries(map)
    .filter(([, codes]) => codes.includes(code))
    .map(([path]) => path);

describe('reason codes in the source', () => {
  it('every code has an emitter, and every emitter is a file', () => {
    expect(REASON_CODES.filter((code) => filesListing(EMITTERS, code).length === 0)).toEqual([]);
    expect(Object.keys(EMITTERS).filter((path) => !SOURCES.has(path))).toEqual([]);
  });

  it.each(REASON_CODES.map((code) => [code]))(
    '%s is written, quoted, in exactly the files that emit it',
    (code) => {
      const emitters = filesListing(EMITTERS, code);
      const found = filesQuoting(code);
      if (COMMON_WORDS.has(code)) {
        expect(found).toEqual(expect.arrayContaining(emitters));
        return;
      }
      expect(found.sort()).toEqual([...new Set([...emitters, ...filesListing(HOMONYMS, code)])].sort());
    },
  );

  it('grep finds the authenticate rule for spf_failed and the dmarc policies', () => {
    for (const code of ['spf_failed', 'dmarc_policy_reject', 'dmarc_policy_quarantine']) {
      expect(filesQuoting(code)).toEqual(['core/stages/authenticate/index.ts']);
    }
  });
});
