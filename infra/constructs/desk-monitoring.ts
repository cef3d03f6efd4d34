import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../naming.ts';

/** A queue whose backlog, age and dead letters are watched. */
export interface WatchedQueue {
  readonly name: string;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
}

/** An SNS topic whose failed deliveries, and the subscription's dead letters, are watched. */
export interface WatchedTopic {
  readonly name: string;
  readonly topic: sns.ITopic;
  /** The redrive dead-letter queue of the topic's SQS subscription. */
  readonly deadLetterQueue: sqs.IQueue;
}

export interface DeskMonitoringProps {
  readonly deskName: string;
  /** Encrypts the alarm topic. */
  readonly encryptionKey: kms.IKey;
  /** @default - no email subscription */
  readonly alarmEmail?: string | undefined;
  readonly queues: readonly WatchedQueue[];
  /** @default - none */
  readonly topics?: readonly WatchedTopic[];
  readonly functions: readonly { readonly name: string; readonly function: lambda.IFunction }[];
  /** The Powertools service name of the function that emits `quarantined`. */
  readonly quarantineService: string;
  /** Quarantined mails per hour that raise the alarm. */
  readonly quarantineThreshold: number;
  /** A message older than this in a work queue raises the alarm. @default 30 minutes */
  readonly maxMessageAge?: Duration;
}

/**
 * Alarms to an encrypted SNS topic (optionally an email), and a dashboard. What a platform
 * engineer must hear about: dead letters (a mail or an answer that nobody will process), function
 * errors, a backlog that ages (the forge is down or slow), and quarantine growing (mail waiting for
 * a person, or a policy that is too strict).
 */
export class DeskMonitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DeskMonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Postdesk ${props.deskName} alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // CloudWatch publishes alarm notifications as a service: the topic's policy and key must say so.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
        },
      }),
    );
    props.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchToPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    if (props.alarmEmail !== undefined) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new actions.SnsAction(this.topic);
    const maxAge = props.maxMessageAge ?? Duration.minutes(30);

    for (const watched of props.queues) {
      this.alarm(
        `${watched.name}DeadLetters`,
        `Postdesk ${props.deskName}: ${watched.name} messages in the dead-letter queue (see docs/DEPLOY.md, "Where to look")`,
        watched.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        1,
        notify,
      );
      this.alarm(
        `${watched.name}OldestMessage`,
        `Postdesk ${props.deskName}: the ${watched.name} queue has a message older than ${maxAge.toMinutes()} minutes (forge down or slow?)`,
        watched.queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        maxAge.toSeconds(),
        notify,
      );
    }
    const topics = props.topics ?? [];
    for (const watched of topics) {
      // SNS retried and gave up: the notification went to the subscription's dead-letter queue
      // (or, without one, was lost). Either way a mail or a bounce was not handed to the desk.
      this.alarm(
        `${watched.name}NotificationsFailed`,
        `Postdesk ${props.deskName}: SNS could not deliver ${watched.name} notifications to their queue (see docs/DEPLOY.md, "Where to look")`,
        watched.topic.metricNumberOfNotificationsFailed({
          period: Duration.minutes(5),
          statistic: cloudwatch.Stats.SUM,
        }),
        1,
        notify,
      );
      this.alarm(
        `${watched.name}SubscriptionDeadLetters`,
        `Postdesk ${props.deskName}: ${watched.name} notifications in the subscription's dead-letter queue (move them to the work queue once the cause is fixed)`,
        watched.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        1,
        notify,
      );
    }
    for (const watched of props.functions) {
      this.alarm(
        `${watched.name}Errors`,
        `Postdesk ${props.deskName}: the ${watched.name} function failed`,
        watched.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        1,
        notify,
      );
    }
    // The inbound function emits `quarantined` with the dimensions {service, reason} (one series
    // per reason code, adapters/aws/metrics.ts); a Metrics Insights query adds the reasons up.
    const quarantined = new cloudwatch.MathExpression({
      expression: `SELECT SUM(quarantined) FROM SCHEMA("${METRICS_NAMESPACE}", reason, service) WHERE service = '${props.quarantineService}'`,
      label: 'quarantined',
      period: Duration.hours(1),
    });
    this.alarm(
      'QuarantineGrowth',
      `Postdesk ${props.deskName}: ${props.quarantineThreshold} or more mails quarantined in an hour (postdesk quarantine list)`,
      quarantined,
      props.quarantineThreshold,
      notify,
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${props.deskName}-${stack.region}`,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Postdesk ${props.deskName}\nInbound mail, answers going out, and what needs a person. Runbook: docs/DEPLOY.md.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue backlog',
        left: props.queues.map((q) => q.queue.metricApproximateNumberOfMessagesVisible({ label: q.name })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Oldest message (s)',
        left: props.queues.map((q) => q.queue.metricApproximateAgeOfOldestMessage({ label: q.name })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead letters',
        left: props.queues.map((q) =>
          q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: `${q.name} DLQ` }),
        ),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Invocations',
        left: props.functions.map((f) => f.function.metricInvocations({ label: f.name })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors',
        left: props.functions.map((f) => f.function.metricErrors({ label: f.name })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Duration p95 (ms)',
        left: props.functions.map((f) => f.function.metricDuration({ label: f.name, statistic: 'p95' })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Throttles',
        left: props.functions.map((f) => f.function.metricThrottles({ label: f.name })),
        width: 6,
      }),
    );
    if (topics.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'SNS deliveries failed',
          left: topics.map((t) =>
            t.topic.metricNumberOfNotificationsFailed({ label: t.name, statistic: cloudwatch.Stats.SUM }),
          ),
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Subscription dead letters',
          left: topics.map((t) =>
            t.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
              label: `${t.name} subscription DLQ`,
            }),
          ),
          width: 12,
        }),
      );
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Quarantined per hour', left: [quarantined], width: 12 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
    );
  }

  private alarm(
    id: string,
    description: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    action: cloudwatch.IAlarmAction,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(action);
    this.alarms.push(alarm);
  }
}
