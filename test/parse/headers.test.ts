import { describe, expect, it } from 'vitest';
import { parseMail } from '../../core/stages/parse/index.ts';
import { bufferOpener, corpusMail, limitsWith, parsedOf, parseFixture, parseOk } from './fixtures.ts';

describe('headers', () => {
  it('keeps every header by lowercased name, all values in order, unfolded, encoded words as written', async () => {
    // Act
    const mail = await parseOk(corpusMail('mailparser/history-2012/sparrow.eml'));
    // Assess
    const received = mail.headers.get('received') ?? [];
    expect(received.length).toBeGreaterThan(2);
    expect(received.every((value) => !value.includes('\n'))).toBe(true);
    expect(mail.headers.get('subject')).toEqual(['Tere =?utf-8?Q?=C3=B6=C3=A4=C3=B5=C3=BC?=']);
    expect(mail.subject).toBe('Tere öäõü');
    expect(mail.headers.get('x-forwarded-to')).toBeDefined();
  });

  it('stores headers named __proto__ or constructor as plain keys, polluting nothing', async () => {
    // Act
    const mail = await parseOk(parseFixture('headers-prototype-pollution.eml'));
    // Assess
    expect(mail.headers).toBeInstanceOf(Map);
    expect(mail.headers.get('__proto__')).toEqual(['{"polluted": true}']);
    expect(mail.headers.get('constructor')).toEqual(['overwritten']);
    expect(mail.headers.get('hasownproperty')).toEqual(['shadowed']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(mail.contentTypeParams)).toBeNull();
    expect(Object.keys(mail.contentTypeParams)).toEqual(['charset', '__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(mail.contentTypeParams, '__proto__')?.value).toBe('polluted');
    expect(mail.text).toBe('body\n');
  });

  it('splits In-Reply-To and References on white space and commas, every value, no brackets', async () => {
    // Act
    const mail = await parseOk(parseFixture('message-ids.eml'));
    // Assess
    expect(mail.messageId).toBe('reply-3@client.example');
    expect(mail.inReplyTo).toEqual(['parent-2@desk.example.com']);
    expect(mail.references).toEqual([
      'root-1@desk.example.com',
      'parent-2@desk.example.com',
      'side@desk.example.com',
      'bare-id@desk.example.com',
    ]);
    expect(mail.date?.toISOString()).toBe('2024-01-02T09:00:00.000Z');
  });

  it('parses address lists: decoded names, addresses as written, groups flattened', async () => {
    // Act
    const mail = await parseOk(parseFixture('addresses.eml'));
    // Assess
    expect(mail.from).toEqual([{ name: 'Zoë Müller', address: 'zoe@example.com' }]);
    expect(mail.replyTo).toEqual([
      { name: 'Support, Team', address: 'team@example.com' },
      { name: '', address: 'other@example.com' },
    ]);
    expect(mail.sender).toEqual({ name: 'Bot', address: 'bot@example.com' });
    expect(mail.to.map((box) => box.address)).toEqual([
      'anna@example.com',
      'bob@example.com',
      'carl@example.com',
    ]);
    expect(mail.cc).toEqual([
      // RFC 2047 §5: an encoded word that decodes to an address is a name, never an address.
      { name: 'attacker@evil.example', address: 'real@example.com' },
      { name: '田中', address: 'tanaka@example.jp' },
    ]);
  });

  it('fills the defaults of a minimal mail', async () => {
    // Act
    const mail = await parseOk(corpusMail('charsets/mail-none-charset-bad-b-word.eml'));
    // Assess
    expect(mail).toMatchObject({
      from: [],
      replyTo: [],
      sender: undefined,
      to: [],
      cc: [],
      subject: 'TEST',
      messageId: undefined,
      inReplyTo: [],
      references: [],
      date: undefined,
      contentType: 'text/plain',
      html: undefined,
      attachments: [],
      size: 37,
    });
    expect(mail.text?.trim()).toBe('TEST');
  });

  it('reads a Date with a broken zone instead of dropping it', async () => {
    // Act
    const mail = await parseOk(corpusMail('charsets/mail-raw-utf-8-subject-iso-8859-1-body.eml'));
    // Assess
    expect(mail.headers.get('date')?.[0]).toContain('H0500');
    expect(mail.date?.getUTCFullYear()).toBe(2010);
  });

  it('warns about raw 8-bit header bytes that are not UTF-8', async () => {
    // Act
    const mail = await parseOk(corpusMail('charsets/mail-windows-1252-b-from-raw-8bit-subject.eml'));
    // Assess
    expect(mail.warnings).toEqual([
      'header subject: raw 8-bit bytes are not UTF-8 (RFC 6532); decoded as windows-1252',
    ]);
  });

  it('decodes an mbox From_ line away and counts the size of the raw mail', async () => {
    // Act
    const mail = await parseOk(corpusMail('charsets/mail-euc-kr-q-subject-base64-body.eml'));
    // Assess
    expect([...mail.headers.keys()]).not.toContain('from jamis_buck@byu.edu mon may  2 16');
    expect(mail.from).toEqual([{ name: 'Jamis Buck', address: 'jamis@37signals.com' }]);
    expect(mail.size).toBe(558);
  });

  it('unfolds format=flowed text and keeps the signature separator', async () => {
    // Prepare
    const raw =
      'From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n' +
      'This line is soft- \r\nwrapped here.\r\n> quoted and \r\n> joined\r\n-- \r\nSig\r\n';
    // Act
    const mail = parsedOf(await parseMail(bufferOpener(raw), { limits: limitsWith() }));
    // Assess
    expect(mail.text).toBe('This line is soft-wrapped here.\n> quoted andjoined\n-- \nSig\n');
  });
});
