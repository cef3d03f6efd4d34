import { Readable } from 'node:stream';
import { ProjectSchema } from '../../core/config/schema.ts';
import type { AttachmentMeta, Mailbox, ParsedMail } from '../../core/model.ts';
import type { Clock, ObjectStore } from '../../core/ports.ts';
import type { RouteTarget, UploadPlan } from '../../core/stages/contracts.ts';
import type { DeliverContext } from '../../core/stages/deliver/index.ts';
import { objectStoreState } from '../../core/state/index.ts';
import { fromHeaders } from '../support/mail-factory.ts';

/** Values shared by the deliver tests: mails, targets, attachments and a clock the test moves. */

export const isDeskAddress = (address: string): boolean => address.endsWith('@desk.example.com');
export const box = (address: string, name = ''): Mailbox => ({ name, address });

/** Where a test's delivery runs: a store, the clock its state runs on, and the desk's addresses. */
export interface OnStore {
  store: ObjectStore;
  clock: Clock;
  isDeskAddress: (address: string) => boolean;
}

/** The deliver stage's context on the test's store, built per call as each attempt's would be. */
export const contextOn = ({ store, clock, isDeskAddress }: OnStore): DeliverContext => {
  const state = objectStoreState(store, { clock });
  return { ledger: state.ledger, tickets: state.tickets, isDeskAddress };
};

export const project = (overrides: Record<string, unknown> = {}) =>
  ProjectSchema.parse({ path: 'acme/game', key: 'game', ...overrides });

export const target = (overrides: Record<string, unknown> = {}): RouteTarget => ({
  project: project(overrides),
  address: 'support+game@desk.example.com',
  via: 'project_key',
});

export const mail = (overrides: Partial<ParsedMail> = {}): ParsedMail => ({
  headers: fromHeaders(overrides.from ?? [box('alice@example.com', 'Alice')]),
  from: [box('alice@example.com', 'Alice')],
  replyTo: [],
  sender: undefined,
  to: [box('support+game@desk.example.com')],
  cc: [],
  subject: 'The game crashes on start',
  messageId: 'first@mail.example.com',
  inReplyTo: [],
  references: [],
  date: undefined,
  contentType: 'text/plain',
  contentTypeParams: {},
  text: 'It crashes.',
  html: undefined,
  attachments: [],
  size: 300,
  warnings: [],
  ...overrides,
});

export const fakeClock = (start = Date.parse('2025-05-01T12:00:00Z')) => {
  let now = start;
  const clock: Clock = { now: () => new Date(now) };
  return { clock, advance: (ms: number) => (now += ms) };
};

/** An attachment whose content is streamed in two chunks; `opened` counts the re-reads. */
export const attachment = (
  index: number,
  content: Buffer,
  contentType: string,
  filename: string,
): { plan: UploadPlan; opened: () => number } => {
  let opened = 0;
  const meta: AttachmentMeta = {
    index,
    filename,
    contentType,
    contentId: undefined,
    disposition: 'attachment',
    size: content.length,
    related: false,
    open: async () => {
      opened += 1;
      const half = Math.floor(content.length / 2);
      return Readable.from([content.subarray(0, half), content.subarray(half)]);
    },
  };
  return {
    plan: { attachment: meta, filename, contentType, inline: contentType.startsWith('image/') },
    opened: () => opened,
  };
};

/** Lets the event loop run until a promise that will never settle has done its work. */
export const settle = async (): Promise<void> => {
  for (let index = 0; index < 20; index++) await new Promise((resolve) => setImmediate(resolve));
};
