import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { DeskFunction } from '../constructs/desk-function.ts';
import { DeskMonitoring } from '../constructs/desk-monitoring.ts';
import type { DeskStore } from '../constructs/desk-store.ts';
import { MailReceiving } from '../constructs/mail-receiving.ts';
import { QueueWithDeadLetter, SubscriptionDeadLetterQueue } from '../constructs/queue-with-dead-letter.ts';
import { SendingFeedback } from '../constructs/sending-feedback.ts';
import { SendingIdentity } from '../constructs/sending-identity.ts';
import { type DeployInputs, ruleRecipients } from '../inputs.ts';
import { BUCKET_ACCESS, BUCKET_PREFIXES, mailBucketName } from '../naming.ts';
import { FUNCTION_ENTRIES } from '../paths.ts';

export interface StatelessStackProps extends StackProps {
  readonly inputs: DeployInputs;
  /** The stateful stack's store: its key and secret (the bucket is found by its name). */
  readonly store: DeskStore;
}

/** Timeouts of the functions that are not configurable. */
const WEBHOOK_TIMEOUT = Duration.seconds(10);
const NOTIFY_TIMEOUT = Duration.seconds(60);

/**
 * Everything that can be destroyed and deployed again without losing a mail: the receipt rule,
 * the notification topic, the queues, the functions and their Function URL, the SES identity and
 * configuration set (with the bounce and complaint topic), alarms and the dashboard.
 */
export class StatelessStack extends Stack {
  readonly receiving: MailReceiving;
  readonly inbound: DeskFunction;
  readonly webhook: DeskFunction;
  readonly notify: DeskFunction;
  readonly inboundQueue: QueueWithDeadLetter;
  readonly outboundQueue: QueueWithDeadLetter;
  /** Notifications SNS could not deliver to the inbound queue (mail received) and the outbound one (feedback). */
  readonly receivedSubscriptionDeadLetters: SubscriptionDeadLetterQueue;
  readonly feedbackSubscriptionDeadLetters: SubscriptionDeadLetterQueue;
  readonly identity: SendingIdentity;
  readonly feedback: SendingFeedback;
  readonly monitoring: DeskMonitoring;
  readonly webhookUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    const { inputs, store, ...stackProps } = props;
    const { options, config } = inputs;
    super(scope, id, {
      description: `Postdesk ${options.deskName}: receipt rule, queues, functions, webhook URL, alarms`,
      ...stackProps,
    });
    const logRetention = options.logRetentionDays as logs.RetentionDays;
    const bucket = s3.Bucket.fromBucketName(
      this,
      'DeskBucket',
      mailBucketName(options.deskName, this.account, this.region),
    );

