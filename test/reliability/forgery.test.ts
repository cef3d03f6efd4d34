import * as crypto from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { simpleParser } from 'mailparser';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { AuthenticationPolicy } from '../../core/config/schema.ts';
import type { ReceiptVerdicts } from '../../core/model.ts';
import { composeMail } from '../../core/outbound/compose.ts';
import type { NotifyJob } from '../../core/outbound/jobs.ts';
import { createWebhookHandler, tokensMatch } from '../../core/outbound/webhook.ts';
import { systemClock } from '../../core/ports.ts';
import { createReplyToken, parseReplyToken, verifyReplyToken } from '../../core/threading/reply-token.ts';
import { createGitLabUploadFetcher } from '../../functions/notify/upload-fetcher.ts';
import { captureStdout } from '../aws/log-capture.ts';
import { sqsEvent, sqsRecordWithBody } from '../functions/inbound/events.ts';
import { deskState } from '../support/desk-state.ts';
import { createMemoryForge } from '../support/memory-forge.ts';
import {
  TEST_FORGE_TOKEN,
  TEST_REPLY_KEY,
  TEST_WEBHOOK_TOKEN,
  testSecretSource,
} from '../support/test-secret.ts';
import { createDesk, deskConfigFor, headerOf } from './desk.ts';
import { setupInbound } from './inbound.ts';
import {
  createHarness,
  deskConfig,
  expectDecision,
  GAME_ADDRESS,
  movableClock,
  passingVerdicts,
  simpleMail,
} from './support.ts';

/**
 * Forgery and injection: what a sender can write into a mail (headers, body, file names, reply
 * addresses), what anyone on the internet can send to the webhook, and what reaches our outbound
 * mail from customer or forge text. Each group names the defence it guards; each test fails if
 * that defence is removed.
 *
 * `node:crypto` is wrapped (same functions, counted) so the constant-time tests can see which
 * comparison ran, on what lengths, without timing anything.
 */

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

const FAILING: ReceiptVerdicts = { ...passingVerdicts(), dkim: 'FAIL', dmarc: 'FAIL', spf: 'FAIL' };

const policy = (overrides: Partial<AuthenticationPolicy> = {}): Record<string, unknown> => ({
  authentication: { require: ['spam', 'virus', 'dkim', 'dmarc'], on_fail: 'quarantine', ...overrides },
});

// --- authentication ------------------------------------------------------------------------------

describe('authentication results written by the sender are ignored', () => {
  // Guards core/stages/authenticate (verdicts only from the receipt, auth-results.ts counting forgeries).
  const FORGED_AR =
    'Authentication-Results: amazonses.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com';

  it('a forged amazonses.com header below SES own: the receipt says FAIL, the mail is quarantined, the forgery is counted', async () => {
    const harness = createHarness({ config: deskConfig(policy()) });
    const raw = simpleMail({ headers: [['X-Original', 'below SES']] });
    // SES prepends its header; the sender's forged one comes after it.
    const mail = Buffer.concat([
      Buffer.from('Authentication-Results: amazonses.com; spf=fail; dkim=fail; dmarc=fail\r\n'),
      raw,
    ]);
    const forged = Buffer.from(mail.toString('utf8').replace('X-Original: below SES', FORGED_AR));
    const trace = await harness.ingest(forged, { verdicts: FAILING });
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('dmarc_failed');
    const stage = trace.stages.find((record) => record.stage === 'authenticate');
    expect(stage?.detail?.['spoofedSesAuthResults']).toBe(1);
  });

  it('a forged amazonses.com header on top, with no SES in front (local mode): still ignored', async () => {
    const harness = createHarness({ config: deskConfig(policy()) });
    const raw = simpleMail({
      headers: [['Authentication-Results', FORGED_AR.slice('Authentication-Results: '.length)]],
    });
    const trace = await harness.ingest(raw, { verdicts: { ...FAILING, source: 'local' } });
    expect(trace.outcome).toBe('quarantined');
    expect(
      trace.stages.find((record) => record.stage === 'authenticate')?.detail?.['spoofedSesAuthResults'],
    ).toBe(1);
  });

  it('through the inbound handler: SES receipt verdicts FAIL beat a mail that claims pass', async () => {
    const s3 = mockClient(S3Client);
    const capture = captureStdout();
    try {
      const { invoke, arrive, bucket } = setupInbound(s3, { config: deskConfig(policy()) });
      const record = arrive(
        'forged-ar',
        simpleMail({ headers: [['Authentication-Results', FORGED_AR.slice(24)]] }),
      );
      // The real event's verdicts, with DKIM and DMARC failing.
      const body = JSON.parse(record.body) as { Message: string };
      const notification = JSON.parse(body.Message) as { receipt: Record<string, unknown> };
      notification.receipt['dkimVerdict'] = { status: 'FAIL' };
      notification.receipt['dmarcVerdict'] = { status: 'FAIL' };
      const failing = sqsRecordWithBody(
        JSON.stringify({ ...body, Message: JSON.stringify(notification) }),
        'sqs-forged',
      );
      expect(await invoke(sqsEvent(failing))).toEqual({ batchItemFailures: [] });
      expect(bucket.keys('quarantine/')).toEqual(['quarantine/forged-ar.json']);
    } finally {
      capture.restore();
      s3.restore();
    }
  });
});

