import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { startWebhookServer, type WebhookServer } from '../../adapters/local/webhook-server.ts';
import { createNotifier } from '../../core/outbound/notify.ts';
import { isUnsubscribed } from '../../core/outbound/state.ts';
import {
  createUnsubscribeToken,
  parseUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from '../../core/outbound/unsubscribe.ts';
import { createWebhookHandler } from '../../core/outbound/webhook.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  fakeForge,
  fixedClock,
  memoryStore,
  PROJECT,
  REPLY_KEY,
  recordingLogger,
  recordingMailer,
  seedTicket,
  staticSecrets,
} from './support.ts';

describe('unsubscribe tokens', () => {
  const fields = {
    projectKey: 'test',
    issueIid: 17,
    participantIndex: 1,
    projectPath: PROJECT,
    participant: 'bob@x.example',
  };

  it('round-trips and verifies only for the same project, issue and participant', () => {
    const token = createUnsubscribeToken(REPLY_KEY, fields);
    expect(token).toMatch(/^u-test-17-1-[a-z2-7]{20}$/);
    const parsed = parseUnsubscribeToken(token);
    if (!parsed) throw new Error('not parsed');
    expect(verifyUnsubscribeToken(REPLY_KEY, parsed, PROJECT, 'BOB@x.example')).toBe(true);
    expect(verifyUnsubscribeToken(REPLY_KEY, parsed, PROJECT, 'ada@x.example')).toBe(false);
    expect(verifyUnsubscribeToken(REPLY_KEY, parsed, 'other/project', 'bob@x.example')).toBe(false);
    expect(verifyUnsubscribeToken('another-key-0123456789abcdef', parsed, PROJECT, 'bob@x.example')).toBe(
      false,
    );
  });

  it('is not a reply token, and a reply token is not one', () => {
    expect(parseUnsubscribeToken('r-test-17-1-abcdefghijklmnopqrst')).toBeUndefined();
    expect(unsubscribeUrl('https://h.example/', 'u-x')).toBe('https://h.example/unsubscribe/u-x');
  });
});

describe('unsubscribe link', () => {
  let server: WebhookServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const setup = async () => {
    const store = memoryStore();
    const clock = fixedClock();
    await seedTicket(store, 17, [{ address: 'ada@customer.example' }, { address: 'bob@customer.example' }], {
      clock,
    });
    const mailer = recordingMailer();
    const config = deskConfig();
    const secrets = staticSecrets();
    const logger = recordingLogger();
    const send = createNotifier({
      config,
      state: deskState(store, clock),
      forge: fakeForge(),
      mailer,
      secrets,
      clock,
      logger,
    });
    const handle = createWebhookHandler({
      config,
      secrets,
      state: deskState(store, clock),
      logger,
      clock,
      queue: { enqueue: async () => undefined },
    });
    server = await startWebhookServer({ port: 0, handle });
    return { store, mailer, send, handle, server };
  };

  it('the link in a mail unsubscribes that participant: GET asks, POST does it, then no more mail', async () => {
    // Prepare: a mail goes out with the link in the body and in List-Unsubscribe
    const { store, mailer, send, server: local } = await setup();
    const job = {
      v: 1 as const,
      kind: 'new_note' as const,
      project: PROJECT,
      iid: 17,
      to: 'ada@customer.example',
      title: 'Printer on fire',
      noteId: 1,
      noteText: 'Hello',
    };
    await send(job);
    const mail = await simpleParser(mailer.sent[0]?.raw ?? Buffer.alloc(0));
    const link = /https:\/\/hooks\.desk\.example\.com(\/unsubscribe\/u-[a-z0-9-]+)/.exec(
      mail.html || '',
    )?.[1];
    expect(link).toBeDefined();
    const url = `${local.url}${link}`;

    // Act 1: a GET (a person, or a mail scanner) only shows the question
    const page = await fetch(url);
    const html = await page.text();
    // Assess 1
    expect(page.status).toBe(200);
    expect(html).toContain('<form method="post">');
    expect(isUnsubscribed(await deskState(store).outbound.get(PROJECT, 17), 'ada@customer.example')).toBe(
      false,
    );

    // Act 2: the button (or the client's RFC 8058 one-click POST)
    const done = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    // Assess 2
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('You are unsubscribed');
    const state = await deskState(store).outbound.get(PROJECT, 17);
    expect(isUnsubscribed(state, 'ada@customer.example')).toBe(true);
    expect(isUnsubscribed(state, 'bob@customer.example')).toBe(false);
    expect(await send({ ...job, noteId: 2 })).toEqual({ status: 'skipped', reason: 'unsubscribed' });
    expect((await send({ ...job, noteId: 2, to: 'bob@customer.example' })).status).toBe('sent');
  });

  it('a forged, altered or foreign token is 404 and changes nothing', async () => {
    const { store, server: local } = await setup();
    const good = createUnsubscribeToken(REPLY_KEY, {
      projectKey: 'test',
      issueIid: 17,
      participantIndex: 0,
      projectPath: PROJECT,
      participant: 'ada@customer.example',
    });
    const other = good.replace(/^u-test-17-0-/, 'u-test-17-1-');
    const tampered = `${good.slice(0, -1)}${good.endsWith('a') ? 'b' : 'a'}`;
    for (const token of [
      other,
      tampered,
      'u-test-99-0-abcdefghijklmnopqrst',
      'u-nope-17-0-abcdefghijklmnopqrst',
      'junk',
    ]) {
      const response = await fetch(`${local.url}/unsubscribe/${token}`, { method: 'POST' });
      expect(response.status).toBe(404);
    }
    expect((await deskState(store).outbound.get(PROJECT, 17)).unsubscribed).toEqual([]);
  });

  it('other methods are refused', async () => {
    const { server: local } = await setup();
    expect((await fetch(`${local.url}/unsubscribe/u-x`, { method: 'DELETE' })).status).toBe(405);
  });
});
