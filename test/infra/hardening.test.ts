import type { CfnElement } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DeskApp, roleGrants, SYNTH_TIMEOUT, synthDesk, TEST_ACCOUNT, TEST_REGION } from './support.ts';

/** Issue 19 on the default deployment (ruleSetMode=create): one synth for the whole file. */
let desk: DeskApp;
let stateful: Template;
let stateless: Template;

const RULE_ARN = `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:receipt-rule-set/postdesk-receipt-rules:receipt-rule/postdesk-inbound`;
const logicalId = (construct: IConstruct): string =>
  desk.stateless.getLogicalId(construct.node.defaultChild as CfnElement);

beforeAll(() => {
  ({ desk, stateful, stateless } = synthDesk());
}, SYNTH_TIMEOUT);

type Statement = { Sid?: string; Action: unknown; Condition?: Record<string, Record<string, unknown>> };
const keyStatement = (template: Template, sid: string): Statement | undefined =>
  Object.values(template.findResources('AWS::KMS::Key'))
    .flatMap(
      (key) =>
        (key as { Properties: { KeyPolicy: { Statement: Statement[] } } }).Properties.KeyPolicy.Statement,
    )
    .find((statement) => statement.Sid === sid);

describe('teardown guard in create mode (item 3)', () => {
  it('guards our rule set', () => {
    stateless.hasResourceProperties('Custom::SesReceiptRuleSetGuard', {
      RuleSetName: 'postdesk-receipt-rules',
    });
  });

  it('knows our rule as the only one of ours', () => {
    stateless.hasResourceProperties('Custom::SesReceiptRuleSetGuard', { RuleNames: ['postdesk-inbound'] });
  });

  it('runs in create mode: it activates nothing', () => {
    stateless.hasResourceProperties('Custom::SesReceiptRuleSetGuard', { Mode: 'create' });
  });

  it('is deleted before our rule (it depends on it), so the set still holds the rule when it looks', () => {
    stateless.hasResource('Custom::SesReceiptRuleSetGuard', {
      DependsOn: Match.arrayWith([logicalId(desk.stateless.receiving.rule)]),
    });
  });

  it('runs on arm64 with the newest Node.js runtime, like the desk functions', () => {
    stateless.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('guards the receipt rule set'),
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
    });
  });
});

describe('least privilege (item 4)', () => {
  it('grants the inbound role exactly what the inbound function touches', () => {
    expect(roleGrants(stateless, 'InboundRole')).toEqual([
      'kms:Decrypt <QueuesKey.Arn>',
      'kms:Decrypt <QueuesKey.Arn>',
      'kms:Decrypt <desk key>',
      'kms:GenerateDataKey <QueuesKey.Arn>',
      'kms:GenerateDataKey <desk key>',
      'logs:CreateLogStream <InboundLogGroup.Arn>',
      'logs:PutLogEvents <InboundLogGroup.Arn>',
      's3:DeleteObject bucket/ratelimit/*',
      's3:GetObject bucket/ledger/*',
      's3:GetObject bucket/mail/*',
      's3:GetObject bucket/msgid/*',
      's3:GetObject bucket/outbox/*',
      's3:GetObject bucket/quarantine/*',
      's3:GetObject bucket/ratelimit/*',
      's3:GetObject bucket/tickets/*',
      's3:ListBucket bucket',
      's3:PutObject bucket/ledger/*',
      's3:PutObject bucket/msgid/*',
      's3:PutObject bucket/outbox/*',
      's3:PutObject bucket/quarantine/*',
      's3:PutObject bucket/ratelimit/*',
      's3:PutObject bucket/tickets/*',
      'secretsmanager:DescribeSecret <desk secret>',
      'secretsmanager:GetSecretValue <desk secret>',
      'sqs:ChangeMessageVisibility <InboundQueue.Arn>',
      'sqs:DeleteMessage <InboundQueue.Arn>',
      'sqs:GetQueueAttributes <InboundQueue.Arn>',
      'sqs:GetQueueAttributes <OutboundQueue.Arn>',
      'sqs:GetQueueUrl <InboundQueue.Arn>',
      'sqs:ReceiveMessage <InboundQueue.Arn>',
      'sqs:SendMessage <OutboundQueue.Arn>',
    ]);
  });

  it('grants the webhook role only reads of ticket records and writes of outbox/', () => {
    expect(roleGrants(stateless, 'WebhookRole')).toEqual([
      'kms:Decrypt <QueuesKey.Arn>',
      'kms:Decrypt <desk key>',
      'kms:GenerateDataKey <QueuesKey.Arn>',
      'kms:GenerateDataKey <desk key>',
      'logs:CreateLogStream <WebhookLogGroup.Arn>',
      'logs:PutLogEvents <WebhookLogGroup.Arn>',
      's3:GetObject bucket/outbox/*',
      's3:GetObject bucket/tickets/*',
      's3:ListBucket bucket',
      's3:PutObject bucket/outbox/*',
      'secretsmanager:DescribeSecret <desk secret>',
      'secretsmanager:GetSecretValue <desk secret>',
      'sqs:GetQueueAttributes <OutboundQueue.Arn>',
      'sqs:SendMessage <OutboundQueue.Arn>',
    ]);
  });

  it('grants the notify role tickets, msgid, ratelimit and outbox, and sending as the desk', () => {
    expect(roleGrants(stateless, 'NotifyRole')).toEqual([
      'kms:Decrypt <QueuesKey.Arn>',
      'kms:Decrypt <desk key>',
      'kms:GenerateDataKey <desk key>',
      'logs:CreateLogStream <NotifyLogGroup.Arn>',
      'logs:PutLogEvents <NotifyLogGroup.Arn>',
      's3:DeleteObject bucket/outbox/*',
      's3:DeleteObject bucket/ratelimit/*',
      's3:GetObject bucket/msgid/*',
      's3:GetObject bucket/outbox/*',
      's3:GetObject bucket/ratelimit/*',
      's3:GetObject bucket/tickets/*',
      's3:ListBucket bucket',
      's3:PutObject bucket/msgid/*',
      's3:PutObject bucket/outbox/*',
      's3:PutObject bucket/ratelimit/*',
      's3:PutObject bucket/tickets/*',
      'secretsmanager:DescribeSecret <desk secret>',
      'secretsmanager:GetSecretValue <desk secret>',
      `ses:SendEmail arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:configuration-set/<FeedbackConfigurationSet>`,
      `ses:SendEmail arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:identity/<Identity>`,
      'sqs:ChangeMessageVisibility <OutboundQueue.Arn>',
      'sqs:DeleteMessage <OutboundQueue.Arn>',
      'sqs:GetQueueAttributes <OutboundQueue.Arn>',
      'sqs:GetQueueUrl <OutboundQueue.Arn>',
      'sqs:ReceiveMessage <OutboundQueue.Arn>',
    ]);
  });

  it('grants the teardown guard the three rule-set calls and its log group', () => {
    expect(roleGrants(stateless, 'ReceivingTeardownRole')).toEqual([
      'logs:CreateLogStream <ReceivingTeardownLogGroup.Arn>',
      'logs:PutLogEvents <ReceivingTeardownLogGroup.Arn>',
      'ses:DescribeActiveReceiptRuleSet *',
      'ses:DescribeReceiptRuleSet *',
      'ses:SetActiveReceiptRuleSet *',
    ]);
  });

  it('binds each ListBucket to the prefixes of its function (s3:prefix)', () => {
    stateless.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^WebhookRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:ListBucket',
            Condition: { StringLikeIfExists: { 's3:prefix': ['tickets/*', 'outbox/*'] } },
          }),
        ]),
      },
    });
  });
});

