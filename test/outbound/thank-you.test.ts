import { describe, expect, it } from 'vitest';
import type { MemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import type { InboundMail } from '../../core/model.ts';
import type { NotifyJob, NotifyQueue } from '../../core/outbound/jobs.ts';
import { createOnDelivered, planAutomaticMail } from '../../core/outbound/on-delivered.ts';
import type { DeliveredEvent } from '../../core/pipeline.ts';
import { systemClock } from '../../core/ports.ts';
import type { ClassifyReason } from '../../core/stages/classify/index.ts';
import type { MailClass } from '../../core/stages/contracts.ts';
import type { Delivery } from '../../core/stages/deliver/index.ts';
import { createTicketStore } from '../../core/state/tickets.ts';
import type { DeliveryRecord } from '../../core/trace.ts';
import { deskState } from '../support/desk-state.ts';
import { buildMail } from '../support/mail-factory.ts';
import { deskConfig, fixedClock, memoryStore, PROJECT, recordingLogger, seedTicket } from './support.ts';

const recordingQueue = () => {
  const jobs: NotifyJob[] = [];
  const queue: NotifyQueue & { jobs: NotifyJob[] } = {
    jobs,
    async enqueue(batch) {
      jobs.push(...batch);
    },
  };
  return queue;
};

const inbound: InboundMail = {
  id: 'ses-1',
  rawKey: 'mail/ses-1',
  envelope: { recipients: ['support+test@desk.example.com'], mailFrom: 'ada@customer.example' },
  verdicts: { spf: 'PASS', dkim: 'PASS', dmarc: 'PASS', spam: 'PASS', virus: 'PASS', source: 'ses' },
  receivedAt: new Date('2026-03-02T10:00:00Z'),
};

/** A rule that decides each automated class. */
const RULE_OF: Record<Exclude<MailClass, 'human'>, ClassifyReason> = {
  auto_reply: 'auto_submitted',
  out_of_office: 'auto_submitted_vacation',
  bulk: 'precedence_bulk',
  bounce: 'null_return_path',
  own_mail: 'own_loop_header',
};

const event = (options: {
  iid: number;
  from?: string;
  replyTo?: string;
  subject?: string;
  kind?: MailClass;
  outcome?: 'issue' | 'note';
  config?: ReturnType<typeof deskConfig>;
  /** For a note: the addresses the reply added to the ticket. */
  added?: readonly string[];
}): TestEvent => {
  const config = options.config ?? deskConfig();
  const project = config.projects[0];
  if (!project) throw new Error('no project');
  const outcome = options.outcome ?? 'issue';
  return {
    mail: inbound,
    parsed: buildMail([
      ['From', options.from ?? 'Ada Customer <ada@customer.example>'],
      ...(options.replyTo ? [['Reply-To', options.replyTo] as const] : []),
      ['Subject', options.subject ?? 'Printer on fire'],
      ['Message-ID', `<m-${options.iid}@customer.example>`],
    ]),
    classification: {
      kind: options.kind ?? 'human',
      reason: options.kind === undefined || options.kind === 'human' ? 'human' : RULE_OF[options.kind],
      signals: [],
    },
    target: { project, address: 'support+test@desk.example.com', via: 'project_key' },
    added: options.added ?? [],
    delivery: delivery(
      outcome === 'issue'
        ? {
            project: project.path,
            outcome: 'issue',
            reason: 'new_ticket',
            issue: {
              iid: options.iid,
              url: `https://gitlab.example.com/${project.path}/-/issues/${options.iid}`,
              title: options.subject ?? 'Printer on fire',
              description: 'It smokes.',
              labels: [],
              confidential: true,
              uploads: [],
            },
          }
        : {
            project: project.path,
            outcome: 'note',
            reason: 'reply_token',
            note: { issueIid: options.iid, body: 'thanks', internal: false, uploads: [] },
          },
    ),
  };
};

type TestEvent = DeliveredEvent & { added: readonly string[] };

const delivery = (record: DeliveryRecord): Delivery => ({
  record,
  stage: { verdict: record.outcome, reason: record.reason },
  participantsAdded: [],
  messageIds: [],
});

/**
 * The event as the pipeline hands it over: the delivery names the participants the mail added, on
 * a new issue everyone on its (freshly seeded) ticket, on a note the addresses the test names.
 */
const delivered = async (store: MemoryObjectStore, event: TestEvent): Promise<DeliveredEvent> => {
  const { record } = event.delivery;
  const iid = record.issue?.iid ?? record.note?.issueIid ?? 0;
  const participants = (await deskState(store).tickets.get(PROJECT, iid))?.participants ?? [];
  const participantsAdded =
    record.outcome === 'issue'
      ? participants
      : participants.filter((participant) => event.added.includes(participant.address));
  return { ...event, delivery: { ...event.delivery, participantsAdded } };
};

const setup = (config = deskConfig()) => {
  const store = memoryStore();
  const queue = recordingQueue();
  const clock = fixedClock();
  const logger = recordingLogger();
  const planFor = planAutomaticMail({ config, state: deskState(store, clock), queue, clock, logger });
  const plan = async (event: TestEvent) => planFor(await delivered(store, event));
  return { store, queue, clock, logger, plan, config };
};

describe('thank-you', () => {
  it('a new issue from a human gets one thank_you to the requester', async () => {
    // Prepare
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address: 'ada@customer.example', name: 'Ada' }], { clock });
    // Act
    const result = await plan(event({ iid: 1 }));
    // Assess
    expect(result.skipped).toEqual([]);
    expect(queue.jobs).toEqual([
      {
        v: 1,
        kind: 'thank_you',
        project: PROJECT,
        iid: 1,
        to: 'ada@customer.example',
        title: 'Printer on fire',
        issueUrl: `https://gitlab.example.com/${PROJECT}/-/issues/1`,
        description: 'It smokes.',
      },
    ]);
  });

  it('the same delivery run twice (a retry) thanks once', async () => {
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1 }));
    await plan(event({ iid: 1 }));
    expect(queue.jobs).toHaveLength(1);
  });

  it.each(['auto_reply', 'out_of_office', 'bulk', 'bounce'] as const)(
    'never for automated mail (%s)',
    async (kind) => {
      const { store, queue, plan, clock } = setup();
      await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
      await plan(event({ iid: 1, kind }));
      expect(queue.jobs).toEqual([]);
    },
  );

  it.each([
    'noreply@vendor.example',
    'no-reply@vendor.example',
    'do-not-reply@vendor.example',
    'MAILER-DAEMON@mx.example',
    'postmaster@mx.example',
    'notifications+abc@github.example',
  ])('never to a sender like %s', async (address) => {
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address }], { clock });
    const result = await plan(event({ iid: 1, from: address }));
    expect(queue.jobs).toEqual([]);
    expect(result.skipped).toEqual([
      { to: address.toLowerCase(), kind: 'thank_you', reason: 'noreply_sender' },
    ]);
  });

  it('never when notifications.thank_you is false', async () => {
    const config = deskConfig({}, { notifications: { thank_you: false } });
    const { store, queue, plan, clock } = setup(config);
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1, config }));
    expect(queue.jobs).toEqual([]);
  });

  it('never for a reply (only new issues are thanked)', async () => {
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1, outcome: 'note' }));
    expect(queue.jobs).toEqual([]);
  });

  it('is capped per address within 3 hours, whatever the subject (rate_limits.thank_you_per_sender)', async () => {
    // Prepare: the default cap is 2
    const { store, queue, plan, clock } = setup();
    for (const iid of [1, 2, 3, 4])
      await seedTicket(store, iid, [{ address: 'ada@customer.example' }], { clock });
    // Act: three tickets, the third with another subject
    const results = [];
    for (const [iid, subject] of [
      [1, 'Printer on fire'],
      [2, 'RE: printer on fire'],
      [3, 'Scanner jammed'],
    ] as const)
      results.push(await plan(event({ iid, subject })));
    // Assess
    expect(queue.jobs.map((job) => job.iid)).toEqual([1, 2]);
    expect(results[2]?.skipped).toEqual([
      { to: 'ada@customer.example', kind: 'thank_you', reason: 'thank_you_cap' },
    ]);
    // The limiter's window slides in tenths of its length: 3 h plus one tenth is surely past it.
    clock.advance((3 * 60 + 20) * 60 * 1000);
    await plan(event({ iid: 4 }));
    expect(queue.jobs.map((job) => job.iid)).toEqual([1, 2, 4]);
  });

  it('issue-14 thank-you cap is 10 per address, not 2: 10 mails with 10 subjects from one address get 2 thank-yous', async () => {
    // Prepare
    const { store, queue, plan, clock } = setup();
    // Act: one sender, a new subject each time, one mail every 2 seconds
    for (let iid = 1; iid <= 10; iid++) {
      await seedTicket(store, iid, [{ address: 'ada@customer.example' }], { clock });
      await plan(event({ iid, subject: `Question number ${iid}` }));
      clock.advance(2_000);
    }
    // Assess
    expect(queue.jobs.map((job) => [job.kind, job.iid])).toEqual([
      ['thank_you', 1],
      ['thank_you', 2],
    ]);
  });

  it('the desk-wide cap stops automatic mail to anyone once the hour is full (rate_limits.automatic_per_hour)', async () => {
    // Prepare: at most 3 automatic mails an hour, whoever they go to
    const { store, queue, plan, clock } = setup(deskConfig({ rate_limits: { automatic_per_hour: 3 } }));
    const results = [];
    // Act: five customers, the fourth with a Cc participant
    for (let iid = 1; iid <= 5; iid++) {
      await seedTicket(
        store,
        iid,
        [
          { address: `customer-${iid}@customer.example` },
          ...(iid === 2 ? [{ address: 'cc@customer.example' }] : []),
        ],
        { clock },
      );
      results.push(await plan(event({ iid, from: `customer-${iid}@customer.example` })));
    }
    // Assess: three mails (the Cc's new_participant counts too), then automatic_cap for everyone
    expect(queue.jobs.map((job) => [job.kind, job.to])).toEqual([
      ['thank_you', 'customer-1@customer.example'],
      ['thank_you', 'customer-2@customer.example'],
      ['new_participant', 'cc@customer.example'],
    ]);
    expect(results.slice(2).flatMap((result) => result.skipped)).toEqual([
      { to: 'customer-3@customer.example', kind: 'thank_you', reason: 'automatic_cap' },
      { to: 'customer-4@customer.example', kind: 'thank_you', reason: 'automatic_cap' },
      { to: 'customer-5@customer.example', kind: 'thank_you', reason: 'automatic_cap' },
    ]);
    // An hour (and a tenth, the limiter's bucket) later, the desk thanks again.
    clock.advance(66 * 60 * 1000);
    await seedTicket(store, 6, [{ address: 'customer-6@customer.example' }], { clock });
    await plan(event({ iid: 6, from: 'customer-6@customer.example' }));
    expect(queue.jobs.at(-1)).toMatchObject({ kind: 'thank_you', to: 'customer-6@customer.example' });
  });

  it("a thank-you refused by the desk-wide cap uses up none of the sender's own cap", async () => {
    const { store, queue, plan, clock } = setup(
      deskConfig({ rate_limits: { automatic_per_hour: 1, thank_you_per_sender: 1 } }),
    );
    await seedTicket(store, 1, [{ address: 'bob@customer.example' }], { clock });
    await seedTicket(store, 2, [{ address: 'ada@customer.example' }], { clock });
    await seedTicket(store, 3, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1, from: 'bob@customer.example' }));
    await plan(event({ iid: 2 }));
    clock.advance(66 * 60 * 1000);
    await plan(event({ iid: 3 }));
    expect(queue.jobs.map((job) => [job.iid, job.to])).toEqual([
      [1, 'bob@customer.example'],
      [3, 'ada@customer.example'],
    ]);
  });

  it('the cap is per sender', async () => {
    const { store, queue, plan, clock } = setup(deskConfig({ rate_limits: { thank_you_per_sender: 1 } }));
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
    await seedTicket(store, 2, [{ address: 'bob@customer.example' }], { clock });
    await seedTicket(store, 3, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1 }));
    await plan(event({ iid: 2, from: 'bob@customer.example' }));
    await plan(event({ iid: 3 }));
    expect(queue.jobs.map((job) => [job.iid, job.to])).toEqual([
      [1, 'ada@customer.example'],
      [2, 'bob@customer.example'],
    ]);
  });
});

