import { describe, expect, it } from 'vitest';
import { planOnlyExecutor } from '../../core/execute.ts';
import { type DeliveredEvent, processMail } from '../../core/pipeline.ts';
import { createHarness, deskConfig, simpleMail } from '../reliability/harness.ts';

/**
 * The executors (core/execute.ts): the delivering one says in its Delivery what it did (what it
 * made, whom the mail added, which message ids it recorded), the same on a redelivery; the
 * plan-only one (`postdesk explain`) writes nothing, and looks at the rate limits without counting.
 */

const deliveries = () => {
  const events: DeliveredEvent[] = [];
  const onDelivered = async (event: DeliveredEvent) => {
    events.push(event);
  };
  const added = (index: number) =>
    events[index]?.delivery.participantsAdded.map((participant) => participant.address);
  return { events, onDelivered, added };
};

describe('the delivering executor', () => {
  it('names the participants a new issue added, and again the same when the mail is redelivered', async () => {
    // Prepare
    const seen = deliveries();
    const desk = createHarness({
      config: deskConfig({}, { participants_from_cc: true }),
      onDelivered: seen.onDelivered,
    });
    const mail = simpleMail({
      messageId: 'first@mail.example.com',
      headers: [['Cc', 'Bob <bob@example.com>']],
    });
    // Act
    await desk.ingest(mail, { id: 'mail-a' });
    await desk.ingest(mail, { id: 'mail-a' });
    // Assess
    expect(seen.events.map((event) => event.delivery.record.reason)).toEqual([
      'issue_created',
      'duplicate_delivery',
    ]);
    expect(seen.added(0)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(seen.added(1)).toEqual(['alice@example.com', 'bob@example.com']);
    expect(seen.events[0]?.delivery.made).toEqual({ kind: 'issue', issueIid: 1 });
    expect(seen.events[0]?.delivery.messageIds).toEqual(['first@mail.example.com']);
  });

  it('names only the Cc a reply brought', async () => {
    // Prepare
    const seen = deliveries();
    const desk = createHarness({
      config: deskConfig({}, { participants_from_cc: true }),
      onDelivered: seen.onDelivered,
    });
    await desk.ingest(simpleMail({ messageId: 'first@mail.example.com' }));
    // Act
    await desk.ingest(
      simpleMail({
        subject: 'Re: The game crashes on start',
        messageId: 'reply@mail.example.com',
        headers: [
          ['In-Reply-To', '<first@mail.example.com>'],
          ['Cc', 'Carol <carol@example.com>'],
        ],
      }),
    );
    // Assess
    expect(seen.events[1]?.delivery.record.outcome).toBe('note');
    expect(seen.added(1)).toEqual(['carol@example.com']);
    expect(seen.events[1]?.delivery.made).toMatchObject({ kind: 'note', issueIid: 1 });
  });
});

describe('the plan-only executor (postdesk explain)', () => {
  const limited = () => createHarness({ config: deskConfig({ rate_limits: { per_sender: { '3600': 1 } } }) });

  it('says a mail would be rate limited, and counts and writes nothing', async () => {
    // Prepare: alice's one mail an hour is used up
    const desk = limited();
    await desk.ingest(simpleMail());
    const before = desk.store.snapshot();
    const executor = planOnlyExecutor();
    // Act
    const trace = await processMail(desk.arrive(simpleMail({ subject: 'Again' })), {
      ...desk.deps,
      executor,
    });
    // Assess
    expect(trace).toMatchObject({ outcome: 'quarantined', reason: 'rate_limit_per_sender', dryRun: true });
    expect(trace.stages.find((stage) => stage.stage === 'limit')).toMatchObject({
      verdict: 'quarantined',
      reason: 'rate_limit_per_sender',
    });
    expect(desk.store.snapshot()).toEqual(before);
  });

  it('shows no limit stage while the mail is within the limits', async () => {
    // Prepare
    const desk = limited();
    const executor = planOnlyExecutor();
    // Act
    const first = await processMail(desk.arrive(simpleMail()), { ...desk.deps, executor });
    const second = await processMail(desk.arrive(simpleMail()), { ...desk.deps, executor });
    // Assess: nothing was counted, so the second is within the limit too
    for (const trace of [first, second]) {
      expect(trace).toMatchObject({ outcome: 'issue', dryRun: true });
      expect(trace.stages.map((stage) => stage.stage)).not.toContain('limit');
    }
    expect(desk.store.snapshot()).toEqual({});
  });
});
