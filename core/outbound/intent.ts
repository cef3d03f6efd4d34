import type { OutboundKind } from './constants.ts';
import type { OutboundTicketState } from './state.ts';

/**
 * What a crash in the middle of a send costs, by kind of mail (docs/OUTBOUND.md, "Crashes"):
 *
 * - automatic mail (thank_you, new_participant) is sent AT MOST ONCE per ticket and person. The
 *   intent is recorded in the outbound state before the mail goes; a crash between the two (the
 *   process killed while the transport has the mail) leaves the intent, and the retry skips the
 *   mail (`send_interrupted`). One thank-you may be lost; none is ever doubled, and two notifiers
 *   given the same job at once cannot both send it (the intent is a conditional write). A send that
 *   fails and says so withdraws the intent, so the retry sends it.
 * - a team's answer (new_note) is sent AT LEAST ONCE: it is marked sent only after the transport
 *   took it, so a crash in between sends it again rather than losing what the team wrote.
 *
 * Regression tests: test/local/serve-crash.test.ts (`postdesk serve` SIGKILLed three times in an
 * 80-mail batch: no customer thanked twice) and test/outbound/intent.test.ts.
 */

const MAX_INTENTS = 1000;

/** True for the kinds sent at most once (intent before the send); false: at least once. */
export const sendsAtMostOnce = (kind: OutboundKind): boolean =>
  kind === 'thank_you' || kind === 'new_participant';

/** True when a send of `key` began and neither finished nor was withdrawn. */
export const sendBegun = (state: OutboundTicketState, key: string): boolean =>
  state.intents.some((entry) => entry.key === key);

/** The state with the intent to send `key`; undefined when it was sent or begun already (nothing to write). */
export const withIntent = (
  state: OutboundTicketState,
  key: string,
  at: Date,
): OutboundTicketState | undefined => {
  if (sendBegun(state, key) || state.sent.some((entry) => entry.key === key)) return undefined;
  return { ...state, intents: [...state.intents, { key, at: at.toISOString() }].slice(-MAX_INTENTS) };
};

/** The state without the intent to send `key` (a send that failed and said so); undefined when there is none. */
export const withoutIntent = (state: OutboundTicketState, key: string): OutboundTicketState | undefined =>
  sendBegun(state, key)
    ? { ...state, intents: state.intents.filter((entry) => entry.key !== key) }
    : undefined;

export interface IntentStore {
  /** Records the intent to send `key`: true when this call recorded it (send now), false when sent or begun already. */
  beginSend(projectPath: string, iid: number, key: string): Promise<boolean>;
  /** Withdraws the intent (the send failed and said so): a retry may send again. */
  abandonSend(projectPath: string, iid: number, key: string): Promise<void>;
}

/**
 * The IntentStore methods of an outbound state store, over its read-modify-write `update` (the same
 * changes on every store: the object store's JSON, a DynamoDB item).
 */
export const intentMethods = (
  update: (
    projectPath: string,
    iid: number,
    change: (current: OutboundTicketState) => OutboundTicketState | undefined,
  ) => Promise<unknown>,
  clock: { now(): Date },
): IntentStore => ({
  async beginSend(projectPath, iid, key) {
    let begun = false;
    await update(projectPath, iid, (current) => {
      const next = withIntent(current, key, clock.now());
      begun = next !== undefined;
      return next;
    });
    return begun;
  },
  async abandonSend(projectPath, iid, key) {
    await update(projectPath, iid, (current) => withoutIntent(current, key));
  },
});

export type SendOnce<T> =
  | { status: 'sent'; value: T }
  /** An earlier attempt began this send and did not finish: it is not risked twice. */
  | { status: 'interrupted' };

/**
 * Runs `send` under the rule for `kind`: for automatic mail, only if this call recorded the intent,
 * withdrawing it when `send` throws; for a team's answer, always.
 */
export const sendUnderIntent = async <T>(
  intents: IntentStore,
  mail: { kind: OutboundKind; projectPath: string; iid: number; key: string },
  send: () => Promise<T>,
): Promise<SendOnce<T>> => {
  if (!sendsAtMostOnce(mail.kind)) return { status: 'sent', value: await send() };
  if (!(await intents.beginSend(mail.projectPath, mail.iid, mail.key))) return { status: 'interrupted' };
  try {
    return { status: 'sent', value: await send() };
  } catch (error) {
    // The transport said no: nothing went, so the retry may send it. Should withdrawing fail too,
    // the mail is lost rather than risked twice, as after a crash.
    await intents.abandonSend(mail.projectPath, mail.iid, mail.key).catch(() => undefined);
    throw error;
  }
};