describe('DMARC failure follows the policy', () => {
  // Guards authenticateMail's order of decisions (core/stages/authenticate/index.ts).
  const failingDmarc = (dmarcPolicy?: 'reject' | 'quarantine' | 'none'): ReceiptVerdicts => ({
    ...passingVerdicts(),
    dmarc: 'FAIL',
    ...(dmarcPolicy ? { dmarcPolicy } : {}),
  });

  it.each([
    ['honour p=reject: quarantined', {}, failingDmarc('reject'), 'quarantined', 'dmarc_policy_reject'],
    [
      'honour p=quarantine: quarantined',
      {},
      failingDmarc('quarantine'),
      'quarantined',
      'dmarc_policy_quarantine',
    ],
    ['p=none, DMARC not required: delivered', {}, failingDmarc('none'), 'issue', 'issue_created'],
    [
      'DMARC required, on_fail drop: dropped',
      policy({ on_fail: 'drop' }),
      failingDmarc(),
      'dropped',
      'dmarc_failed',
    ],
    ['DMARC required, on_fail quarantine', policy(), failingDmarc(), 'quarantined', 'dmarc_failed'],
    [
      'DMARC required, on_fail label: delivered with the label',
      policy({ on_fail: 'label' }),
      failingDmarc(),
      'issue',
      'issue_created',
    ],
    [
      'p=reject not honoured, DMARC not required: delivered',
      { authentication: { honour_dmarc_policy: false } },
      failingDmarc('reject'),
      'issue',
      'issue_created',
    ],
  ] as const)('%s', async (_name, config, verdicts, outcome, reason) => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge, config: deskConfig(config) });
    const trace = await harness.ingest(simpleMail(), { verdicts });
    expect(trace.outcome).toBe(outcome);
    expect(trace.reason).toBe(reason);
    if (outcome === 'issue' && _name.includes('label')) {
      expect(forge.issues('acme/game')[0]?.labels).toContain('postdesk::unverified');
    }
    if (outcome !== 'issue') expect(forge.issues('acme/game')).toEqual([]);
  });
});

describe('ARC rescue only from a trusted forwarder', () => {
  // Guards the `arcTrusted` condition in core/stages/authenticate/index.ts.
  const forwarded = (arc: ReceiptVerdicts['arc']): ReceiptVerdicts => ({
    ...passingVerdicts('local'),
    dkim: 'FAIL',
    dmarc: 'FAIL',
    dmarcPolicy: 'reject',
    arc,
  });
  const config = deskConfig(policy({ trusted_forwarders: ['lists.example.org'] }));

  it.each([
    [
      'a passing chain sealed by the trusted forwarder: rescued',
      { result: 'pass', sealer: 'Lists.Example.org' },
      'issue',
    ],
    [
      'a passing chain sealed by anyone else: quarantined',
      { result: 'pass', sealer: 'evil.example' },
      'quarantined',
    ],
    [
      'a failing chain from the trusted forwarder: quarantined',
      { result: 'fail', sealer: 'lists.example.org' },
      'quarantined',
    ],
    ['no chain at all: quarantined', undefined, 'quarantined'],
  ] as const)('%s', async (_name, arc, outcome) => {
    const harness = createHarness({ config });
    const trace = await harness.ingest(simpleMail(), { verdicts: forwarded(arc) });
    expect(trace.outcome).toBe(outcome);
    if (outcome === 'issue') {
      expect(trace.stages.find((stage) => stage.stage === 'policy')?.reason).toBe('arc_rescued');
    }
  });
});

