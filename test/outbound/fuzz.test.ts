import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { composeMail, fromNameFor, newMessageId, subjectFor } from '../../core/outbound/compose.ts';
import type { NotifyJob } from '../../core/outbound/jobs.ts';
import { renderTemplate } from '../../core/outbound/templates.ts';
import { createWebhookHandler } from '../../core/outbound/webhook.ts';
import { systemClock } from '../../core/ports.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  memoryStore,
  noteHook,
  recordingLogger,
  seedTicket,
  staticSecrets,
  WEBHOOK_TOKEN,
} from './support.ts';

/** Handlers and the composer take untrusted input: arbitrary input must never crash them or leak through. */

describe('fuzz', () => {
  it('the webhook core answers every body with 200 or 400, and queues only well-formed jobs', async () => {
    // Prepare
    const store = memoryStore();
    await seedTicket(store, 17, [{ address: 'ada@customer.example' }]);
    const queued: NotifyJob[] = [];
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: staticSecrets(),
      state: deskState(store),
      clock: systemClock,
      logger: recordingLogger(),
      queue: {
        enqueue: async (jobs) => {
          queued.push(...jobs);
        },
      },
    });
    const bodies = fc.oneof(
      fc.json(),
      fc.string(),
      // A real note hook with random values spliced into its fields.
      fc
        .record({
          path: fc.constantFrom('object_attributes', 'issue', 'user', 'project'),
          key: fc.constantFrom(
            'note',
            'internal',
            'system',
            'iid',
            'username',
            'path_with_namespace',
            'noteable_type',
            'id',
          ),
          value: fc.jsonValue(),
        })
        .map(({ path, key, value }) => {
          const hook = noteHook();
          const part = hook[path];
          if (typeof part === 'object' && part !== null) (part as Record<string, unknown>)[key] = value;
          return JSON.stringify(hook);
        }),
    );
    // Act / Assess
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const response = await handle({
          method: 'POST',
          path: '/',
          headers: { 'x-gitlab-token': WEBHOOK_TOKEN },
          body: Buffer.from(body),
        });
        expect([200, 400]).toContain(response.status);
      }),
      { numRuns: 300 },
    );
    for (const job of queued) expect(job.to).toBe('ada@customer.example');
  });

  it('without the token nothing is ever queued', async () => {
    const store = memoryStore();
    await seedTicket(store, 17, [{ address: 'ada@customer.example' }]);
    let queued = 0;
    const handle = createWebhookHandler({
      config: deskConfig(),
      secrets: staticSecrets(),
      state: deskState(store),
      clock: systemClock,
      logger: recordingLogger(),
      queue: {
        enqueue: async (jobs) => {
          queued += jobs.length;
        },
      },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.string()),
        fc.constantFrom('POST', 'GET', 'PUT'),
        fc.string(),
        async (token, method, path) => {
          fc.pre(token !== WEBHOOK_TOKEN);
          const response = await handle({
            method,
            path: `/${path}`,
            headers: token === null ? {} : { 'x-gitlab-token': token },
            body: Buffer.from(JSON.stringify(noteHook())),
          });
          expect(response.status).not.toBe(200);
        },
      ),
      { numRuns: 200 },
    );
    expect(queued).toBe(0);
  });

  it('no title, author name or note adds a header or breaks the message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.string(),
        async (title, author, note) => {
          const rendered = renderTemplate('%{NOTE_TEXT}', {
            ISSUE_ID: '#1',
            ISSUE_PATH: 'a/b#1',
            ISSUE_URL: '',
            NOTE_TEXT: note,
            ISSUE_DESCRIPTION: '',
            UNSUBSCRIBE_URL: '',
            SYSTEM_HEADER: '',
            SYSTEM_FOOTER: '',
            ADDITIONAL_TEXT: '',
          });
          const { raw } = await composeMail({
            kind: 'new_note',
            from: { name: fromNameFor('new_note', 'Acme', author), address: 'support@desk.example.com' },
            to: { name: author, address: 'ada@customer.example' },
            replyTo: 'support+r-x@desk.example.com',
            subject: subjectFor('new_note', title, 1),
            messageId: newMessageId('new_note', 'desk.example.com'),
            loopDomain: 'desk.example.com',
            html: rendered.html,
            text: rendered.text,
            date: new Date(0),
          });
          const head = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
          const names = head
            .replace(/\r\n[ \t]+/g, ' ')
            .split('\r\n')
            .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
          expect(names.sort()).toEqual(
            [
              'x-postdesk-loop',
              'from',
              'to',
              'reply-to',
              'subject',
              'message-id',
              'references',
              'date',
              'mime-version',
              'content-type',
            ].sort(),
          );
          const mail = await simpleParser(raw);
          expect(mail.subject ?? '').not.toMatch(/[\r\n]/);
        },
      ),
      { numRuns: 150 },
    );
  });
});