describe('new participant', () => {
  it('Cc participants of a new issue get new_participant, the requester thank_you', async () => {
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }, { address: 'bob@customer.example' }], {
      clock,
    });
    await plan(event({ iid: 1 }));
    expect(queue.jobs.map((job) => [job.kind, job.to])).toEqual([
      ['thank_you', 'ada@customer.example'],
      ['new_participant', 'bob@customer.example'],
    ]);
  });

  it('reply-to-thank-you: a mail whose Reply-To differs from From thanks the From and never mails the Reply-To', async () => {
    // Prepare: the ticket as a desk before this rule recorded it, the Reply-To made a participant too.
    const { store, queue, plan, clock } = setup();
    await createTicketStore(store, { clock }).recordInbound({
      projectPath: PROJECT,
      iid: 1,
      mailId: 'mail-1',
      messageId: 'm-1@customer.example',
      sender: { address: 'team@customer.example', name: 'Team' },
      author: { address: 'ada@customer.example', name: 'Ada' },
      cc: [],
      participantsFromCc: false,
      isDeskAddress: () => false,
    });
    // Act
    await plan(event({ iid: 1, from: 'Ada <ada@customer.example>', replyTo: 'team@customer.example' }));
    // Assess
    expect(queue.jobs.map((job) => [job.kind, job.to])).toEqual([['thank_you', 'ada@customer.example']]);
  });

  it('a reply that adds a Cc participant greets only the new one', async () => {
    // Prepare
    const { store, queue, plan, clock } = setup();
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }], { clock });
    await plan(event({ iid: 1 }));
    clock.advance(60 * 60 * 1000);
    await createTicketStore(store, { clock }).addParticipants(
      PROJECT,
      1,
      [{ address: 'carol@customer.example', source: 'cc' }],
      () => false,
    );
    // Act
    await plan(event({ iid: 1, outcome: 'note', added: ['carol@customer.example'] }));
    await plan(event({ iid: 1, outcome: 'note', added: ['carol@customer.example'] }));
    // Assess
    expect(queue.jobs.map((job) => [job.kind, job.to])).toEqual([
      ['thank_you', 'ada@customer.example'],
      ['new_participant', 'carol@customer.example'],
    ]);
  });
});

describe('the pipeline hook', () => {
  it('never throws a permanent failure into the pipeline (the issue exists already)', async () => {
    const store = memoryStore();
    const logger = recordingLogger();
    await seedTicket(store, 1, [{ address: 'ada@customer.example' }]);
    const hook = createOnDelivered({
      config: deskConfig(),
      state: deskState(store),
      clock: systemClock,
      logger,
      queue: {
        enqueue: async () => {
          throw new Error('bug');
        },
      },
    });
    await expect(hook(await delivered(store, event({ iid: 1 })))).resolves.toBeUndefined();
    expect(logger.lines.some((line) => line.level === 'error')).toBe(true);
  });
});