// --- reply tokens --------------------------------------------------------------------------------

describe('forged and replayed reply tokens', () => {
  // Guards core/threading/reply-token.ts (HMAC over project, issue and participant) and
  // core/stages/thread/reply-token.ts (the token alone decides; a bad one is quarantined).
  const setup = async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    // Two tickets, each from its own customer.
    expect(
      (await harness.ingest(simpleMail({ from: 'alice@example.com', messageId: 't1@example.com' }))).outcome,
    ).toBe('issue');
    expect(
      (await harness.ingest(simpleMail({ from: 'bob@example.com', messageId: 't2@example.com' }))).outcome,
    ).toBe('issue');
    const token = (fields: {
      key?: string;
      projectKey?: string;
      iid?: number;
      index?: number;
      participant?: string;
      projectPath?: string;
    }) =>
      createReplyToken(fields.key ?? TEST_REPLY_KEY, {
        projectKey: fields.projectKey ?? 'game',
        issueIid: fields.iid ?? 1,
        participantIndex: fields.index ?? 0,
        projectPath: fields.projectPath ?? 'acme/game',
        participant: fields.participant ?? 'alice@example.com',
      });
    const replyWith = (tokenText: string, from = 'alice@example.com') =>
      harness.ingest(simpleMail({ from, subject: 'Re: crash', body: 'More details.' }), {
        recipients: [`support+${tokenText}@desk.example.com`],
      });
    const notes = () => forge.issues('acme/game').map((issue) => issue.notes.length);
    return { harness, forge, token, replyWith, notes };
  };

  it('the genuine token of issue 1 from its participant: a note on issue 1', async () => {
    const { token, replyWith, notes } = await setup();
    const trace = await replyWith(token({}));
    expect(trace.outcome).toBe('note');
    expect(trace.reason).toBe('note_added');
    expect(notes()).toEqual([1, 0]);
  });

  const forgeries: [string, (token: (fields: Record<string, unknown>) => string) => string][] = [
    ['the token of issue 1 replayed on issue 2', (token) => token({}).replace(/^r-game-1-/, 'r-game-2-')],
    [
      'a token with one MAC character flipped',
      (token) => {
        const genuine = token({});
        const last = genuine.at(-1) === 'a' ? 'b' : 'a';
        return `${genuine.slice(0, -1)}${last}`;
      },
    ],
    ['the token of acme/game used for acme/docs', (token) => token({}).replace(/^r-game-/, 'r-docs-')],
    ['a token signed for acme/docs, sent to acme/game', (token) => token({ projectPath: 'acme/docs' })],
    ['a token minted with another key', (token) => token({ key: 'some-other-desk-key-0123456789' })],
    [
      'the token of participant 0 pointed at participant 1',
      (token) => token({}).replace(/^r-game-1-0-/, 'r-game-1-1-'),
    ],
    ['a token for an issue that does not exist', (token) => token({ iid: 99 })],
  ];

  it.each(forgeries)('%s: quarantined as reply_token_invalid, no note anywhere', async (_name, make) => {
    const { token, replyWith, notes } = await setup();
    const trace = await replyWith(make(token as (fields: Record<string, unknown>) => string));
    expectDecision(trace);
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('reply_token_invalid');
    expect(notes()).toEqual([0, 0]);
  });

  it('a leaked genuine reply address used by a stranger: quarantined as reply_from_stranger, never a silent comment', async () => {
    const { token, replyWith, notes } = await setup();
    const trace = await replyWith(token({}), 'mallory@example.net');
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('reply_from_stranger');
    expect(notes()).toEqual([0, 0]);
  });

  it('the MAC is checked with timingSafeEqual on equal lengths, for a wrong MAC and an unknown issue alike', () => {
    const genuine = createReplyToken(TEST_REPLY_KEY, {
      projectKey: 'game',
      issueIid: 1,
      participantIndex: 0,
      projectPath: 'acme/game',
      participant: 'alice@example.com',
    });
    const cases = [genuine, `${genuine.slice(0, -1)}${genuine.endsWith('a') ? 'b' : 'a'}`];
    const results = cases.map((text) => {
      timingSafeEqual.mockClear();
      const parsed = parseReplyToken(text);
      if (!parsed) throw new Error('not a token');
      const ok = verifyReplyToken(TEST_REPLY_KEY, parsed, 'acme/game', 'alice@example.com');
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      const [a, b] = timingSafeEqual.mock.calls[0] ?? [];
      expect((a as Buffer).length).toBe((b as Buffer).length);
      return ok;
    });
    expect(results).toEqual([true, false]);
  });

  it('an unknown issue costs the same MAC computation as a wrong MAC (thread computes it anyway)', async () => {
    const { token, replyWith } = await setup();
    for (const text of [token({ iid: 99 }), token({ key: 'another-key-0123456789abcdef' })]) {
      timingSafeEqual.mockClear();
      await replyWith(text);
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    }
  });
});

