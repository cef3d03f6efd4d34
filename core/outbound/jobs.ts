import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { PermanentError } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';
import { MAX_INLINE_JOB_BYTES } from './constants.ts';

/**
 * Notification jobs: what the webhook function (and the inbound pipeline's thank-you hook) put on
 * the notify queue, one job per mail to send (one recipient each), so a retry or a dead letter
 * concerns one mail and never re-sends the others.
 *
 * A job carries what the mail needs and the forge cannot give back cheaply (the note's text, the
 * issue title), so sending needs no extra forge call. A job bigger than MAX_INLINE_JOB_BYTES (a
 * long note) is stored in the state bucket at `outbox/jobs/<uuid>.json` and the queue carries
 * `{ kind: 'stored', key }` instead (SQS messages are capped at 256 KiB).
 */

const base = {
  /** Job format version. */
  v: z.literal(1),
  /** Project path as configured, e.g. `acme/game`. */
  project: z.string().min(1),
  iid: z.number().int().positive(),
  /** The participant to mail (lowercased). */
  to: z.string().min(3).max(254),
  /** Issue title, for the subject. */
  title: z.string(),
  /** The issue's web URL (`%{ISSUE_URL}`), when known. */
  issueUrl: z.string().optional(),
  /** The issue description (`%{ISSUE_DESCRIPTION}`), when known. */
  description: z.string().optional(),
};

export const NewNoteJobSchema = z.object({
  ...base,
  kind: z.literal('new_note'),
  noteId: z.number().int().positive(),
  /** The note's Markdown as GitLab sent it. */
  noteText: z.string(),
  /** The author's display name, for "<author> via <desk>". */
  authorName: z.string().optional(),
  /** The project's web URL, the base of relative upload links. */
  projectWebUrl: z.string().optional(),
});

export const ThankYouJobSchema = z.object({ ...base, kind: z.literal('thank_you') });
export const NewParticipantJobSchema = z.object({ ...base, kind: z.literal('new_participant') });

export const NotifyJobSchema = z.discriminatedUnion('kind', [
  NewNoteJobSchema,
  ThankYouJobSchema,
  NewParticipantJobSchema,
]);
export type NotifyJob = z.output<typeof NotifyJobSchema>;
export type NewNoteJob = z.output<typeof NewNoteJobSchema>;

const StoredJobSchema = z.object({
  kind: z.literal('stored'),
  key: z.string().regex(/^outbox\/jobs\/[0-9a-f-]{36}\.json$/),
});

/** The queue the jobs go on: SQS in AWS, an in-process runner locally. */
export interface NotifyQueue {
  enqueue(jobs: readonly NotifyJob[]): Promise<void>;
}

/**
 * A stable name for "this mail to this person", for the sent-mail ledger: a queue that delivers a
 * job twice must not mail the customer twice.
 */
export const jobKey = (job: NotifyJob): string =>
  `${job.kind}:${job.kind === 'new_note' ? job.noteId : ''}:${job.to.toLowerCase()}`;

/** The message body for a job: the JSON itself, or a pointer to a stored copy when it is too big. */
export const serializeJob = async (job: NotifyJob, store: ObjectStore): Promise<string> => {
  const body = JSON.stringify(job);
  if (Buffer.byteLength(body, 'utf8') <= MAX_INLINE_JOB_BYTES) return body;
  const key = `outbox/jobs/${randomUUID()}.json`;
  await store.put(key, body);
  return JSON.stringify({ kind: 'stored', key });
};

/**
 * Reads a job from a message body: inline, or stored (then read from the bucket). Returns undefined
 * when the body is not a job at all (the caller may try another shape: SES feedback). A job whose
 * stored copy is gone or malformed is a PermanentError: retrying will not bring it back.
 */
export const parseJobBody = async (body: string, store: ObjectStore): Promise<NotifyJob | undefined> => {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return undefined;
  }
  const stored = StoredJobSchema.safeParse(raw);
  if (stored.success) {
    const object = await store.get(stored.data.key);
    if (!object) throw new PermanentError('job_missing', `stored job ${stored.data.key} is gone`);
    let inner: unknown;
    try {
      inner = JSON.parse(object.body);
    } catch (error) {
      throw new PermanentError('job_corrupt', `stored job ${stored.data.key} is not JSON`, { cause: error });
    }
    const job = NotifyJobSchema.safeParse(inner);
    if (!job.success) throw new PermanentError('job_corrupt', `stored job ${stored.data.key} is not a job`);
    return job.data;
  }
  const job = NotifyJobSchema.safeParse(raw);
  return job.success ? job.data : undefined;
};

/** Deletes the stored copy of a job once it is done (best effort; a lifecycle rule is the backstop). */
export const storedJobKey = (body: string): string | undefined => {
  try {
    const parsed = StoredJobSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data.key : undefined;
  } catch {
    return undefined;
  }
};
