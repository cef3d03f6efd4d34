import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { toPostdeskError } from '../../adapters/aws/errors.ts';
import { type NotifyJob, type NotifyQueue, serializeJob } from '../../core/outbound/jobs.ts';
import type { ObjectStore } from '../../core/ports.ts';

/**
 * The notify queue on SQS: one SendMessage per job (a ticket has at most ten participants, so a
 * note makes at most ten messages). A job too big for SQS is stored under `outbox/jobs/` first and
 * the message points at it (core/outbound/jobs.ts). Used by the webhook function for notes and by
 * the inbound function's `onDelivered` hook for thank-you and new-participant mails.
 */
export interface SqsNotifyQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** Where oversized jobs are stored. */
  store: ObjectStore;
}

export const createSqsNotifyQueue = (options: SqsNotifyQueueOptions): NotifyQueue => ({
  async enqueue(jobs: readonly NotifyJob[]) {
    for (const job of jobs) {
      const body = await serializeJob(job, options.store);
      try {
        await options.client.send(
          new SendMessageCommand({
            QueueUrl: options.queueUrl,
            MessageBody: body,
            MessageAttributes: { kind: { DataType: 'String', StringValue: job.kind } },
          }),
        );
      } catch (error) {
        throw toPostdeskError(
          error,
          `queueing a ${job.kind} mail on ${options.queueUrl}`,
          'check that the function may sqs:SendMessage to the outbound queue and use its KMS key',
          { transient: 'queue_unavailable', permanent: 'queue_denied' },
        );
      }
    }
  },
});
