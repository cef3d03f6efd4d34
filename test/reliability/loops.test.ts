import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { deskAddressMatcher } from '../../core/desk-addresses.ts';
import type { NotifyJob } from '../../core/outbound/jobs.ts';
import type { Classification, ThreadDecision } from '../../core/stages/contracts.ts';
import { limitInbound } from '../../core/stages/limit/index.ts';
import { deskState } from '../support/desk-state.ts';
import { buildMail } from '../support/mail-factory.ts';
import { createDesk, type Desk, deskConfigFor, headerOf, type SentMail, stripHeaders } from './desk.ts';
import { expectDecision, movableClock, passingVerdicts, simpleMail } from './support.ts';

/**
 * Loops and floods (reference helpdesk-peers.md §2.2, §11.1, §11.6; gitlab-service-desk.md §1.1,
 * §7.2). Whole desks here: the pipeline, the thank-you hook and the notifier with an SES-like
 * mailer, so every test can count the mail that went out.
 *
 * Defences guarded, one per test group:
 * - own mail coming back: classify rules own-loop-header, own-address-sender, own-message-id
 *   (core/stages/classify/rules/own-*.ts), each proven alone;
 * - desk-to-desk ping-pong: our outbound auto headers (core/outbound/compose.ts) read by the other
 *   desk's classifier, "automated mail never opens an issue" (core/stages/thread/thread.ts), and
 *   the thank-you caps (core/outbound/on-delivered.ts) when a forwarder strips every header;
 * - autoresponders: automated mail on a ticket is an internal note, never reopens, never thanked
 *   (core/stages/thread/thread.ts, core/outbound/on-delivered.ts);
 * - floods: the inbound limits per ticket, sender and desk (core/stages/limit/) on the rate limiter
 *   (core/state/rate-limit.ts), and the outbound caps.
 */

const ALICE = 'alice@example.com';

/** A customer mail to the game desk of `desk`. */
const customerMail = (desk: Desk, overrides: Parameters<typeof simpleMail>[0] = {}) =>
  simpleMail({ from: `Alice <${ALICE}>`, to: `support+game@${desk.domain}`, ...overrides });

const ingestAt = (desk: Desk, raw: Buffer, id?: string) =>
  desk.harness.ingest(raw, {
    recipients: [`support+game@${desk.domain}`],
    verdicts: passingVerdicts(),
    ...(id ? { id } : {}),
  });

const madeOnForge = (desk: Desk) => ({
  issues: desk.forge.issues('acme/game').length,
  notes: desk.forge.issues('acme/game').reduce((sum, issue) => sum + issue.notes.length, 0),
});