describe('KMS key policies (items 5 and 7)', () => {
  it('lets SES use the desk key only for our receipt rule (aws:SourceArn)', () => {
    expect(
      keyStatement(stateful, 'AllowSesToStoreMailForThisAccount')?.Condition?.['StringEquals']?.[
        'aws:SourceArn'
      ],
    ).toBe(RULE_ARN);
  });

  it('gives SES no kms:Encrypt on the desk key: SSE-KMS writes need a data key and Decrypt only', () => {
    expect(keyStatement(stateful, 'AllowSesToStoreMailForThisAccount')?.Action).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
  });

  it('lets SES use the topics key only for our receipt rule and our configuration set', () => {
    expect(
      keyStatement(stateless, 'AllowSesToPublishToEncryptedTopic')?.Condition?.['StringEquals']?.[
        'aws:SourceArn'
      ],
    ).toEqual([
      RULE_ARN,
      {
        'Fn::Join': [
          '',
          [
            `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:configuration-set/`,
            { Ref: logicalId(desk.stateless.feedback.configurationSet) },
          ],
        ],
      },
    ]);
  });
});

describe('SNS subscription dead letters (item 6)', () => {
  it('redrives undeliverable mail notifications to a dead-letter queue', () => {
    stateless.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: logicalId(desk.stateless.receiving.topic) },
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalId(desk.stateless.receivedSubscriptionDeadLetters.queue), 'Arn'],
        },
      },
    });
  });

  it('redrives undeliverable bounce and complaint notifications to a dead-letter queue', () => {
    stateless.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: logicalId(desk.stateless.feedback.topic) },
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [logicalId(desk.stateless.feedbackSubscriptionDeadLetters.queue), 'Arn'],
        },
      },
    });
  });

  it('lets only its topic send to a subscription dead-letter queue', () => {
    stateless.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalId(desk.stateless.receivedSubscriptionDeadLetters.queue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'sns.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: logicalId(desk.stateless.receiving.topic) } } },
          }),
        ]),
      },
    });
  });

  it('encrypts the subscription dead-letter queues with the queues key, which SNS may use for both topics', () => {
    stateless.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: Match.absent(),
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(desk.stateless.node.findChild('QueuesKey')), 'Arn'] },
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
  });

  it('alarms on NumberOfNotificationsFailed of both topics', () => {
    stateless.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'NumberOfNotificationsFailed', Namespace: 'AWS/SNS' },
      2,
    );
  });

  it('alarms on the first message in each subscription dead-letter queue', () => {
    for (const queue of [
      desk.stateless.receivedSubscriptionDeadLetters.queue,
      desk.stateless.feedbackSubscriptionDeadLetters.queue,
    ]) {
      stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queue), 'QueueName'] } }],
      });
    }
  });

  it('shows failed deliveries and subscription dead letters on the dashboard', () => {
    const body = JSON.stringify(Object.values(stateless.findResources('AWS::CloudWatch::Dashboard'))[0]);
    expect(body).toMatch(/NumberOfNotificationsFailed.*MailReceived subscription DLQ/);
  });
});