// --- the webhook ---------------------------------------------------------------------------------

describe('webhook token', () => {
  // Guards core/outbound/webhook.ts: `tokensMatch` (SHA-256 of both, timingSafeEqual) before any parsing.
  const setup = () => {
    const queued: NotifyJob[] = [];
    const clock = movableClock();
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: testSecretSource(),
      state: deskState(createMemoryObjectStore(), clock),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      queue: { enqueue: async (jobs) => void queued.push(...jobs) },
      clock,
      refreshIntervalMs: 24 * 60 * 60_000,
    });
    const send = (token: string | undefined, body = '{"object_kind":"push"}') =>
      handle({
        method: 'POST',
        path: '/',
        headers: {
          'x-gitlab-event': 'Note Hook',
          ...(token === undefined ? {} : { 'x-gitlab-token': token }),
        },
        body: Buffer.from(body),
      });
    return { send, queued };
  };

  it('without a token, with a wrong one, and with the right one', async () => {
    const { send } = setup();
    expect((await send(undefined)).status).toBe(401);
    expect((await send('wrong')).status).toBe(401);
    expect((await send(`${TEST_WEBHOOK_TOKEN}x`)).status).toBe(401);
    expect((await send(TEST_WEBHOOK_TOKEN.slice(0, -1))).status).toBe(401);
    expect((await send(TEST_WEBHOOK_TOKEN)).status).toBe(200);
  });

  it('a timing probe learns nothing: every wrong length takes the same path, one timingSafeEqual on two 32-byte digests', async () => {
    const { send } = setup();
    await send('warm-up: the first mismatch also re-reads the secret once');
    const prefixes = Array.from({ length: TEST_WEBHOOK_TOKEN.length + 40 }, (_, length) =>
      length <= TEST_WEBHOOK_TOKEN.length
        ? TEST_WEBHOOK_TOKEN.slice(0, length)
        : `${TEST_WEBHOOK_TOKEN}${'x'.repeat(length - TEST_WEBHOOK_TOKEN.length)}`,
    );
    const probes = [...prefixes, ...prefixes.map((text) => text.replace(/.$/, '~')), 'A'.repeat(10_000)];
    for (const probe of probes) {
      if (probe === TEST_WEBHOOK_TOKEN) continue;
      timingSafeEqual.mockClear();
      const response = await send(probe);
      expect(response.status, probe).toBe(401);
      expect(response.body).toBe('{"error":"unauthorized"}');
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      const [a, b] = timingSafeEqual.mock.calls[0] ?? [];
      expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });

  it('tokensMatch compares digests, so no length leaks through an early return', () => {
    timingSafeEqual.mockClear();
    expect(tokensMatch('', TEST_WEBHOOK_TOKEN)).toBe(false);
    expect(tokensMatch('x'.repeat(1_000), TEST_WEBHOOK_TOKEN)).toBe(false);
    expect(tokensMatch(TEST_WEBHOOK_TOKEN, TEST_WEBHOOK_TOKEN)).toBe(true);
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
  });

  it('a wrong token is refused before the body is read: a huge or hostile body changes nothing', async () => {
    const { send, queued } = setup();
    const response = await send(
      'wrong',
      `{"__proto__":{"polluted":true},"object_kind":"note",${'"x":1,'.repeat(100_000)}"y":1}`,
    );
    expect(response.status).toBe(401);
    expect(queued).toEqual([]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

// --- outbound header injection --------------------------------------------------------------------

const HEADER_NAMES_ALLOWED = new Set([
  'from',
  'to',
  'reply-to',
  'subject',
  'message-id',
  'in-reply-to',
  'references',
  'date',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'x-postdesk-loop',
  'auto-submitted',
  'x-auto-response-suppress',
  'list-unsubscribe',
  'list-unsubscribe-post',
]);

/** Every top-level header name of a raw mail, lowercased, folded lines joined. */
const headerNames = (raw: Buffer): string[] => {
  const text = raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head.split(/\r\n(?![ \t])/).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
};

const expectNoInjection = async (raw: Buffer) => {
  const names = headerNames(raw);
  for (const name of names) expect(HEADER_NAMES_ALLOWED, `unexpected header ${name}`).toContain(name);
  expect(names.filter((name) => name === 'to')).toHaveLength(1);
  const parsed = await simpleParser(raw);
  expect(parsed.headers.has('bcc')).toBe(false);
  expect(parsed.headers.has('cc')).toBe(false);
  const to = Array.isArray(parsed.to) ? parsed.to : parsed.to ? [parsed.to] : [];
  expect(to.flatMap((address) => address.value.map((box) => box.address))).toHaveLength(1);
  expect(parsed.subject ?? '').not.toMatch(/[\r\n]/);
  expect(JSON.stringify([...parsed.headers.keys()])).not.toContain('victim');
  return parsed;
};

describe('CR/LF and encoded-word header injection into outbound mail', () => {
  // Guards headerText/isPlainAddress in core/outbound/compose.ts (and the title render upstream).
  const INJECTIONS = [
    'Hello\r\nBcc: victim@x.example',
    'Hello\nBcc: victim@x.example',
    'Hello\rBcc: victim@x.example',
    'Hello\u2028Bcc: victim@x.example',
    'Hello\0\r\n\r\nInjected body',
    '=?utf-8?B?SGVsbG8NCkJjYzogdmljdGltQHguZXhhbXBsZQ==?=',
    '=?utf-8?Q?Hello=0D=0ABcc:_victim@x.example?=',
  ];

  it.each(INJECTIONS.map((text) => [JSON.stringify(text), text] as const))(
    'a composed mail with %s in the subject, the author and the recipient name has no extra header',
    async (_label, text) => {
      const composed = await composeMail({
        kind: 'new_note',
        from: { name: `${text} via Acme`, address: 'support@desk.example.com' },
        to: { name: text, address: 'alice@example.com' },
        replyTo: 'support+r-game-1-0-aaaaaaaaaaaaaaaaaaaa@desk.example.com',
        subject: `Re: ${text} (#1)`,
        messageId: '<postdesk.new_note.1@desk.example.com>',
        inReplyTo: '<first@example.com>',
        loopDomain: 'desk.example.com',
        html: '<p>hi</p>',
        text: 'hi',
        date: new Date('2026-03-02T10:00:00Z'),
      });
      const parsed = await expectNoInjection(composed.raw);
      // An encoded word in customer text is sent so that it decodes to itself, not to a line break.
      expect(parsed.subject).toContain('Re: ');
    },
  );

  it('a customer subject with an encoded CR/LF becomes a thank-you with no extra header', async () => {
    const desk = createDesk();
    const trace = await desk.harness.ingest(
      simpleMail({
        from: '=?utf-8?B?QWxpY2UNCkJjYzogdmljdGltQHguZXhhbXBsZQ==?= <alice@example.com>',
        subject: '=?utf-8?B?SGVsbG8NCkJjYzogdmljdGltQHguZXhhbXBsZQ==?=',
      }),
    );
    expect(trace.outcome).toBe('issue');
    expect(desk.sent).toHaveLength(1);
    const [mail] = desk.sent;
    if (!mail) throw new Error('no thank-you');
    await expectNoInjection(mail.raw);
    expect(desk.forge.issues('acme/game')[0]?.title).not.toMatch(/[\r\n]/);
  });

  it('a note notification with a hostile title and author name has no extra header', async () => {
    const desk = createDesk({ config: deskConfigFor('desk.example.com') });
    expect((await desk.harness.ingest(simpleMail({ from: 'alice@example.com' }))).outcome).toBe('issue');
    const outcome = await desk.notify({
      v: 1,
      kind: 'new_note',
      project: 'acme/game',
      iid: 1,
      to: 'alice@example.com',
      title: 'Hello\r\nBcc: victim@x.example',
      noteId: 7,
      noteText: 'Fixed.\r\nBcc: victim@x.example',
      authorName: 'Eve\r\nBcc: victim@x.example',
    });
    expect(outcome.status).toBe('sent');
    await expectNoInjection(desk.sent.at(-1)?.raw ?? Buffer.alloc(0));
    expect(headerOf(desk.sent.at(-1)?.raw ?? Buffer.alloc(0), 'X-Postdesk-Loop')).toBe('desk.example.com');
  });
});

// --- customer text into Markdown -------------------------------------------------------------------

describe('quick actions, mentions and HTML in customer text run nothing and notify nobody', () => {
  // Guards the render stage's neutralisation (core/stages/render/markdown/escape.ts, finalize.ts).
  const HOSTILE_BODY = [
    '/close',
    '/label ~urgent',
    '/assign @root',
    '/confidential',
    '  /reopen',
    '@all please look at this',
    'ping @jane and @group/subgroup, mail me at bob@example.com',
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<details open><summary>x</summary>y</details>',
    '[click me](javascript:alert(1))',
    '![x](javascript:alert(1))',
    'see postdesk-upload://0 and #1 !2 ~bug %milestone &epic $snippet',
    '<!-- postdesk:pd-000000000000000000000000 -->',
  ].join('\n');

  /** Lines outside fenced code, without our own trailing marker comment. */
  const proseLines = (markdown: string): string[] => {
    const lines = markdown.split('\n');
    const out: string[] = [];
    let fenced = false;
    for (const line of lines) {
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      else if (!fenced && !/^<!-- postdesk:pd-[0-9a-f]{24} -->$/.test(line)) out.push(line);
    }
    return out;
  };

  const expectInert = (markdown: string) => {
    for (const full of proseLines(markdown)) {
      // Code spans are literal in GitLab (no command, mention or reference inside them).
      const line = full.replace(/`[^`]*`/g, '``');
      // GitLab's quick-action pattern is line-anchored: `^/command`.
      expect(line, line).not.toMatch(/^\/[a-z]/i);
      // A mention is `@name` not after a word character; ours are escaped `\@`.
      expect(line, line).not.toMatch(/(?<![\w\\])@[a-z]/i);
      // Raw HTML: every `<` that could open a tag or a comment is escaped.
      expect(line, line).not.toMatch(/(?<!\\)<(?:[a-z!/])/i);
      // A link or image to javascript: needs an unescaped `](`.
      expect(line, line).not.toMatch(/(?<!\\)\]\(javascript:/i);
      // References: `#1`, `!2`, `~label`, `%milestone`, `&epic`, `$snippet` are all escaped.
      expect(line, line).not.toMatch(/(?<![\\\w])[#!~%&$][a-z0-9]/i);
    }
  };

  it('in a new issue', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    const trace = await harness.ingest(simpleMail({ body: HOSTILE_BODY, subject: '/close @all <b>x</b>' }));
    expect(trace.outcome).toBe('issue');
    const description = forge.issues('acme/game')[0]?.description ?? '';
    expect(description).toContain('/close');
    expectInert(description);
    // Only our marker is a real HTML comment; the customer's fake one is text.
    expect(description.match(/<!-- postdesk:pd-[0-9a-f]{24} -->/g)).toHaveLength(1);
  });

  it('in a reply (a note)', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    await harness.ingest(simpleMail({ messageId: 'root@example.com' }));
    const trace = await harness.ingest(
      simpleMail({ body: HOSTILE_BODY, headers: [['In-Reply-To', '<root@example.com>']] }),
    );
    expect(trace.outcome).toBe('note');
    const note = forge.issues('acme/game')[0]?.notes[0];
    expect(note?.internal).toBe(false);
    expectInert(note?.body ?? '');
  });

  it('in an HTML-only mail', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge });
    const html = `<html><body><p>/close</p><p>@all hi</p><script>alert(1)</script><a href="javascript:alert(1)">x</a><img src="x" onerror="alert(1)"><p>#1 ~bug</p></body></html>`;
    const raw = Buffer.from(
      `From: alice@example.com\r\nTo: ${GAME_ADDRESS}\r\nSubject: html\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`,
    );
    expect((await harness.ingest(raw)).outcome).toBe('issue');
    const description = forge.issues('acme/game')[0]?.description ?? '';
    expectInert(description);
    expect(description).not.toContain('javascript:');
  });
});

describe('path traversal and bidi tricks in file names', () => {
  // Guards core/stages/render/filename.ts (and the multipart framing in the GitLab adapter).
  const NAMES = [
    '../../../../etc/passwd',
    '..\\..\\windows\\win.ini',
    '/etc/shadow',
    'invoice\u202Efdp.exe',
    'photo\u2066gnp.exe\u2069',
    'report\u200F.pdf',
    'CON',
    'nul.txt',
    '..',
    '.htaccess',
    'a\r\nContent-Type: text/html\r\n\r\n<script>.txt',
    'quote".txt',
    `${'a'.repeat(400)}.pdf`,
  ];

  it.each(NAMES.map((name) => [JSON.stringify(name), name] as const))(
    '%s is uploaded under a safe name',
    async (_label, name) => {
      const forge = createMemoryForge();
      const harness = createHarness({ forge });
      const encoded = `=?utf-8?B?${Buffer.from(name, 'utf8').toString('base64')}?=`;
      const raw = Buffer.from(
        [
          'From: alice@example.com',
          `To: ${GAME_ADDRESS}`,
          'Subject: files',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="b"',
          '',
          '--b',
          'Content-Type: text/plain',
          '',
          'attached',
          '--b',
          'Content-Type: application/octet-stream',
          `Content-Disposition: attachment; filename="${encoded}"`,
          '',
          'payload',
          '--b--',
          '',
        ].join('\r\n'),
      );
      expect((await harness.ingest(raw)).outcome).toBe('issue');
      const [upload] = forge.uploads;
      if (!upload) throw new Error('nothing uploaded');
      const safe = upload.filename;
      expect(safe).not.toMatch(/[/\\]/);
      expect(safe).not.toMatch(/[\p{Cc}\p{Bidi_Control}\u200e\u200f]/u);
      expect(safe).not.toMatch(/^\.*$/);
      expect(safe).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i);
      expect(safe).not.toContain('"');
      expect(Buffer.byteLength(safe, 'utf8')).toBeLessThanOrEqual(255);
      // An extension that was really there is kept visible (the bidi trick hid `.exe`).
      if (name.includes('exe')) expect(safe).toMatch(/\.exe$/);
    },
  );
});

