import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  type ComposeInput,
  composeMail,
  fromNameFor,
  headerText,
  isPlainAddress,
  newMessageId,
  referencesFor,
  subjectFor,
} from '../../core/outbound/compose.ts';

const input = (overrides: Partial<ComposeInput> = {}): ComposeInput => ({
  kind: 'thank_you',
  from: { name: 'Acme Support', address: 'support@desk.example.com' },
  to: { name: 'Ada Customer', address: 'ada@customer.example' },
  replyTo: 'support+r-test-17-0-abcdefghijklmnopqrst@desk.example.com',
  subject: subjectFor('thank_you', 'Printer on fire', 17),
  messageId: newMessageId('thank_you', 'desk.example.com'),
  inReplyTo: 'original-17@mail.customer.example',
  references: [],
  loopDomain: 'desk.example.com',
  unsubscribeUrl: 'https://hooks.desk.example.com/unsubscribe/u-test-17-0-abc',
  html: '<p>Thanks</p>',
  text: 'Thanks\n',
  date: new Date('2026-03-02T10:00:00Z'),
  ...overrides,
});

/** The raw header block, unfolded, one header per line. */
const headerLines = (raw: Buffer): string[] => {
  const text = raw.toString('utf8');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
};

const headerNames = (raw: Buffer): string[] =>
  headerLines(raw).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());

