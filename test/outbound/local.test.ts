import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxMailer } from '../../adapters/local/outbox-mailer.ts';
import { startWebhookServer, type WebhookServer } from '../../adapters/local/webhook-server.ts';
import { composeMail, newMessageId } from '../../core/outbound/compose.ts';
import type { WebhookRequest } from '../../core/outbound/webhook.ts';
import { fixedClock } from './support.ts';

describe('outbox mailer', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes <dataDir>/outbox/<timestamp>-<id>.eml and returns the mail’s Message-ID', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'postdesk-outbox-'));
    const mailer = new OutboxMailer({ dataDir: dir, clock: fixedClock('2026-03-02T10:00:00.000Z') });
    const messageId = newMessageId('thank_you', 'desk.example.com');
    const { raw } = await composeMail({
      kind: 'thank_you',
      from: { name: 'Acme', address: 'support@desk.example.com' },
      to: { address: 'ada@customer.example' },
      replyTo: 'support+r-x@desk.example.com',
      subject: 'Re: Hi (#1)',
      messageId,
      loopDomain: 'desk.example.com',
      html: '<p>x</p>',
      text: 'x',
      date: new Date(),
    });
    // Act
    const sent = await mailer.sendRaw({
      from: 'support@desk.example.com',
      to: ['ada@customer.example'],
      raw,
    });
    // Assess
    expect(`<${sent.messageId}>`).toBe(messageId);
    const files = await readdir(join(dir, 'outbox'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^2026-03-02T10-00-00-000Z-[0-9a-f]{8}\.eml$/);
    expect(await readFile(join(dir, 'outbox', files[0] ?? ''))).toEqual(raw);
    expect(mailer.messageIdForms(sent.messageId)).toEqual([sent.messageId]);
  });
});

describe('local webhook server', () => {
  let server: WebhookServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('listens on loopback and hands the core a plain request', async () => {
    // Prepare
    const seen: WebhookRequest[] = [];
    server = await startWebhookServer({
      port: 0,
      handle: async (request) => {
        seen.push(request);
        return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"queued":0}' };
      },
    });
    // Act
    const response = await fetch(`${server.url}/hook?x=1`, {
      method: 'POST',
      headers: { 'X-Gitlab-Token': 't0k3n', 'X-Gitlab-Event': 'Note Hook' },
      body: '{"a":1}',
    });
    // Assess
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ queued: 0 });
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.path).toBe('/hook');
    expect(seen[0]?.headers['x-gitlab-token']).toBe('t0k3n');
    expect(seen[0]?.body.toString()).toBe('{"a":1}');
  });

  it('answers 413 past the cap without calling the core', async () => {
    let called = false;
    server = await startWebhookServer({
      port: 0,
      maxBodyBytes: 1000,
      handle: async () => {
        called = true;
        return { status: 200, headers: {}, body: '' };
      },
    });
    const response = await fetch(server.url, { method: 'POST', body: 'x'.repeat(5000) });
    expect(response.status).toBe(413);
    expect(called).toBe(false);
  });

  it('a failing core is a 500, not a crash', async () => {
    server = await startWebhookServer({
      port: 0,
      handle: async () => {
        throw new Error('boom');
      },
    });
    expect((await fetch(server.url, { method: 'POST', body: '{}' })).status).toBe(500);
    expect((await fetch(server.url, { method: 'POST', body: '{}' })).status).toBe(500);
  });
});