// --- prototype pollution -----------------------------------------------------------------------------

describe('prototype-polluting input', () => {
  // Guards the parse stage's header map (a Map, never a plain object) and every JSON reader (zod).
  const pristine = () => {
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect('polluted' in {}).toBe(false);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).includes('polluted')).toBe(false);
  };

  it('headers named __proto__, constructor and prototype', async () => {
    const harness = createHarness();
    const trace = await harness.ingest(
      simpleMail({
        headers: [
          ['__proto__', '{"polluted":"yes"}'],
          ['constructor', '{"prototype":{"polluted":"yes"}}'],
          ['prototype', 'polluted'],
          ['__proto__.polluted', 'yes'],
          ['hasOwnProperty', 'x'],
          ['toString', 'x'],
        ],
      }),
    );
    expectDecision(trace);
    expect(trace.outcome).toBe('issue');
    pristine();
  });

  it('JSON with __proto__ keys in SES events', async () => {
    const s3 = mockClient(S3Client);
    const capture = captureStdout();
    try {
      const { invoke, arrive } = setupInbound(s3);
      const record = arrive('proto-event', simpleMail());
      const body = JSON.parse(record.body) as { Message: string };
      const poisoned = body.Message.replace(
        '"notificationType"',
        '"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"notificationType"',
      ).replace('"recipients"', '"__proto__":{"polluted":"yes"},"recipients"');
      const outer = JSON.stringify({ ...body, Message: poisoned }).replace(
        '{',
        '{"__proto__":{"polluted":"yes"},',
      );
      const response = await invoke(
        sqsEvent(
          sqsRecordWithBody(outer, 'sqs-proto'),
          sqsRecordWithBody(
            '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}',
            'sqs-junk',
          ),
        ),
      );
      expect(response).toEqual({ batchItemFailures: [] });
      const decision = capture.json().find((line) => line['message'] === 'decision');
      expect((decision?.['trace'] as { outcome?: string } | undefined)?.outcome).toBe('issue');
      pristine();
    } finally {
      capture.restore();
      s3.restore();
    }
  });

  it('JSON with __proto__ keys in a webhook payload', async () => {
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: testSecretSource(),
      state: deskState(createMemoryObjectStore()),
      clock: systemClock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      queue: { enqueue: async () => undefined },
    });
    const response = await handle({
      method: 'POST',
      path: '/',
      headers: { 'x-gitlab-token': TEST_WEBHOOK_TOKEN },
      body: Buffer.from(
        '{"__proto__":{"polluted":"yes"},"object_kind":"note","constructor":{"prototype":{"polluted":"yes"}},"object_attributes":{"__proto__":{"polluted":"yes"}}}',
      ),
    });
    expect([200, 400]).toContain(response.status);
    pristine();
  });
});

