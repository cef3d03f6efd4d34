import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_RETENTION_DAYS } from '../../infra/inputs.ts';
import { type DeskApp, SYNTH_TIMEOUT, synthDesk, TEST_ACCOUNT, TEST_REGION } from './support.ts';

/** One synthesized app for the whole file (synthesis is the slow part). */
let stateful: Template;
let desk: DeskApp;
let keyId: string;
let bucketId: string;

beforeAll(() => {
  ({ stateful, desk } = synthDesk());
  keyId = Object.keys(stateful.findResources('AWS::KMS::Key'))[0] ?? '';
  bucketId =
    Object.entries(stateful.findResources('AWS::S3::Bucket')).find(([, bucket]) =>
      JSON.stringify(bucket).includes('"SSEAlgorithm":"aws:kms"'),
    )?.[0] ?? '';
}, SYNTH_TIMEOUT);

describe('stateful stack', () => {
  it('encrypts the desk bucket with the desk key (SSE-KMS, bucket key)', () => {
    stateful.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
  });

  it('lets SES write raw mail only under mail/, for our account and our receipt rule', () => {
    stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowSesReceiptRuleToWriteRawMail',
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/mail/*']] },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': TEST_ACCOUNT,
                'aws:SourceArn': `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:receipt-rule-set/postdesk-receipt-rules:receipt-rule/postdesk-inbound`,
              },
            },
          },
        ]),
      },
    });
  });

  it('refuses every request to the desk bucket that is not over TLS', () => {
    stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('blocks all public access to both buckets', () => {
    const blockAll = {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    };
    stateful.resourcePropertiesCountIs('AWS::S3::Bucket', { PublicAccessBlockConfiguration: blockAll }, 2);
  });

  it('expires raw mail after the dead-letter retention, so a redrive still finds it', () => {
    const bucket = stateful.findResources('AWS::S3::Bucket')[bucketId] as {
      Properties: { LifecycleConfiguration: { Rules: { Prefix?: string; ExpirationInDays?: number }[] } };
    };
    const mailRule = bucket.Properties.LifecycleConfiguration.Rules.find((rule) => rule.Prefix === 'mail/');
    expect(mailRule?.ExpirationInDays).toBeGreaterThan(DEAD_LETTER_RETENTION_DAYS);
  });

  it('logs the desk bucket accesses to a separate log bucket', () => {
    stateful.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: {
        DestinationBucketName: { Ref: Match.stringLikeRegexp('AccessLogBucket') },
        LogFilePrefix: 'desk-bucket/',
      },
    });
  });

  it('rotates the desk key, and lets SES use it only for our account and our receipt rule', () => {
    stateful.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'ses.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': TEST_ACCOUNT,
                'aws:SourceArn': `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:receipt-rule-set/postdesk-receipt-rules:receipt-rule/postdesk-inbound`,
              },
            },
          }),
        ]),
      },
    });
  });

  it('encrypts the desk secret with the desk key and generates no value for it', () => {
    stateful.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      GenerateSecretString: Match.absent(),
    });
  });

  it('is protected from termination by default', () => {
    expect(desk.stateful.terminationProtection).toBe(true);
  });

  it('retains the key, both buckets and the secret when the stack is deleted', () => {
    for (const type of ['AWS::KMS::Key', 'AWS::S3::Bucket', 'AWS::SecretsManager::Secret']) {
      for (const resource of Object.values(stateful.findResources(type))) {
        expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      }
    }
  });

  it('outputs what the deployment guide needs', () => {
    for (const output of ['DeskBucketName', 'DeskKeyArn', 'DeskSecretArn', 'DeskSecretName']) {
      stateful.hasOutput(output, {});
    }
  });
});
