import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collectRecipients } from '../../core/stages/route/index.ts';
import { buildMail, mailFromEml } from '../support/mail-factory.ts';
import { envelopeTo, fixture, noEnvelope } from './support.ts';

describe('collectRecipients', () => {
  it('uses only the envelope when it is known, even if To names other desk addresses', () => {
    // Prepare
    const mail = fixture('two-desks.eml');
    // Act
    const recipients = collectRecipients(mail, envelopeTo('Support+Shop@desk.example.com'));
    // Assess
    expect(recipients).toEqual({ source: 'envelope', addresses: ['support+shop@desk.example.com'] });
  });

  it('reads headers in GitLab’s order when there is no envelope: To first, Cc last', () => {
    // Prepare
    const mail = buildMail([
      ['Cc', 'cc@desk.example.com'],
      ['X-Forwarded-To', 'xfwd@desk.example.com'],
      ['X-Original-To', 'xorig@desk.example.com'],
      ['Received', 'from a by b with SMTP id 1 for <rcvd@desk.example.com>; Mon, 17 Jun 2024 09:00:00 +0000'],
      ['X-Envelope-To', 'xenv@desk.example.com'],
      ['Envelope-To', '<env@desk.example.com>'],
      ['X-Delivered-To', 'xdel@desk.example.com'],
      ['Delivered-To', 'del@desk.example.com'],
      ['To', 'Someone <to@desk.example.com>'],
    ]);
    // Act
    const recipients = collectRecipients(mail, noEnvelope);
    // Assess
    expect(recipients.source).toBe('headers');
    expect(recipients.addresses).toEqual([
      'to@desk.example.com',
      'del@desk.example.com',
      'xdel@desk.example.com',
      'env@desk.example.com',
      'xenv@desk.example.com',
      'rcvd@desk.example.com',
      'xorig@desk.example.com',
      'xfwd@desk.example.com',
      'cc@desk.example.com',
    ]);
  });

  it('reads SES’s bracketless "for recipient@…;" in Received', () => {
    const recipients = collectRecipients(fixture('received-for-only.eml'), noEnvelope);
    expect(recipients.addresses).toEqual(['support+shop@desk.example.com']);
  });

  it('collects a real forwarded Gmail chain (corpus sparrow.eml) once per address, in order', () => {
    // Prepare
    const raw = readFileSync(
      new URL('../fixtures/corpus/emails/mailparser/history-2012/sparrow.eml', import.meta.url),
    );
    // Act
    const recipients = collectRecipients(mailFromEml(raw), noEnvelope);
    // Assess
    expect(recipients.addresses).toEqual(['andris@node.ee', 'andris.reinman@gmail.com']);
  });

  it('finds nothing in a Bcc-only mail without its envelope', () => {
    const recipients = collectRecipients(fixture('bcc-only.eml'), noEnvelope);
    expect(recipients.addresses).toEqual(['alex@partner.example.net']);
  });
});