// --- SSRF -----------------------------------------------------------------------------------------

describe('SSRF through links in notes', () => {
  // Guards functions/notify/upload-fetcher.ts: only the forge's own origin and upload paths are fetched.
  it('never fetches a URL off the forge, or a path that is not an upload, and never sends the token elsewhere', async () => {
    const fetched: string[] = [];
    const fakeFetch = (async (input: string | URL | Request) => {
      fetched.push(String(input));
      return new Response('ok', { status: 200, headers: { 'content-type': 'text/plain' } });
    }) as typeof fetch;
    const fetchUpload = createGitLabUploadFetcher({
      url: 'https://gitlab.example.com',
      token: async () => TEST_FORGE_TOKEN,
      fetch: fakeFetch,
    });
    for (const url of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'https://evil.example/acme/game/uploads/0123456789abcdef0123456789abcdef/x.png',
      'https://gitlab.example.com.evil.example/acme/game/uploads/0123456789abcdef0123456789abcdef/x.png',
      'https://gitlab.example.com@evil.example/acme/game/uploads/0123456789abcdef0123456789abcdef/x.png',
      'https://gitlab.example.com/api/v4/user',
      'https://gitlab.example.com/acme/game/uploads/../../../api/v4/user',
      'file:///etc/passwd',
      'gopher://gitlab.example.com/acme/game/uploads/0123456789abcdef0123456789abcdef/x',
    ]) {
      expect(await fetchUpload(url), url).toBeUndefined();
    }
    expect(fetched).toEqual([]);
    // The one kind of URL it does fetch: an upload on the forge itself.
    await fetchUpload('https://gitlab.example.com/acme/game/uploads/0123456789abcdef0123456789abcdef/x.png');
    expect(fetched).toHaveLength(1);
    expect(new URL(fetched[0] ?? '').origin).toBe('https://gitlab.example.com');
  });
});

