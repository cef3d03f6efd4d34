import { describe, expect, it } from 'vitest';
import type { NotifyJob } from '../../core/outbound/jobs.ts';
import { createNotifier, type NotifyDeps, type OutboundMailer } from '../../core/outbound/notify.ts';
import { createOutboundStateStore } from '../../core/state/outbound.ts';
import { deskState } from '../support/desk-state.ts';
import {
  deskConfig,
  fakeForge,
  fixedClock,
  memoryStore,
  PROJECT,
  recordingLogger,
  recordingMailer,
  seedTicket,
  staticSecrets,
} from './support.ts';

/**
 * What a crash in the middle of a send costs (core/outbound/intent.ts, docs/OUTBOUND.md
 * "Crashes"): an automatic mail is sent at most once, a team's answer at least once.
 *
 * A crash is a send that never returns: the mail left (the mailer has it), the process stopped
 * there, and nothing after the send ran. The retry is a new notifier on the same state, as a
 * restarted process or another Lambda instance is.
 */

const thankYou: NotifyJob = {
  v: 1,
  kind: 'thank_you',
  project: PROJECT,
  iid: 17,
  to: 'ada@customer.example',
  title: 'Printer on fire',
};

const newParticipant: NotifyJob = { ...thankYou, kind: 'new_participant', to: 'bob@customer.example' };

const teamAnswer: NotifyJob = {
  v: 1,
  kind: 'new_note',
  project: PROJECT,
  iid: 17,
  to: 'ada@customer.example',
  title: 'Printer on fire',
  noteId: 1241,
  noteText: 'We replaced the fuser.',
};

/** A mailer that takes the mail and then never returns: the process died in the send. */
const crashingMailer = (sent: unknown[]): OutboundMailer => ({
  async sendRaw(input) {
    sent.push(input);
    return new Promise<never>(() => undefined);
  },
});

const setup = async () => {
  const store = memoryStore();
  const clock = fixedClock();
  await seedTicket(store, 17, [{ address: 'ada@customer.example' }, { address: 'bob@customer.example' }], {
    clock,
  });
  const notifier = (mailer: OutboundMailer) => {
    const deps: NotifyDeps = {
      config: deskConfig(),
      state: deskState(store, clock),
      forge: fakeForge(),
      mailer,
      secrets: staticSecrets(),
      clock,
      logger: recordingLogger(),
    };
    return createNotifier(deps);
  };
  return { store, clock, notifier };
};

/** Starts a send that crashes, and waits until the mail left. */
const crashDuringSend = async (send: ReturnType<typeof createNotifier>, job: NotifyJob, sent: unknown[]) => {
  void send(job);
  for (let tick = 0; sent.length === 0; tick++) {
    if (tick > 1000) throw new Error('the crashing send never reached the mailer');
    await new Promise((wake) => setImmediate(wake));
  }
};

describe('a crash in the middle of a send', () => {
  it.each([thankYou, newParticipant])(
    'issue-14 duplicate thank-yous after a crash: a $kind whose send crashed is not sent again',
    async (job) => {
      // Prepare
      const { store, clock, notifier } = await setup();
      const crashed: unknown[] = [];
      await crashDuringSend(notifier(crashingMailer(crashed)), job, crashed);
      // Act: the retry, by a process started afresh
      const mailer = recordingMailer();
      const outcome = await notifier(mailer)(job);
      // Assess: one mail in all (the crashed one), and the state says why there is no second
      expect(crashed).toHaveLength(1);
      expect(mailer.sent).toEqual([]);
      expect(outcome).toEqual({ status: 'skipped', reason: 'send_interrupted' });
      const state = await createOutboundStateStore(store, { clock }).get(PROJECT, 17);
      expect(state.intents.map((entry) => entry.key)).toEqual([`${job.kind}::${job.to}`]);
    },
  );

  it("a team's answer whose send crashed is sent again: never lost", async () => {
    // Prepare
    const { notifier } = await setup();
    const crashed: unknown[] = [];
    await crashDuringSend(notifier(crashingMailer(crashed)), teamAnswer, crashed);
    // Act
    const mailer = recordingMailer();
    const outcome = await notifier(mailer)(teamAnswer);
    // Assess: sent twice rather than dropped; a third delivery of the job sends nothing more
    expect(crashed).toHaveLength(1);
    expect(outcome).toMatchObject({ status: 'sent' });
    expect(mailer.sent.map((mail) => mail.to)).toEqual([['ada@customer.example']]);
    expect(await notifier(mailer)(teamAnswer)).toEqual({ status: 'skipped', reason: 'already_sent' });
  });

  it('a thank-you whose send failed and said so is sent by the retry (the intent is withdrawn)', async () => {
    // Prepare
    const { store, clock, notifier } = await setup();
    const failing: OutboundMailer = {
      async sendRaw() {
        throw new Error('outbox not writable');
      },
    };
    // Act
    await expect(notifier(failing)(thankYou)).rejects.toThrow('outbox not writable');
    const mailer = recordingMailer();
    const retried = await notifier(mailer)(thankYou);
    // Assess
    expect(retried).toMatchObject({ status: 'sent' });
    expect(mailer.sent).toHaveLength(1);
    const state = await createOutboundStateStore(store, { clock }).get(PROJECT, 17);
    expect(state.intents).toEqual([]);
    expect(state.sent.map((entry) => entry.key)).toEqual(['thank_you::ada@customer.example']);
  });

  it('the same thank-you job given to two notifiers at once is sent once', async () => {
    // Prepare
    const { notifier } = await setup();
    const mailer = recordingMailer();
    // Act
    const outcomes = await Promise.all([notifier(mailer)(thankYou), notifier(mailer)(thankYou)]);
    // Assess
    expect(mailer.sent).toHaveLength(1);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['sent', 'skipped']);
  });
});
