import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParsedMail as ParsedEml, simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitLabForge } from '../../adapters/forges/gitlab/index.ts';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { OutboxMailer } from '../../adapters/local/outbox-mailer.ts';
import { createFileRawMailStore, type FileRawMailStore } from '../../adapters/local/raw-mail-store.ts';
import { startWebhookServer, type WebhookServer } from '../../adapters/local/webhook-server.ts';
import { ConfigSchema } from '../../core/config/schema.ts';
import { createNotifier } from '../../core/outbound/notify.ts';
import { createOnDelivered } from '../../core/outbound/on-delivered.ts';
import { createInlineNotifyQueue } from '../../core/outbound/queue.ts';
import { createWebhookHandler } from '../../core/outbound/webhook.ts';
import { type PipelineDeps, processMail } from '../../core/pipeline.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { deskState } from '../support/desk-state.ts';
import { type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';
import { noteHookFixture, recordingLogger, staticSecrets } from './support.ts';

/**
 * The issue's "Done when", end to end in local mode, against the fake GitLab on loopback:
 *
 * 1. a customer mail creates an issue; the thank-you lands in the outbox with the right headers;
 * 2. a GitLab Note Hook (the corpus payload, adapted to that issue) makes a new_note mail;
 * 3. the customer's reply to that mail's Reply-To becomes a note on the same issue, trimmed;
 * 4. an internal note sends nothing; a webhook with a wrong token gets 401 and sends nothing.
 *
 * Real pipeline, real GitLab adapter over HTTP, real outbox mailer and webhook server.
 */

const WEBHOOK_TOKEN = 'e2e-webhook-token-0123456789abcdef';
const REPLY_KEY = 'e2e-reply-key-0123456789abcdef0123';
const DESK = 'support+game@desk.example.com';
const CUSTOMER = 'ada@customer.example';

const compose = (options: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> =>
  new MailComposer({ newline: 'windows', ...options }).compile().build();

describe('outbound end to end (local mode, fake GitLab)', () => {
  let gitlab: FakeGitLab;
  let server: WebhookServer;
  let dataDir: string;
  let rawStore: FileRawMailStore;
  let deps: PipelineDeps;
  let mailCount = 0;

  const outbox = async (): Promise<ParsedEml[]> => {
    const dir = join(dataDir, 'outbox');
    const files = existsSync(dir) ? (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort() : [];
    return Promise.all(files.map(async (name) => simpleParser(await readFile(join(dir, name)))));
  };

  /** Delivers a raw mail as the SMTP server would: stored, then run through the pipeline. */
  const receive = async (raw: Buffer, recipients: string[]): Promise<DecisionTrace> => {
    mailCount += 1;
    const id = `local-e2e-${mailCount}`;
    await rawStore.put(`${id}.eml`, raw);
    return processMail(
      {
        id,
        rawKey: `${id}.eml`,
        envelope: { recipients, mailFrom: CUSTOMER },
        verdicts: { spf: 'PASS', dkim: 'PASS', dmarc: 'PASS', spam: 'PASS', virus: 'PASS', source: 'local' },
        receivedAt: new Date(),
      },
      deps,
    );
  };

  /** `token: null` sends no X-Gitlab-Token header at all. */
  const webhook = (body: unknown, token: string | null = WEBHOOK_TOKEN) =>
    fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Note Hook',
        ...(token === null ? {} : { 'x-gitlab-token': token }),
      },
      body: JSON.stringify(body),
    });

  /** The corpus Note Hook, adapted to acme/game#<iid> and to a note that exists on the fake GitLab. */
  const noteEvent = (
    iid: number,
    note: { id: number; body: string; internal?: boolean; username?: string; name?: string },
  ) => {
    const hook = noteHookFixture();
    const project = hook['project'] as Record<string, unknown>;
    project['path_with_namespace'] = 'acme/game';
    project['web_url'] = `${gitlab.url}/acme/game`;
    const attributes = hook['object_attributes'] as Record<string, unknown>;
    attributes['id'] = note.id;
    attributes['note'] = note.body;
    attributes['internal'] = note.internal ?? false;
    attributes['url'] = `${gitlab.url}/acme/game/-/issues/${iid}#note_${note.id}`;
    const issue = hook['issue'] as Record<string, unknown>;
    const created = gitlab.issues('acme/game').find((candidate) => candidate.iid === iid);
    issue['iid'] = iid;
    issue['title'] = created?.title ?? '';
    issue['confidential'] = true;
    issue['url'] = created?.web_url;
    hook['event_type'] = 'confidential_note';
    const user = hook['user'] as Record<string, unknown>;
    user['username'] = note.username ?? 'grace';
    user['name'] = note.name ?? 'Grace Agent';
    user['email'] = 'grace@acme.example';
    return hook;
  };

  beforeAll(async () => {
    gitlab = await startFakeGitLab({ projects: [{ path: 'acme/game' }] });
    dataDir = await mkdtemp(join(tmpdir(), 'postdesk-outbound-e2e-'));
    rawStore = createFileRawMailStore(join(dataDir, 'mail'));
    const config = ConfigSchema.parse({
      domain: 'desk.example.com',
      forge: { kind: 'gitlab', url: gitlab.url },
      bot_username: 'postdesk-bot',
      public_url: 'https://hooks.desk.example.com',
      projects: [{ path: 'acme/game', key: 'game', outgoing_name: 'Acme Support' }],
    });
    const secrets = staticSecrets({
      forge_token: gitlab.token,
      webhook_token: WEBHOOK_TOKEN,
      reply_key: REPLY_KEY,
    });
    const logger = recordingLogger();
    const store = createMemoryObjectStore();
    const clock = { now: () => new Date() };
    const forge = createGitLabForge({
      url: gitlab.url,
      token: async () => gitlab.token,
      retry: { attempts: 1 },
    });
    const mailer = new OutboxMailer({ dataDir });
    const queue = createInlineNotifyQueue(
      createNotifier({ config, state: deskState(store, clock), forge, mailer, secrets, clock, logger }),
      logger,
    );
    deps = {
      config,
      rawStore,
      state: deskState(store, clock),
      forge,
      secrets,
      clock,
      logger,
      onDelivered: createOnDelivered({ config, state: deskState(store, clock), queue, clock, logger }),
    };
    server = await startWebhookServer({
      port: 0,
      handle: createWebhookHandler({ config, secrets, state: deskState(store, clock), queue, logger, clock }),
    });
  });

  afterAll(async () => {
    await server.close();
    await gitlab.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('1. a customer mail creates an issue, and the thank-you has the right headers', async () => {
    // Prepare
    const raw = await compose({
      from: { name: 'Ada Customer', address: CUSTOMER },
      to: DESK,
      subject: 'Printer on fire',
      messageId: '<cust-1@customer.example>',
      text: 'Hello,\n\nthe printer in room 4 is on fire.\n\nAda\n',
    });
    // Act
    const trace = await receive(raw, [DESK]);
    // Assess: the issue
    expect(trace.outcome).toBe('issue');
    const issues = gitlab.issues('acme/game');
    expect(issues.map((issue) => issue.title)).toEqual(['Printer on fire']);
    expect(issues[0]?.description).toContain('the printer in room 4 is on fire');
    // Assess: the thank-you
    const mails = await outbox();
    expect(mails).toHaveLength(1);
    const thanks = mails[0];
    expect(thanks?.subject).toBe(`Re: Printer on fire (#${issues[0]?.iid})`);
    expect(thanks?.from?.value).toEqual([{ name: 'Acme Support', address: 'support@desk.example.com' }]);
    expect(thanks?.to && !Array.isArray(thanks.to) ? thanks.to.value[0]?.address : undefined).toBe(CUSTOMER);
    expect(thanks?.replyTo?.value[0]?.address).toMatch(
      /^support\+r-game-\d+-0-[a-z2-7]{20}@desk\.example\.com$/,
    );
    expect(thanks?.inReplyTo).toBe('<cust-1@customer.example>');
    expect(thanks?.references).toContain('<cust-1@customer.example>');
    expect(thanks?.headers.get('auto-submitted')).toBe('auto-generated');
    expect(thanks?.headers.get('x-auto-response-suppress')).toBe('All');
    expect(thanks?.headers.get('x-postdesk-loop')).toBe('desk.example.com');
    expect(thanks?.text).toContain(`#${issues[0]?.iid}`);
    expect(thanks?.html).toContain('https://hooks.desk.example.com/unsubscribe/u-game-');
  });

  it('2. a GitLab note webhook makes a new_note mail to the customer', async () => {
    // Prepare
    const iid = gitlab.issues('acme/game')[0]?.iid ?? 0;
    const note = gitlab.seedNote('acme/game', iid, {
      body: 'Have you tried turning it **off and on** again?',
    });
    // Act
    const response = await webhook(noteEvent(iid, { id: note.id, body: note.body }));
    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ queued: 1 });
    const mails = await outbox();
    expect(mails).toHaveLength(2);
    const [thanks, answer] = mails;
    expect(answer?.subject).toBe('Re: Printer on fire (#1)');
    expect(answer?.from?.value).toEqual([
      { name: 'Grace Agent via Acme Support', address: 'support@desk.example.com' },
    ]);
    expect(answer?.to && !Array.isArray(answer.to) ? answer.to.value[0]?.address : undefined).toBe(CUSTOMER);
    expect(answer?.html).toContain('Have you tried turning it <strong>off and on</strong> again?');
    expect(answer?.headers.has('auto-submitted')).toBe(false);
    expect(answer?.headers.get('x-postdesk-loop')).toBe('desk.example.com');
    expect(answer?.inReplyTo).toBe('<cust-1@customer.example>');
    expect(answer?.references).toContain(thanks?.messageId);
  });

  it('3. the customer reply to that mail lands on the same issue, trimmed, and mails nobody', async () => {
    // Prepare: a reply as a mail client writes it, quoting our mail below
    const [, answer] = await outbox();
    const replyTo = answer?.replyTo?.value[0]?.address ?? '';
    const raw = await compose({
      from: { name: 'Ada Customer', address: CUSTOMER },
      to: replyTo,
      subject: answer?.subject ? `Re: ${answer.subject.replace(/^Re: /, '')}` : 'Re:',
      messageId: '<cust-2@customer.example>',
      inReplyTo: answer?.messageId ?? '',
      references: [...(answer?.references ?? []), answer?.messageId ?? ''],
      text: [
        'It works now, thank you!',
        '',
        'On Mon, 2 Mar 2026 at 10:00, Grace Agent via Acme Support <support@desk.example.com> wrote:',
        '> Have you tried turning it **off and on** again?',
        '',
      ].join('\n'),
    });
    // Act
    const trace = await receive(raw, [replyTo]);
    // Assess
    expect(trace.outcome).toBe('note');
    const iid = gitlab.issues('acme/game')[0]?.iid ?? 0;
    expect(gitlab.issues('acme/game')).toHaveLength(1);
    const notes = gitlab.notes('acme/game', iid);
    const customerNote = notes.at(-1);
    expect(customerNote?.internal).toBe(false);
    // (the render stage escapes Markdown punctuation in customer text: `thank you\!`)
    expect(customerNote?.body).toMatch(/It works now, thank you\\?!/);
    // Trimmed: the quote is not in the visible text (a collapsed <details> may keep it).
    const visible = (customerNote?.body ?? '').replace(/<details>[\s\S]*?<\/details>/g, '');
    expect(visible).not.toContain('> Have you tried');
    expect(visible).not.toContain('wrote:');
    // No thank-you for a reply; and GitLab's webhook for the bot's note sends nothing either.
    expect(await outbox()).toHaveLength(2);
    const echo = await webhook(
      noteEvent(iid, { id: customerNote?.id ?? 0, body: customerNote?.body ?? '', username: 'postdesk-bot' }),
    );
    expect(await echo.json()).toEqual({ queued: 0, ignored: 'bot_note' });
    expect(await outbox()).toHaveLength(2);
  });

  it('4. an internal note sends nothing', async () => {
    const iid = gitlab.issues('acme/game')[0]?.iid ?? 0;
    const note = gitlab.seedNote('acme/game', iid, {
      body: 'Customer is on the old firmware.',
      internal: true,
    });
    const response = await webhook(noteEvent(iid, { id: note.id, body: note.body, internal: true }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ queued: 0, ignored: 'internal_note' });
    expect(await outbox()).toHaveLength(2);
  });

  it('5. a webhook with a wrong token gets 401 and sends nothing', async () => {
    const iid = gitlab.issues('acme/game')[0]?.iid ?? 0;
    const note = gitlab.seedNote('acme/game', iid, { body: 'Public answer' });
    for (const token of ['wrong-token', '', null]) {
      const response = await webhook(noteEvent(iid, { id: note.id, body: note.body }), token);
      expect(response.status).toBe(401);
    }
    expect(await outbox()).toHaveLength(2);
  });
});
