import { describe, expect, it } from 'vitest';
import { isNoReplySender, suppressesAutoResponse } from '../../core/stages/classify/index.ts';
import { corpus, withHeaders } from './support.ts';

describe('isNoReplySender', () => {
  it.each([
    'noreply@example.org',
    'no-reply@example.org',
    'No_Reply@example.org',
    'no.reply@example.org',
    'noreply-billing@shop.example.net',
    'noreply123@example.org',
    'donotreply@example.org',
    'do-not-reply@example.org',
    'DoNotReply+tag@example.org',
    'MAILER-DAEMON@amazonses.com',
    'postmaster@example.net',
    'abuse@example.net',
    'root@host.example.net',
    '  noreply@example.org  ',
  ])('is true for %j', (address) => {
    expect(isNoReplySender(address)).toBe(true);
  });

  it.each([
    'jane.doe@example.org',
    'reply@example.org',
    'nora@example.org',
    'rootbeer@example.org',
    'abuse-desk-lead@example.org',
    'jane@noreply.example.org',
    'noreply',
    '',
  ])('is false for %j', (address) => {
    expect(isNoReplySender(address)).toBe(false);
  });

  it('is true for the sender of the corpus spam (From: noreply@…)', () => {
    const from = corpus('mailparser/spam.eml').from[0]?.address ?? '';
    expect(isNoReplySender(from)).toBe(true);
  });
});

describe('suppressesAutoResponse', () => {
  it.each(['All', 'all', 'DR, AutoReply', 'OOF,autoreply'])(
    'is true for X-Auto-Response-Suppress: %s',
    (value) => {
      expect(suppressesAutoResponse(withHeaders([['X-Auto-Response-Suppress', value]]))).toBe(true);
    },
  );

  it.each(['OOF', 'DR, NDR, RN, NRN'])('is false for X-Auto-Response-Suppress: %s', (value) => {
    expect(suppressesAutoResponse(withHeaders([['X-Auto-Response-Suppress', value]]))).toBe(false);
  });

  it('is false without the header', () => {
    expect(suppressesAutoResponse(withHeaders([]))).toBe(false);
  });
});