beforeEach(() => {
  timingSafeEqual.mockClear();
});

describe('project-dmarc-policy-overruled-by-desk', () => {
  // A project that says `honour_dmarc_policy: false` gets its mail although the sender's domain
  // publishes p=reject: the desk-wide pass before routing used to quarantine it as
  // `dmarc_policy_reject` with the desk's own setting, never consulting the project's.
  const rejecting: ReceiptVerdicts = { ...passingVerdicts(), dmarc: 'FAIL', dmarcPolicy: 'reject' };

  it('SES verdicts DMARC=FAIL, p=reject: the project that does not honour it gets an issue', async () => {
    // Prepare
    const forge = createMemoryForge();
    const config = deskConfig({}, { authentication: { honour_dmarc_policy: false } });
    const harness = createHarness({ forge, config });
    // Act
    const trace = await harness.ingest(simpleMail(), { verdicts: rejecting });
    // Assess
    expect(trace.outcome).toBe('issue');
    expect(trace.reason).toBe('issue_created');
    expect(forge.issues('acme/game')).toHaveLength(1);
  });

  it('the desk-wide setting still holds for a project without its own policy', async () => {
    const forge = createMemoryForge();
    const harness = createHarness({ forge, config: deskConfig() });
    const trace = await harness.ingest(simpleMail(), { verdicts: rejecting });
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('dmarc_policy_reject');
    expect(trace.stages.find((record) => record.stage === 'policy')?.reason).toBe('dmarc_policy_reject');
  });

  it('a project that honours it is quarantined while the desk does not', async () => {
    const forge = createMemoryForge();
    const config = deskConfig(
      { authentication: { honour_dmarc_policy: false } },
      { authentication: { honour_dmarc_policy: true } },
    );
    const harness = createHarness({ forge, config });
    const trace = await harness.ingest(simpleMail(), { verdicts: rejecting });
    expect(trace.outcome).toBe('quarantined');
    expect(trace.reason).toBe('dmarc_policy_reject');
  });
});
