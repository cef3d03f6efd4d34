import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_RETENTION_DAYS } from '../inputs.ts';

export interface QueueWithDeadLetterProps {
  /** Encrypts both queues. */
  readonly encryptionKey: kms.IKey;
  /** At least six times the consuming function's timeout (AWS's advice for Lambda event sources). */
  readonly visibilityTimeout: Duration;
  /** Receives before a message moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
}

/**
 * A KMS-encrypted, TLS-only queue whose messages move to a dead-letter queue after a few failed
 * receives. The dead letters are kept 14 days, shorter than raw mail, so a redrive finds its mail.
 */
export class QueueWithDeadLetter extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: QueueWithDeadLetterProps) {
    super(scope, id);
    // The dead-letter queue has none of its own (cdk-nag's SQS3 sees it is one); it is alarmed on.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }
}

export interface SubscriptionDeadLetterQueueProps {
  /** Encrypts the queue (the work queues' key, which the topics may already use). */
  readonly encryptionKey: kms.IKey;
}

/**
 * Where SNS puts a notification it could not deliver to its SQS subscription (a redrive policy on
 * the subscription, not on a queue): the queue policy denied it, the queue's key refused SNS, the
 * queue was gone. Without it SNS drops the notification after its retries and the mail sits in
 * the bucket unseen. Kept 14 days, as the work queues' dead letters.
 */
export class SubscriptionDeadLetterQueue extends Construct {
  readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SubscriptionDeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is a dead-letter queue: the redrive target of an SNS subscription (the subscription's RedrivePolicy), which cdk-nag does not recognise as it recognises a queue's. A dead-letter queue has no dead-letter queue of its own; an alarm fires on its first message.",
    });
  }
}