describe('our own notifications coming back are dropped', () => {
  /** A desk that made an issue and sent its thank-you; the thank-you as the customer received it. */
  const sentThankYou = async () => {
    const desk = createDesk();
    expect((await ingestAt(desk, customerMail(desk))).outcome).toBe('issue');
    expect(desk.sent).toHaveLength(1);
    const [thankYou] = desk.sent as [SentMail];
    expect(headerOf(thankYou.raw, 'X-Postdesk-Loop')).toBe('desk.example.com');
    return { desk, thankYou };
  };

  it('our loop header: dropped as own_loop_header, nothing made, nothing sent', async () => {
    // Guards core/stages/classify/rules/own-loop-header.ts.
    const { desk, thankYou } = await sentThankYou();
    const before = madeOnForge(desk);
    const trace = await ingestAt(desk, thankYou.raw);
    expect(trace.outcome).toBe('dropped');
    expect(trace.reason).toBe('own_loop_header');
    expect(madeOnForge(desk)).toEqual(before);
    expect(desk.sent).toHaveLength(1);
  });

  it('no loop header, From our desk address: dropped as own_address_sender', async () => {
    // Guards core/stages/classify/rules/own-address-sender.ts (a forward rule that drops X- headers).
    const { desk, thankYou } = await sentThankYou();
    const before = madeOnForge(desk);
    const trace = await ingestAt(desk, stripHeaders(thankYou.raw, ['X-Postdesk-Loop']));
    expect(trace.outcome).toBe('dropped');
    expect(trace.reason).toBe('own_address_sender');
    expect(madeOnForge(desk)).toEqual(before);
    expect(desk.sent).toHaveLength(1);
  });

  it('no loop header, From rewritten by a forwarder, Message-ID at our domain: dropped as own_message_id', async () => {
    // Guards core/stages/classify/rules/own-message-id.ts (local mode, where no SES rewrites our id).
    const { desk, thankYou } = await sentThankYou();
    const forwarded = stripHeaders(thankYou.raw, [
      'X-Postdesk-Loop',
      'From',
      'Reply-To',
      'Message-ID',
      'Auto-Submitted',
    ]);
    const raw = Buffer.concat([
      Buffer.from(
        'From: Forwarder <forwarder@lists.example.org>\r\nMessage-ID: <postdesk.thank_you.1@desk.example.com>\r\n',
      ),
      forwarded,
    ]);
    const trace = await ingestAt(desk, raw);
    expect(trace.outcome).toBe('dropped');
    expect(trace.reason).toBe('own_message_id');
    expect(desk.sent).toHaveLength(1);
  });

  it('each of the three signals alone is what decides (the mail without any of them is not "own mail")', async () => {
    const { desk, thankYou } = await sentThankYou();
    const stripped = stripHeaders(thankYou.raw, ['X-Postdesk-Loop', 'From', 'Reply-To', 'Auto-Submitted']);
    const raw = Buffer.concat([Buffer.from('From: Forwarder <forwarder@lists.example.org>\r\n'), stripped]);
    const trace = await ingestAt(desk, raw);
    expectDecision(trace);
    expect(trace.stages.find((stage) => stage.stage === 'classify')?.verdict).not.toBe('own_mail');
    // A stranger replying into the thread: quarantined by policy, never a silent comment, never a mail out.
    expect(trace.outcome).toBe('quarantined');
    expect(desk.sent).toHaveLength(1);
  });
});

