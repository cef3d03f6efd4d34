import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_CONFIG_TEXT,
  policyStatements,
  SYNTH_TIMEOUT,
  synthDesk,
  TEST_ACCOUNT,
  TEST_REGION,
} from './support.ts';

/** The fullest deployment: own rule set activated, TLS required, a Route 53 zone, an alarm email. */
let stateless: Template;

beforeAll(() => {
  ({ stateless } = synthDesk({
    configText: `${EXAMPLE_CONFIG_TEXT}    aliases: [help@acme.example]\n`,
    context: {
      region: TEST_REGION,
      account: TEST_ACCOUNT,
      ruleSetMode: 'create-and-activate',
      requireTls: true,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      alarmEmail: 'oncall@example.com',
      maxConcurrency: 3,
    },
  }));
}, SYNTH_TIMEOUT);

type Resource = { Properties: Record<string, unknown> };
const resources = (type: string): [string, Resource][] =>
  Object.entries(stateless.findResources(type)) as [string, Resource][];

describe('stateless stack', () => {
  it('scans for spam and viruses, requires TLS, and receives for the domain and the aliases', () => {
    stateless.hasResourceProperties('AWS::SES::ReceiptRule', {
      Rule: Match.objectLike({
        Name: 'postdesk-inbound',
        ScanEnabled: true,
        TlsPolicy: 'Require',
        Recipients: ['desk.example.com', 'help@acme.example'],
      }),
    });
  });

  it('stores raw mail under mail/ in the desk bucket and notifies an encrypted topic', () => {
    stateless.hasResourceProperties('AWS::SES::ReceiptRule', {
      Rule: Match.objectLike({
        Actions: [
          {
            S3Action: {
              BucketName: `postdesk-mail-${TEST_ACCOUNT}-${TEST_REGION}`,
              ObjectKeyPrefix: 'mail/',
              TopicArn: { Ref: Match.stringLikeRegexp('ReceivingNotifications') },
            },
          },
        ],
      }),
    });
    stateless.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: Match.stringLikeRegexp('mail received'),
      KmsMasterKeyId: Match.anyValue(),
    });
  });

  it('gives each work queue a dead-letter queue after 5 receives, kept 14 days', () => {
    const queues = resources('AWS::SQS::Queue');
    const dlqIds = queues
      .filter(([, queue]) => queue.Properties['MessageRetentionPeriod'] === 14 * 24 * 3600)
      .map(([id]) => id)
      .filter((id) => !id.includes('SubscriptionDeadLetters'));
    expect(dlqIds).toHaveLength(2);
    for (const dlq of dlqIds) {
      stateless.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      });
    }
  });

  it('encrypts every queue with KMS and refuses non-TLS access to it', () => {
    stateless.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() }, 6);
    stateless.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      6,
    );
  });

  it('gives every function a log group of its own with a retention', () => {
    const logGroups = Object.fromEntries(resources('AWS::Logs::LogGroup'));
    const functions = resources('AWS::Lambda::Function');
    expect(functions).toHaveLength(4);
    for (const [, fn] of functions) {
      const ref = (fn.Properties['LoggingConfig'] as { LogGroup?: { Ref?: string } }).LogGroup?.Ref ?? '';
      expect(logGroups[ref]?.Properties['RetentionInDays']).toBeGreaterThan(0);
    }
  });

  it('bounds the concurrency of both event sources and reports batch item failures', () => {
    stateless.resourcePropertiesCountIs(
      'AWS::Lambda::EventSourceMapping',
      { ScalingConfig: { MaximumConcurrency: 3 }, FunctionResponseTypes: ['ReportBatchItemFailures'] },
      2,
    );
  });

  it('makes each queue invisible for at least six times its consumer timeout', () => {
    const queues = Object.fromEntries(resources('AWS::SQS::Queue'));
    const functions = Object.fromEntries(resources('AWS::Lambda::Function'));
    for (const [, mapping] of resources('AWS::Lambda::EventSourceMapping')) {
      const queueId = (mapping.Properties['EventSourceArn'] as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
      const functionId = (mapping.Properties['FunctionName'] as { Ref: string }).Ref;
      const timeout = functions[functionId]?.Properties['Timeout'] as number;
      expect(queues[queueId]?.Properties['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * timeout);
    }
  });

  it('runs every function on arm64 with the newest Node.js runtime', () => {
    stateless.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      { Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      4,
    );
  });

  it("grants no Resource '*' to the desk functions (only to the acknowledged rule-set activation)", () => {
    const wildcards = policyStatements(stateless).filter(({ statement }) =>
      [statement.Resource].flat().includes('*'),
    );
    expect(wildcards.map(({ policy, statement }) => [policy, statement.Action])).toEqual([
      [
        expect.stringMatching(/^ReceivingActivationRole/),
        ['ses:DescribeActiveReceiptRuleSet', 'ses:DescribeReceiptRuleSet', 'ses:SetActiveReceiptRuleSet'],
      ],
    ]);
  });

  it('lets only the inbound function read raw mail', () => {
    const readers = policyStatements(stateless).filter(({ statement }) =>
      JSON.stringify(statement.Resource).includes('/mail/*'),
    );
    expect(readers.map(({ policy, statement }) => [policy, statement.Action])).toEqual([
      [expect.stringMatching(/^InboundRole/), 's3:GetObject'],
    ]);
  });

  it('lets only the notify function send mail, and only as the desk identity with the desk configuration set', () => {
    const senders = policyStatements(stateless).filter(({ statement }) =>
      JSON.stringify(statement.Action).includes('ses:Send'),
    );
    expect(senders).toHaveLength(1);
    expect(senders[0]?.policy).toMatch(/^NotifyRole/);
    expect(senders[0]?.statement.Resource).toEqual([
      {
        'Fn::Join': [
          '',
          [
            `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:configuration-set/`,
            { Ref: expect.stringMatching(/^FeedbackConfigurationSet/) },
          ],
        ],
      },
      {
        'Fn::Join': [
          '',
          [
            `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:identity/`,
            { Ref: expect.stringMatching(/^Identity/) },
          ],
        ],
      },
    ]);
  });

  it('gives the functions the bucket, key, secret and config through their environment', () => {
    stateless.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POSTDESK_BUCKET: `postdesk-mail-${TEST_ACCOUNT}-${TEST_REGION}`,
          POSTDESK_KMS_KEY_ID: Match.anyValue(),
          POSTDESK_SECRET_ID: Match.anyValue(),
          POSTDESK_CONFIG: Match.stringLikeRegexp('domain: desk.example.com'),
          POWERTOOLS_METRICS_NAMESPACE: 'Postdesk',
          POWERTOOLS_SERVICE_NAME: 'postdesk-inbound',
        }),
      },
    });
  });

  it('exposes the webhook through a Function URL whose token the function checks', () => {
    stateless.resourceCountIs('AWS::Lambda::Url', 1);
    stateless.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    stateless.hasOutput('WebhookUrl', {});
  });

  it('activates the rule set through the custom resource in create-and-activate mode', () => {
    stateless.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    stateless.hasResourceProperties('Custom::SesActiveReceiptRuleSet', {
      RuleSetName: 'postdesk-receipt-rules',
    });
  });

  it('verifies the domain with Easy DKIM and creates the MX and DKIM records in the zone', () => {
    stateless.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'desk.example.com' });
    stateless.hasResourceProperties('AWS::Route53::RecordSet', {
      Type: 'MX',
      Name: 'desk.example.com.',
      ResourceRecords: [`10 inbound-smtp.${TEST_REGION}.amazonaws.com`],
    });
    stateless.resourcePropertiesCountIs('AWS::Route53::RecordSet', { Type: 'CNAME' }, 3);
  });

  it('alarms on dead letters, errors, old messages and quarantine growth to the alarm topic', () => {
    const alarms = resources('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const byMetric = (name: string) => alarms.filter((alarm) => alarm['MetricName'] === name).length;
    expect(byMetric('ApproximateNumberOfMessagesVisible')).toBe(4);
    expect(byMetric('ApproximateAgeOfOldestMessage')).toBe(2);
    expect(byMetric('Errors')).toBe(3);
    expect(JSON.stringify(alarms)).toContain(
      'SELECT SUM(quarantined) FROM SCHEMA(\\"Postdesk\\", reason, service)',
    );
    for (const alarm of alarms) {
      expect(alarm['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^MonitoringAlarmTopic/) }]);
    }
    stateless.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    stateless.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});
