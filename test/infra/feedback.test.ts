import type { CfnElement } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, it } from 'vitest';
import { type DeskApp, SYNTH_TIMEOUT, synthDesk, TEST_ACCOUNT, TEST_REGION } from './support.ts';

/** One synthesized app for the whole file (synthesis is the slow part). */
let stateless: Template;
let desk: DeskApp;
let configurationSetId: string;
let topicId: string;
let topicsKeyId: string;
let outboundQueueId: string;

const logicalId = (construct: IConstruct): string =>
  desk.stateless.getLogicalId(construct.node.defaultChild as CfnElement);

beforeAll(() => {
  ({ stateless, desk } = synthDesk());
  const { feedback, outboundQueue } = desk.stateless;
  configurationSetId = logicalId(feedback.configurationSet);
  topicId = logicalId(feedback.topic);
  topicsKeyId = logicalId(desk.stateless.node.findChild('TopicsKey'));
  outboundQueueId = logicalId(outboundQueue.queue);
}, SYNTH_TIMEOUT);

const configurationSetArn = () => ({
  'Fn::Join': [
    '',
    [`arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:configuration-set/`, { Ref: configurationSetId }],
  ],
});

describe('sending feedback (SES bounces and complaints)', () => {
  it('creates a configuration set named after the desk', () => {
    stateless.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: 'postdesk-outbound' });
  });

  it('publishes bounces and complaints of the configuration set, and nothing else, to the feedback topic', () => {
    stateless.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      ConfigurationSetName: { Ref: configurationSetId },
      EventDestination: {
        Enabled: true,
        MatchingEventTypes: ['bounce', 'complaint'],
        SnsDestination: { TopicARN: { Ref: topicId } },
      },
    });
  });

  it('encrypts the feedback topic with the topics key', () => {
    stateless.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: Match.stringLikeRegexp('bounces and complaints'),
      KmsMasterKeyId: { 'Fn::GetAtt': [topicsKeyId, 'Arn'] },
    });
  });

  it('lets SES publish to the topic only for this account and this configuration set, over TLS', () => {
    stateless.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: {
              StringEquals: {
                'AWS:SourceAccount': TEST_ACCOUNT,
                'AWS:SourceArn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      `:ses:${TEST_REGION}:${TEST_ACCOUNT}:configuration-set/`,
                      { Ref: configurationSetId },
                    ],
                  ],
                },
              },
            },
          }),
        ],
      },
    });
  });

  it('lets SES use the topics key for this account and its own sources only', () => {
    stateless.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowSesToPublishToEncryptedTopic',
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: '*',
            Condition: {
              StringEquals: {
                'aws:SourceAccount': TEST_ACCOUNT,
                'aws:SourceArn': Match.arrayWith([configurationSetArn()]),
              },
            },
          },
        ]),
      },
    });
  });

  it('subscribes the outbound queue to the feedback topic with raw message delivery', () => {
    stateless.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: { Ref: topicId },
      Endpoint: { 'Fn::GetAtt': [outboundQueueId, 'Arn'] },
      RawMessageDelivery: true,
      RedrivePolicy: Match.anyValue(),
    });
  });

  it('gives the notify function the configuration set through POSTDESK_SES_CONFIGURATION_SET', () => {
    stateless.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'postdesk-notify',
          POSTDESK_SES_CONFIGURATION_SET: { Ref: configurationSetId },
        }),
      },
    });
  });

  it('lets the notify function send with the configuration set as well as the identity', () => {
    stateless.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^NotifyRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: 'ses:SendEmail',
            Resource: Match.arrayWith([configurationSetArn()]),
          },
        ]),
      },
    });
  });

  it('makes the configuration set the default of the desk identity', () => {
    stateless.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'desk.example.com',
      ConfigurationSetAttributes: { ConfigurationSetName: { Ref: configurationSetId } },
    });
  });

  it('names the configuration set and the feedback topic in the stack outputs', () => {
    stateless.hasOutput('SesConfigurationSet', { Value: { Ref: configurationSetId } });
    stateless.hasOutput('FeedbackTopicArn', { Value: { Ref: topicId } });
  });
});
