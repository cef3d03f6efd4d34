import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, it } from 'vitest';
import { SYNTH_TIMEOUT, synthDesk, TEST_ACCOUNT, TEST_REGION } from './support.ts';

/** The two modes that never activate anything: the default one, and joining an existing set. */
let created: { stateful: Template; stateless: Template };
let existing: { stateful: Template; stateless: Template };

beforeAll(() => {
  created = synthDesk();
  existing = synthDesk({
    context: {
      region: TEST_REGION,
      account: TEST_ACCOUNT,
      ruleSetMode: 'existing',
      existingRuleSetName: 'platform-rules',
      existingRuleAfter: 'platform-first',
    },
  });
}, SYNTH_TIMEOUT);

describe('rule set modes', () => {
  it('creates its own rule set and leaves it inactive by default', () => {
    created.stateless.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    created.stateless.resourceCountIs('Custom::SesActiveReceiptRuleSet', 0);
  });

  it('guards its own set on delete in create mode', () => {
    created.stateless.resourceCountIs('Custom::SesReceiptRuleSetGuard', 1);
  });

  it('guards nothing in existing mode: the set is not ours', () => {
    existing.stateless.resourceCountIs('Custom::SesReceiptRuleSetGuard', 0);
  });

  it('adds the desk rule to the existing set, after the named rule, and activates nothing', () => {
    existing.stateless.resourceCountIs('AWS::SES::ReceiptRuleSet', 0);
    existing.stateless.resourceCountIs('Custom::SesActiveReceiptRuleSet', 0);
    existing.stateless.hasResourceProperties('AWS::SES::ReceiptRule', {
      RuleSetName: 'platform-rules',
      After: 'platform-first',
    });
  });

  it('binds the bucket policy to the desk rule inside the existing set', () => {
    existing.stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'ses.amazonaws.com' },
            Condition: {
              StringEquals: Match.objectLike({
                'aws:SourceArn': `arn:aws:ses:${TEST_REGION}:${TEST_ACCOUNT}:receipt-rule-set/platform-rules:receipt-rule/postdesk-inbound`,
              }),
            },
          }),
        ]),
      },
    });
  });
});
