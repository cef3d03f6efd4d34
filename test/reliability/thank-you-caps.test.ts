import { describe, expect, it } from 'vitest';
import { createDesk, type Desk, deskConfigFor, headerOf } from './desk.ts';
import { expectDecision, passingVerdicts, simpleMail } from './support.ts';

/**
 * The caps on automatic mail through a whole desk (core/outbound/caps.ts): the pipeline, its
 * thank-you hook, the notifier and an SES-like mailer, real MIME in and out.
 */

const ingest = (desk: Desk, raw: Buffer) =>
  desk.harness.ingest(raw, { recipients: [`support+game@${desk.domain}`], verdicts: passingVerdicts() });

/** Automatic mail carries Auto-Submitted (RFC 3834); only thank-yous can be sent here. */
const automatic = (desk: Desk) =>
  desk.sent.filter((mail) => headerOf(mail.raw, 'Auto-Submitted') === 'auto-generated');

describe('thank-you caps through the whole desk', () => {
  it('issue-14 thank-you cap is 10 per address, not 2: 10 mails with 10 subjects from one address get exactly 2 thank-yous', async () => {
    // Prepare
    const desk = createDesk();
    // Act: one sender, ten subjects, one mail every 2 seconds (the report: 10 thank-yous in 20 s)
    for (let index = 1; index <= 10; index++) {
      desk.clock.advance(2_000);
      const trace = await ingest(
        desk,
        simpleMail({ from: 'Mallory <mallory@example.com>', subject: `Question number ${index}` }),
      );
      expectDecision(trace);
      expect(trace.outcome).toBe('issue');
    }
    // Assess: ten issues, two thank-yous, both to that address
    expect(desk.forge.issues('acme/game')).toHaveLength(10);
    expect(desk.sent.map((mail) => mail.to)).toEqual([['mallory@example.com'], ['mallory@example.com']]);
    expect(automatic(desk)).toHaveLength(2);
  });

  it('the desk-wide cap: with automatic_per_hour 5, eight customers in an hour get five thank-yous', async () => {
    // Prepare
    const desk = createDesk({
      config: deskConfigFor('desk.example.com', {}, { rate_limits: { automatic_per_hour: 5 } }),
    });
    // Act: eight different customers
    for (let index = 1; index <= 8; index++) {
      desk.clock.advance(60_000);
      expectDecision(
        await ingest(desk, simpleMail({ from: `customer-${index}@example.com`, subject: `Ticket ${index}` })),
      );
    }
    const first = desk.sent.length;
    // An hour (and the limiter's tenth) later, the next customer is thanked again.
    desk.clock.advance(66 * 60_000);
    expectDecision(await ingest(desk, simpleMail({ from: 'customer-9@example.com', subject: 'Ticket 9' })));
    // Assess
    expect(desk.forge.issues('acme/game')).toHaveLength(9);
    expect(first).toBe(5);
    expect(desk.sent.map((mail) => mail.to[0])).toEqual([
      'customer-1@example.com',
      'customer-2@example.com',
      'customer-3@example.com',
      'customer-4@example.com',
      'customer-5@example.com',
      'customer-9@example.com',
    ]);
  });
});