describe('two desks answering each other stop', () => {
  /**
   * Desk A and desk B, each the other's customer: whatever one sends to an address at the other's
   * domain is delivered there (through `forward`, which may strip headers as a forwarder would;
   * with `toProject`, to the project address whatever the To, as a forward rule between the two
   * mailboxes does). Runs until no mail is in flight, or `maxHops`.
   */
  const pingPong = async (
    forward: (raw: Buffer) => Buffer,
    options: { toProject?: boolean; maxHops?: number } = {},
  ) => {
    const maxHops = options.maxHops ?? 200;
    const clock = movableClock();
    const a = createDesk({ domain: 'desk-a.example.com', clock });
    const b = createDesk({ domain: 'desk-b.example.com', clock });
    const desks = [a, b];
    // The first mail: desk A's address writes to desk B (an agent's manual mail from the shared
    // address, or a forward rule): B thanks "the customer", which is desk A.
    const first = simpleMail({
      from: `Desk A <support+game@${a.domain}>`,
      to: `support+game@${b.domain}`,
      subject: 'Order 1234',
    });
    const inFlight: { desk: Desk; raw: Buffer; to: string }[] = [
      { desk: b, raw: first, to: `support+game@${b.domain}` },
    ];
    const seen = desks.map(() => 0);
    let hops = 0;
    const decisions: string[] = [];
    while (inFlight.length > 0 && hops < maxHops) {
      const next = inFlight.shift();
      if (!next) break;
      hops += 1;
      clock.advance(30_000);
      const trace = await next.desk.harness.ingest(forward(next.raw), {
        recipients: [next.to],
        verdicts: passingVerdicts(),
      });
      expectDecision(trace);
      decisions.push(`${next.desk.domain}:${trace.outcome}:${trace.reason}`);
      for (const [index, desk] of desks.entries()) {
        for (const mail of desk.sent.slice(seen[index])) {
          const other = desks.find((candidate) => mail.to.some((to) => to.endsWith(`@${candidate.domain}`)));
          if (!other || other === desk) continue;
          // A forward rule between the two desks' mailboxes delivers everything to the project address.
          const to = options.toProject ? `support+game@${other.domain}` : (mail.to[0] ?? '');
          inFlight.push({ desk: other, raw: mail.raw, to });
        }
        seen[index] = desk.sent.length;
      }
    }
    return { a, b, hops, decisions, mails: a.sent.length + b.sent.length };
  };

  it('as sent: B thanks A once, A drops it as its own kind (loop header); one mail in all', async () => {
    // Guards the X-Postdesk-Loop header on every mail (core/outbound/compose.ts) and its rule.
    const { hops, mails, decisions, a } = await pingPong((raw) => raw);
    expect(decisions).toEqual([
      'desk-b.example.com:issue:issue_created',
      'desk-a.example.com:dropped:own_loop_header',
    ]);
    expect(hops).toBe(2);
    expect(mails).toBe(1);
    expect(madeOnForge(a)).toEqual({ issues: 0, notes: 0 });
  });

  it('a forwarder strips X-Postdesk-Loop: A still drops it (Auto-Submitted: automated mail opens no issue)', async () => {
    // Guards Auto-Submitted on automatic mail (compose.ts) and thread.ts's rule for automated mail.
    const { mails, decisions } = await pingPong((raw) => stripHeaders(raw, ['X-Postdesk-Loop']));
    expect(decisions.at(-1)).toBe('desk-a.example.com:dropped:auto_submitted');
    expect(mails).toBe(1);
  });

  /** A forwarder that removes every header a machine could recognise a loop or a thread by. */
  const blind = (raw: Buffer) =>
    stripHeaders(raw, [
      'X-Postdesk-Loop',
      'Auto-Submitted',
      'X-Auto-Response-Suppress',
      'Precedence',
      'List-Unsubscribe',
      'List-Unsubscribe-Post',
      'In-Reply-To',
      'References',
    ]);

  it("forwarders strip every marker and every thread header: A thanks B's From, which routes nowhere", async () => {
    // Guards the thank-you to the sender identity, never the Reply-To (core/outbound/on-delivered.ts):
    // B's thank-you has B's signed reply address as Reply-To and B's bare desk address as From; A
    // thanks the From, which names no project at B, so B rejects it (no_route) and sends nothing.
    const { hops, mails, decisions } = await pingPong(blind);
    expect(decisions.at(-1)).toBe('desk-b.example.com:rejected:no_route');
    expect(hops).toBe(3);
    expect(mails).toBe(2);
  });

  // two-desk-blind-forward-loop: with a forward rule between the two desks' mailboxes that strips
  // every loop and thread header and delivers everything to the project address, each hop opens a
  // new issue and thanks the other desk. The recipient is the other desk's reply address, new per
  // ticket, so only the thank-you cap keyed on the mail's From (core/outbound/on-delivered.ts)
  // ends it. Remove that cap and this test fails.
  it('forward rules that strip every header between the two desks: the thank-you caps end it', async () => {
    const { hops, mails } = await pingPong(blind, { toProject: true, maxHops: 60 });
    expect(hops).toBeLessThan(60);
    // Each desk thanks the other desk's From at most rate_limits.thank_you_per_sender times in the
    // window; the one extra is B's thanks for the first, human-written mail (another From).
    const cap = deskConfigFor('desk.example.com').rate_limits.thank_you_per_sender;
    expect(mails).toBeLessThanOrEqual(2 * cap + 1);
  });
});