    // Messages in flight have keys of their own: the services that must use them (SES, SNS,
    // CloudWatch) get no rights on the desk key that guards the state. Topics and queues need two:
    // the queues' key policy names the topic that may deliver (aws:SourceArn), and the topic
    // refers to its key, so one key for both would be a circular dependency.
    const topicsKey = new kms.Key(this, 'TopicsKey', {
      description: `Postdesk ${options.deskName}: mail notifications and alarms (SNS)`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const queuesKey = new kms.Key(this, 'QueuesKey', {
      description: `Postdesk ${options.deskName}: inbound and outbound work queues (SQS)`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });

    this.receiving = new MailReceiving(this, 'Receiving', {
      ruleSetMode: options.ruleSetMode,
      ruleSetName: options.ruleSetName,
      ruleName: options.ruleName,
      existingRuleAfter: options.existingRuleAfter,
      recipients: ruleRecipients(config),
      requireTls: options.requireTls,
      bucketName: bucket.bucketName,
      objectKeyPrefix: BUCKET_PREFIXES.mail,
      encryptionKey: topicsKey,
      logRetention,
      additionalInboundRegions: options.additionalInboundRegions,
    });

    const inboundTimeout = Duration.seconds(options.inboundTimeoutSeconds);
    this.inboundQueue = new QueueWithDeadLetter(this, 'InboundQueue', {
      encryptionKey: queuesKey,
      visibilityTimeout: Duration.seconds(inboundTimeout.toSeconds() * 6),
    });
    // Raw delivery: the SQS body is SES's notification JSON itself (mail, receipt with verdicts
    // and envelope recipients), not wrapped in an SNS envelope.
    // A notification SNS cannot deliver goes to a dead-letter queue instead of being dropped.
    this.receivedSubscriptionDeadLetters = new SubscriptionDeadLetterQueue(
      this,
      'ReceivedSubscriptionDeadLetters',
      {
        encryptionKey: queuesKey,
      },
    );
    this.receiving.topic.addSubscription(
      new subscriptions.SqsSubscription(this.inboundQueue.queue, {
        rawMessageDelivery: true,
        deadLetterQueue: this.receivedSubscriptionDeadLetters.queue,
      }),
    );
    this.outboundQueue = new QueueWithDeadLetter(this, 'OutboundQueue', {
      encryptionKey: queuesKey,
      visibilityTimeout: Duration.seconds(NOTIFY_TIMEOUT.toSeconds() * 6),
    });

    // Bounces and complaints of the desk's outbound mail come back on the outbound queue, where the
    // notify function tells them from jobs (functions/notify/handler.ts). Raw delivery: the SQS
    // body is SES's event JSON itself, as for inbound mail (the handler also reads an SNS envelope).
    this.feedback = new SendingFeedback(this, 'Feedback', {
      deskName: options.deskName,
      encryptionKey: topicsKey,
    });
    this.feedbackSubscriptionDeadLetters = new SubscriptionDeadLetterQueue(
      this,
      'FeedbackSubscriptionDeadLetters',
      {
        encryptionKey: queuesKey,
      },
    );
    this.feedback.topic.addSubscription(
      new subscriptions.SqsSubscription(this.outboundQueue.queue, {
        rawMessageDelivery: true,
        deadLetterQueue: this.feedbackSubscriptionDeadLetters.queue,
      }),
    );

    // The configuration set is named in every send (POSTDESK_SES_CONFIGURATION_SET) and is the
    // identity's default as well, so mail sent as the domain without naming it reports back too.
    this.identity = new SendingIdentity(this, 'Identity', {
      domain: config.domain,
      region: options.region,
      hostedZone: options.hostedZone,
      configurationSet: this.feedback.configurationSet,
    });

    const environment = { POSTDESK_CONFIG: inputs.configText };
    this.inbound = new DeskFunction(this, 'Inbound', {
      entry: FUNCTION_ENTRIES.inbound,
      description: `Postdesk ${options.deskName}: inbound mail to forge issues`,
      timeout: inboundTimeout,
      memorySize: 1024,
      logRetention,
      serviceName: `${options.deskName}-inbound`,
      environment,
    });
    this.inbound.useBucket(bucket, BUCKET_ACCESS.inbound);
    this.inbound.useKey(store.key);
    this.inbound.useSecret(store.secret);
    this.inbound.useOutboundQueue(this.outboundQueue.queue, queuesKey);
    this.inbound.function.addEventSource(
      new SqsEventSource(this.inboundQueue.queue, {
        batchSize: options.batchSize,
        reportBatchItemFailures: true,
        // A burst of mail must not become a burst of forge API calls.
        maxConcurrency: options.maxConcurrency,
      }),
    );

    this.webhook = new DeskFunction(this, 'Webhook', {
      entry: FUNCTION_ENTRIES.webhook,
      description: `Postdesk ${options.deskName}: forge webhook (token checked) to the outbound queue`,
      timeout: WEBHOOK_TIMEOUT,
      memorySize: 256,
      logRetention,
      serviceName: `${options.deskName}-webhook`,
      environment,
    });
    // Only what it touches: it reads ticket records (core/state/tickets.ts) and writes outbox/
    // (unsubscribes, core/outbound/state.ts; oversized jobs, core/outbound/jobs.ts).
    this.webhook.useBucket(bucket, BUCKET_ACCESS.webhook);
    this.webhook.useKey(store.key);
    this.webhook.useSecret(store.secret);
    this.webhook.useOutboundQueue(this.outboundQueue.queue, queuesKey);
    this.webhookUrl = this.webhook.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    Validations.of(this.webhookUrl).acknowledge({
      id: 'Postdesk-URL1',
      reason:
        'Public by design: GitLab webhooks cannot sign AWS requests and customers open unsubscribe links in a browser. The function checks X-Gitlab-Token against the webhook token of the desk secret (constant time) and unsubscribe links by their HMAC token; it only queues mail jobs and records unsubscribes.',
    });

    this.notify = new DeskFunction(this, 'Notify', {
      entry: FUNCTION_ENTRIES.notify,
      description: `Postdesk ${options.deskName}: forge answers to customer mail (SES)`,
      timeout: NOTIFY_TIMEOUT,
      memorySize: 512,
      logRetention,
      serviceName: `${options.deskName}-notify`,
      environment,
    });
    this.notify.useBucket(bucket, BUCKET_ACCESS.notify);
    this.notify.useKey(store.key);
    this.notify.useSecret(store.secret);
    this.notify.sendMailAs(
      this.identity.identity.emailIdentityName,
      this.identity.identity.emailIdentityArn,
      {
        name: this.feedback.configurationSet.configurationSetName,
        arn: this.feedback.configurationSetArn,
      },
    );
    this.notify.function.addEventSource(
      new SqsEventSource(this.outboundQueue.queue, {
        batchSize: options.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: options.maxConcurrency,
      }),
    );

    this.monitoring = new DeskMonitoring(this, 'Monitoring', {
      deskName: options.deskName,
      encryptionKey: topicsKey,
      alarmEmail: options.alarmEmail,
      queues: [
        {
          name: 'Inbound',
          queue: this.inboundQueue.queue,
          deadLetterQueue: this.inboundQueue.deadLetterQueue,
        },
        {
          name: 'Outbound',
          queue: this.outboundQueue.queue,
          deadLetterQueue: this.outboundQueue.deadLetterQueue,
        },
      ],
      topics: [
        {
          name: 'MailReceived',
          topic: this.receiving.topic,
          deadLetterQueue: this.receivedSubscriptionDeadLetters.queue,
        },
        {
          name: 'Feedback',
          topic: this.feedback.topic,
          deadLetterQueue: this.feedbackSubscriptionDeadLetters.queue,
        },
      ],
      functions: [
        { name: 'Inbound', function: this.inbound.function },
        { name: 'Webhook', function: this.webhook.function },
        { name: 'Notify', function: this.notify.function },
      ],
      quarantineService: `${options.deskName}-inbound`,
      quarantineThreshold: options.quarantineAlarmThreshold,
    });

    this.outputs(inputs);
  }

  private outputs(inputs: DeployInputs): void {
    const { options, config } = inputs;
    const output = (id: string, value: string, description: string): void => {
      new CfnOutput(this, id, { value, description });
    };
    output(
      'WebhookUrl',
      this.webhookUrl.url,
      'GitLab project > Settings > Webhooks: URL (with the secret token)',
    );
    output('InboundMxRecord', this.identity.mxValue, `MX record of ${config.domain}`);
    this.identity.identity.dkimRecords.forEach((record, index) => {
      output(
        `DkimRecord${index + 1}`,
        Fn.join(' ', [record.name, 'CNAME', record.value]),
        'Easy DKIM record',
      );
    });
    output('SesIdentity', this.identity.identity.emailIdentityName, 'The SES domain identity (sending)');
    output(
      'SesConfigurationSet',
      this.feedback.configurationSet.configurationSetName,
      'Sends with it; publishes bounces and complaints',
    );
    output(
      'FeedbackTopicArn',
      this.feedback.topic.topicArn,
      'SES bounces and complaints, delivered to the outbound queue',
    );
    output('ReceiptRuleSetName', options.ruleSetName, 'The receipt rule set holding the desk rule');
    output('ReceiptRuleName', options.ruleName, 'The desk receipt rule');
    output(
      'ReceiptRuleSetMode',
      options.ruleSetMode,
      'create: inactive until activated; create-and-activate; existing',
    );
    output(
      'ReceivedSubscriptionDeadLetterQueueUrl',
      this.receivedSubscriptionDeadLetters.queue.queueUrl,
      'Mail notifications SNS could not deliver to the inbound queue',
    );
    output(
      'FeedbackSubscriptionDeadLetterQueueUrl',
      this.feedbackSubscriptionDeadLetters.queue.queueUrl,
      'Bounce and complaint notifications SNS could not deliver to the outbound queue',
    );
    output('InboundQueueUrl', this.inboundQueue.queue.queueUrl, 'Mail waiting for the inbound function');
    output(
      'InboundDeadLetterQueueUrl',
      this.inboundQueue.deadLetterQueue.queueUrl,
      'Mail that failed 5 times',
    );
    output('OutboundQueueUrl', this.outboundQueue.queue.queueUrl, 'Answers waiting for the notify function');
    output(
      'OutboundDeadLetterQueueUrl',
      this.outboundQueue.deadLetterQueue.queueUrl,
      'Answers that failed 5 times',
    );
    output('InboundLogGroup', this.inbound.logGroup.logGroupName, 'Logs and decision traces of inbound mail');
    output('WebhookLogGroup', this.webhook.logGroup.logGroupName, 'Logs of the webhook function');
    output('NotifyLogGroup', this.notify.logGroup.logGroupName, 'Logs of the notify function');
    output(
      'AlarmTopicArn',
      this.monitoring.topic.topicArn,
      'Subscribe on-call here (or deploy with -c alarmEmail=...)',
    );
    output(
      'DashboardUrl',
      `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${options.deskName}-${this.region}`,
      'CloudWatch dashboard',
    );
  }
}