describe('composed headers', () => {
  it('thank_you: desk From, participant To, signed Reply-To, threading, auto and loop headers', async () => {
    // Act
    const composed = await composeMail(input());
    const mail = await simpleParser(composed.raw);
    // Assess
    expect(mail.from?.value).toEqual([{ name: 'Acme Support', address: 'support@desk.example.com' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : []).toEqual([
      { name: 'Ada Customer', address: 'ada@customer.example' },
    ]);
    expect(mail.replyTo?.value[0]?.address).toBe('support+r-test-17-0-abcdefghijklmnopqrst@desk.example.com');
    expect(mail.subject).toBe('Re: Printer on fire (#17)');
    expect(mail.messageId).toBe(composed.messageId);
    expect(mail.inReplyTo).toBe('<original-17@mail.customer.example>');
    expect(mail.references).toEqual(['<original-17@mail.customer.example>', composed.messageId]);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-auto-response-suppress')).toBe('All');
    expect(mail.headers.get('x-postdesk-loop')).toBe('desk.example.com');
    // mailparser folds List-* headers into one `list` object; the raw lines are what clients read.
    expect(headerLines(composed.raw)).toContain(
      'List-Unsubscribe: <https://hooks.desk.example.com/unsubscribe/u-test-17-0-abc>',
    );
    expect(headerLines(composed.raw)).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(mail.text).toContain('Thanks');
    expect(mail.html).toContain('<p>Thanks</p>');
  });

  it('new_participant is automatic mail too', async () => {
    const mail = await simpleParser((await composeMail(input({ kind: 'new_participant' }))).raw);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.headers.get('x-auto-response-suppress')).toBe('All');
  });

  it('new_note: a human message, no auto headers, loop header kept, earlier outbound ids in References', async () => {
    // Prepare
    const from = {
      name: fromNameFor('new_note', 'Acme Support', 'Grace Agent'),
      address: 'support@desk.example.com',
    };
    // Act
    const composed = await composeMail(
      input({
        kind: 'new_note',
        from,
        subject: subjectFor('new_note', 'Printer on fire', 17),
        references: ['<original-17@mail.customer.example>', '0102019c-0001-000000@eu-west-1.amazonses.com'],
      }),
    );
    const mail = await simpleParser(composed.raw);
    // Assess
    expect(mail.from?.value[0]?.name).toBe('Grace Agent via Acme Support');
    expect(mail.subject).toBe('Re: Printer on fire (#17)');
    expect(mail.headers.has('auto-submitted')).toBe(false);
    expect(mail.headers.has('x-auto-response-suppress')).toBe(false);
    expect(mail.headers.get('x-postdesk-loop')).toBe('desk.example.com');
    expect(mail.inReplyTo).toBe('<original-17@mail.customer.example>');
    expect(mail.references).toEqual([
      '<original-17@mail.customer.example>',
      '<0102019c-0001-000000@eu-west-1.amazonses.com>',
      composed.messageId,
    ]);
  });

  it('leaves out List-Unsubscribe without a public URL', async () => {
    const composed = await composeMail(input({ unsubscribeUrl: undefined }));
    expect(headerNames(composed.raw)).not.toContain('list-unsubscribe');
    expect(headerNames(composed.raw)).not.toContain('list-unsubscribe-post');
  });

  it('attaches files', async () => {
    const composed = await composeMail(
      input({
        kind: 'new_note',
        attachments: [{ filename: 'log.txt', contentType: 'text/plain', content: Buffer.from('boom') }],
      }),
    );
    const mail = await simpleParser(composed.raw);
    expect(mail.attachments.map((file) => [file.filename, file.content.toString()])).toEqual([
      ['log.txt', 'boom'],
    ]);
  });

  it('keeps the thread root and the newest ids when References gets long', () => {
    const ids = Array.from({ length: 30 }, (_, i) => `id-${i}@x.example`);
    const refs = referencesFor(ids);
    expect(refs).toHaveLength(12);
    expect(refs[0]).toBe('<id-0@x.example>');
    expect(refs.at(-1)).toBe('<id-29@x.example>');
  });
});

describe('header injection', () => {
  const hostile = [
    'Printer\r\nBcc: victim@evil.example',
    'Printer\nBcc: victim@evil.example',
    'Printer\rBcc: victim@evil.example',
    'Printer\u0000\r\nX-Evil: 1',
    'Printer\u2028Bcc: victim@evil.example',
    '=?utf-8?Q?Printer=0D=0ABcc:_victim@evil.example?=',
    '=?UTF-8?B?UHJpbnRlcg0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?=',
  ];

  it.each(hostile)('a title %j adds no header', async (title) => {
    // Act
    const composed = await composeMail(
      input({
        subject: subjectFor('new_note', title, 17),
        from: {
          name: fromNameFor('new_note', 'Acme\r\nBcc: a@evil.example', title),
          address: 'support@desk.example.com',
        },
        to: { name: title, address: 'ada@customer.example' },
      }),
    );
    const mail = await simpleParser(composed.raw);
    // Assess: the raw header block has exactly the headers we set, nothing smuggled in
    const names = headerNames(composed.raw);
    expect(names).not.toContain('bcc');
    expect(names).not.toContain('x-evil');
    expect(names.filter((name) => name === 'subject')).toHaveLength(1);
    expect(mail.headers.has('bcc')).toBe(false);
    expect(mail.bcc).toBeUndefined();
    // After decoding, the subject is still one line and the encoded word decoded only to itself.
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject?.startsWith('Re: ')).toBe(true);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((box) => box.address) : []).toEqual([
      'ada@customer.example',
    ]);
    expect(mail.from?.value.map((box) => box.address)).toEqual(['support@desk.example.com']);
  });

  it('a literal encoded word in a title is sent encoded and reads back as written', async () => {
    const title = '=?utf-8?Q?Printer=0D=0ABcc:_victim@evil.example?=';
    const mail = await simpleParser(
      (await composeMail(input({ subject: subjectFor('new_note', title, 17) }))).raw,
    );
    expect(mail.subject?.replace(/\u200b/g, '')).toBe(`Re: ${title} (#17)`);
  });

  it('refuses addresses that could bend a header', async () => {
    for (const address of [
      'a@b.example\r\nBcc: x@y.example',
      'a@b.example, c@d.example',
      '"a"@b.example',
      'a b@c.example',
    ]) {
      expect(isPlainAddress(address)).toBe(false);
      await expect(composeMail(input({ to: { address } }))).rejects.toThrow(TypeError);
      await expect(composeMail(input({ replyTo: address }))).rejects.toThrow(TypeError);
    }
  });

  it('refuses a hostile In-Reply-To id and a hostile unsubscribe URL', async () => {
    const composed = await composeMail(
      input({
        inReplyTo: 'x@y.example>\r\nBcc: v@evil.example',
        references: ['<a@b.example>\r\nX-Evil: 1'],
        unsubscribeUrl: 'https://x.example/u\r\nBcc: v@evil.example',
      }),
    );
    const names = headerNames(composed.raw);
    expect(names).not.toContain('bcc');
    expect(names).not.toContain('x-evil');
    expect(names).not.toContain('in-reply-to');
    expect(names).not.toContain('list-unsubscribe');
  });

  it('headerText removes controls, bidi overrides and caps the length', () => {
    expect(headerText('a\r\n\tb\u0000c')).toBe('a b c');
    expect(headerText('x\u202Eevil')).toBe('xevil');
    expect(Array.from(headerText('😀'.repeat(400), 10))).toHaveLength(10);
  });
});