describe('an autoresponder answering every mail', () => {
  const RESPONDERS: [name: string, headers: [string, string][], subject?: string][] = [
    ['Auto-Submitted: auto-replied', [['Auto-Submitted', 'auto-replied']]],
    ['X-Autoreply: yes', [['X-Autoreply', 'yes']]],
    ['X-Autorespond', [['X-Autorespond', 'Thank you for your mail']]],
    ['Precedence: auto_reply', [['Precedence', 'auto_reply']]],
    ['a vacation notice', [['Auto-Submitted', 'auto-replied; owner-email="alice@example.com"']]],
    [
      'an Exchange out-of-office',
      [
        ['X-Auto-Response-Suppress', 'All'],
        ['X-MS-Exchange-Inbox-Rules-Loop', ALICE],
      ],
    ],
    ['an out-of-office subject only', [], 'Out of Office: Re: The game crashes on start'],
  ];

  it.each(RESPONDERS)(
    '%s: never thanked, never reopens, only internal notes',
    async (_name, headers, subject) => {
      // Prepare: a ticket, closed by the team; the project reopens on replies.
      const desk = createDesk({ config: deskConfigFor('desk.example.com', { reopen_on_reply: true }) });
      expect((await ingestAt(desk, customerMail(desk))).outcome).toBe('issue');
      const issue = desk.forge.issues('acme/game')[0];
      if (!issue) throw new Error('no issue');
      issue.state = 'closed';

      // Act: twenty rounds of "the team answers, the autoresponder answers the answer".
      for (let round = 1; round <= 20; round++) {
        const job: NotifyJob = {
          v: 1,
          kind: 'new_note',
          project: 'acme/game',
          iid: issue.iid,
          to: ALICE,
          title: issue.title,
          noteId: 1000 + round,
          noteText: `Answer ${round} from the team.`,
          authorName: 'Agent',
        };
        expect((await desk.notify(job)).status).toBe('sent');
        const answered = desk.sent.at(-1);
        if (!answered) throw new Error('nothing sent');
        desk.clock.advance(60_000);
        const trace = await ingestAt(
          desk,
          simpleMail({
            from: `Alice <${ALICE}>`,
            subject: subject ?? 'Automatic reply: Re: The game crashes on start',
            headers: [...headers, ['In-Reply-To', `<${answered.messageId}@email.amazonses.com>`]],
            body: 'I am out of the office until Monday.',
          }),
        );
        expect(trace.outcome).toBe('note');
        expect(trace.deliveries[0]?.note?.internal).toBe(true);
        expect(trace.deliveries[0]?.note?.reopened).toBe(false);
      }

      // Assess: one thank-you and the team's twenty answers went out; nothing in reply to the robot.
      expect(desk.sent).toHaveLength(21);
      expect(
        desk.sent.filter((mail) => headerOf(mail.raw, 'Auto-Submitted') === 'auto-generated'),
      ).toHaveLength(1);
      expect(issue.state).toBe('closed');
      expect(issue.notes).toHaveLength(20);
      expect(issue.notes.every((note) => note.internal)).toBe(true);
      expect(desk.forge.callsOf('reopenIssue')).toEqual([]);
    },
  );

  it('an autoresponder that writes a new mail instead of a reply opens no issue', async () => {
    const desk = createDesk();
    for (let index = 0; index < 50; index++) {
      const trace = await ingestAt(
        desk,
        customerMail(desk, {
          subject: `Auto: received ${index}`,
          headers: [['Auto-Submitted', 'auto-replied']],
        }),
      );
      expect(trace.outcome).toBe('dropped');
    }
    expect(madeOnForge(desk)).toEqual({ issues: 0, notes: 0 });
    expect(desk.sent).toEqual([]);
  });
});

// --- floods ----------------------------------------------------------------------------------------

const FLOOD = 1000;
/** 1,000 mails in a minute: one every 60 ms. */
const FLOOD_STEP_MS = 60;

const autoReply: Classification = { kind: 'auto_reply', reason: 'auto_submitted', signals: [] };
const human: Classification = { kind: 'human', reason: 'human', signals: [] };
const replyTo = (issueIid: number): ThreadDecision => ({
  kind: 'reply',
  issueIid,
  via: 'in_reply_to',
  participant: ALICE,
  internal: true,
  reopen: false,
});

/** The largest number of allowed hits inside any span of `spanMs` (a true sliding window). */
const densest = (times: readonly number[], spanMs: number): number => {
  let best = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= spanMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
};

describe('floods: 1,000 auto-replies in a minute to one ticket', () => {
  const config = deskConfigFor('desk.example.com');
  const project = config.projects[0];
  if (!project) throw new Error('no project');
  const isDeskAddress = deskAddressMatcher(config);
  const mailFrom = (address: string) => buildMail([['From', address]]);

  /** Runs the limit stage for `count` mails, one every FLOOD_STEP_MS; returns when each was allowed. */
  const flood = async (options: {
    from: (index: number) => string;
    thread: (index: number) => ThreadDecision;
    classification?: Classification;
    rateLimits?: typeof config.rate_limits;
    perSenderWindows?: Record<string, number>;
  }) => {
    const clock = movableClock('2026-03-02T10:00:03.217Z');
    const store = createMemoryObjectStore();
    const { limiter } = deskState(store, clock);
    const started = clock.now().getTime();
    const allowed: number[] = [];
    const outcomes = new Map<string, number>();
    for (let index = 0; index < FLOOD; index++) {
      const result = await limitInbound(
        {
          mailId: `flood-${index}`,
          mail: mailFrom(options.from(index)),
          classification: options.classification ?? autoReply,
          project,
          thread: options.thread(index),
          rateLimits: options.rateLimits ?? config.rate_limits,
          isDeskAddress,
          ...(options.perSenderWindows ? { perSenderWindows: options.perSenderWindows } : {}),
        },
        { limiter },
      );
      const key = result.ok ? 'allowed' : `${result.outcome}:${result.reason}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (result.ok) allowed.push(clock.now().getTime() - started);
      clock.advance(FLOOD_STEP_MS);
    }
    return { allowed, outcomes, store };
  };

  const unlimited = { '10': 1_000_000 };

  it('per ticket holds: never more than 10 in 10 s or 25 in 60 s (rate_limits.per_ticket)', async () => {
    // Guards core/stages/limit/per-ticket.ts.
    const { allowed, outcomes } = await flood({
      from: (index) => `robot${index}@example.com`,
      thread: () => replyTo(1),
      rateLimits: { ...config.rate_limits, per_desk: unlimited },
      perSenderWindows: unlimited,
    });
    expect(densest(allowed, 10_000)).toBeLessThanOrEqual(10);
    expect(densest(allowed, 60_000)).toBeLessThanOrEqual(25);
    expect(allowed.length).toBeGreaterThanOrEqual(20);
    expect(outcomes.get('dropped:rate_limit_per_ticket')).toBe(FLOOD - allowed.length);
  });

  it('per sender holds: never more than 20 in 60 s from one address, whatever the ticket', async () => {
    // Guards core/stages/limit/per-sender.ts.
    const { allowed, outcomes } = await flood({
      from: () => `Robot <robot@example.com>`,
      thread: (index) => replyTo(1 + (index % 50)),
      rateLimits: { ...config.rate_limits, per_ticket: unlimited, per_desk: unlimited },
    });
    expect(densest(allowed, 60_000)).toBeLessThanOrEqual(20);
    expect(allowed.length).toBeGreaterThanOrEqual(15);
    expect(outcomes.get('dropped:rate_limit_per_sender')).toBe(FLOOD - allowed.length);
  });

  it('per desk holds: never more than 30 in 10 s or 360 in 600 s, from any number of senders', async () => {
    // Guards core/stages/limit/per-desk.ts.
    const { allowed, outcomes } = await flood({
      from: (index) => `sender${index}@example.com`,
      thread: () => ({ kind: 'new_ticket' }),
      classification: human,
      perSenderWindows: unlimited,
    });
    expect(densest(allowed, 10_000)).toBeLessThanOrEqual(30);
    expect(densest(allowed, 600_000)).toBeLessThanOrEqual(360);
    expect(allowed.length).toBeGreaterThanOrEqual(150);
    // A person's mail over the limit is kept, not dropped.
    expect(outcomes.get('quarantined:rate_limit_per_desk')).toBe(FLOOD - allowed.length);
  });

  it('all three together, with the config defaults: at most 20 in the minute reach the ticket', async () => {
    const { allowed, outcomes } = await flood({ from: () => ALICE, thread: () => replyTo(1) });
    expect(allowed.length).toBeLessThanOrEqual(20);
    expect(densest(allowed, 10_000)).toBeLessThanOrEqual(10);
    expect([...outcomes.keys()].sort()).toEqual(
      ['allowed', 'dropped:rate_limit_per_sender', 'dropped:rate_limit_per_ticket'].filter((key) =>
        outcomes.has(key),
      ),
    );
  });

  it('a retried mail is counted once and gets the same answer', async () => {
    const clock = movableClock();
    const store = createMemoryObjectStore();
    const input = {
      mail: mailFrom(ALICE),
      classification: autoReply,
      project,
      thread: replyTo(1),
      rateLimits: { ...config.rate_limits, per_ticket: { '60': 2 } },
      isDeskAddress,
    };
    const context = { limiter: deskState(store, clock).limiter };
    const first = await limitInbound({ ...input, mailId: 'm1' }, context);
    const again = await limitInbound({ ...input, mailId: 'm1' }, context);
    const second = await limitInbound({ ...input, mailId: 'm2' }, context);
    const third = await limitInbound({ ...input, mailId: 'm3' }, context);
    const secondAgain = await limitInbound({ ...input, mailId: 'm2' }, context);
    expect([first.ok, again.ok, second.ok, third.ok, secondAgain.ok]).toEqual([
      true,
      true,
      true,
      false,
      true,
    ]);
  });

  it('regression issue-rate-limit-sliding-undercount: a burst at the end of a bucket is counted in full', async () => {
    // The limiter used to weight the bucket its window's start cuts through by the part still inside,
    // as if its hits were spread evenly: a burst at the end of that bucket then counted at a fraction,
    // and 30 hits passed a 25-per-60-s window. Now every touched bucket counts in full.
    const { allowed } = await flood({
      from: (index) => `robot${index}@example.com`,
      thread: () => replyTo(1),
      rateLimits: { ...config.rate_limits, per_ticket: { '60': 25 }, per_desk: unlimited },
      perSenderWindows: unlimited,
    });
    expect(densest(allowed, 60_000)).toBeLessThanOrEqual(25);
  });
});

describe('floods through the whole desk: no outbound storm, no issue storm', () => {
  it('1,000 auto-replies in a minute to one ticket: not one mail goes out, the issue is never reopened', async () => {
    // Guards on-delivered.ts (automated mail is never acknowledged) and thread.ts (never reopens).
    const desk = createDesk({ config: deskConfigFor('desk.example.com', { reopen_on_reply: true }) });
    expect((await ingestAt(desk, customerMail(desk))).outcome).toBe('issue');
    const thankYou = desk.sent[0];
    if (!thankYou) throw new Error('no thank-you');
    const issue = desk.forge.issues('acme/game')[0];
    if (!issue) throw new Error('no issue');
    issue.state = 'closed';
    for (let index = 0; index < FLOOD; index++) {
      desk.clock.advance(FLOOD_STEP_MS);
      const trace = await ingestAt(
        desk,
        simpleMail({
          from: `Alice <${ALICE}>`,
          subject: 'Automatic reply',
          headers: [
            ['Auto-Submitted', 'auto-replied'],
            ['In-Reply-To', `<${thankYou.messageId}@email.amazonses.com>`],
          ],
        }),
        `auto-${index}`,
      );
      expectDecision(trace);
    }
    expect(desk.sent).toHaveLength(1);
    expect(issue.state).toBe('closed');
    expect(desk.forge.callsOf('reopenIssue')).toEqual([]);
    expect(issue.notes.every((note) => note.internal)).toBe(true);
  });

  it('1,000 new mails in a minute from one person: at most two thank-yous go out', async () => {
    // Guards the thank-you cap per sender and subject (rate_limits.thank_you_per_sender).
    const desk = createDesk();
    for (let index = 0; index < FLOOD; index++) {
      desk.clock.advance(FLOOD_STEP_MS);
      expectDecision(await ingestAt(desk, customerMail(desk), `new-${index}`));
    }
    expect(desk.sent.length).toBeLessThanOrEqual(2);
  });

  // Guards the pipeline's limit stage (core/pipeline.ts calls core/stages/limit/limitInbound).
  it('1,000 auto-replies in a minute to one ticket: at most 20 internal notes reach the issue (the limit stage in the pipeline)', async () => {
    const desk = createDesk();
    expect((await ingestAt(desk, customerMail(desk))).outcome).toBe('issue');
    const thankYou = desk.sent[0];
    if (!thankYou) throw new Error('no thank-you');
    const outcomes = new Map<string, number>();
    for (let index = 0; index < FLOOD; index++) {
      desk.clock.advance(FLOOD_STEP_MS);
      const trace = await ingestAt(
        desk,
        simpleMail({
          from: `Alice <${ALICE}>`,
          headers: [
            ['Auto-Submitted', 'auto-replied'],
            ['In-Reply-To', `<${thankYou.messageId}@email.amazonses.com>`],
          ],
        }),
        `limited-${index}`,
      );
      outcomes.set(
        `${trace.outcome}:${trace.reason}`,
        (outcomes.get(`${trace.outcome}:${trace.reason}`) ?? 0) + 1,
      );
    }
    const notes = desk.forge.issues('acme/game')[0]?.notes.length ?? 0;
    expect(notes).toBeLessThanOrEqual(20);
    expect(
      (outcomes.get('dropped:rate_limit_per_sender') ?? 0) +
        (outcomes.get('dropped:rate_limit_per_ticket') ?? 0),
    ).toBe(FLOOD - notes);
    const ticket = await deskState(desk.harness.store).tickets.get('acme/game', 1);
    expect(ticket?.participants).toHaveLength(1);
  });
});
