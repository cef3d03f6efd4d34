import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DeployInputError, type RuleSetMode } from '../inputs.ts';
import { receiptRuleArn } from '../naming.ts';
import { inboundRegionProblem } from '../regions.ts';
import { RuleSetGuard } from './rule-set-guard.ts';
import { allowSesToPublishToTopicsOf } from './ses-topic-key.ts';

export interface MailReceivingProps {
  /** `create`: our own set, left inactive. `create-and-activate`: ours, activated. `existing`: add our rule to it. */
  readonly ruleSetMode: RuleSetMode;
  /** Our set's name, or the existing set's. */
  readonly ruleSetName: string;
  readonly ruleName: string;
  /** In `existing` mode, the rule ours goes after. @default - first in the set */
  readonly existingRuleAfter?: string | undefined;
  /** The desk domain and the aliases. */
  readonly recipients: readonly string[];
  /** Bounce mail that did not arrive over TLS. */
  readonly requireTls: boolean;
  /** Raw mail goes to `s3://<bucketName>/<objectKeyPrefix><SES messageId>`. */
  readonly bucketName: string;
  readonly objectKeyPrefix: string;
  /** Encrypts the notification topic. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Regions accepted besides the built-in list. @default [] */
  readonly additionalInboundRegions?: readonly string[];
}

/**
 * SES's "deliver to S3" action, written out instead of `aws-ses-actions.S3`: that one adds a
 * bucket-policy statement conditioned on `aws:SourceAccount` only, which would let any rule of the
 * account write into the desk bucket. The desk bucket's policy (stateful stack) is bound to this
 * rule's ARN instead, and the stack dependency makes it exist before the rule does.
 */
class DeliverToDeskBucket implements ses.IReceiptRuleAction {
  constructor(private readonly props: { bucketName: string; objectKeyPrefix: string; topic: sns.ITopic }) {}

  bind(): ses.ReceiptRuleActionConfig {
    return {
      s3Action: {
        bucketName: this.props.bucketName,
        objectKeyPrefix: this.props.objectKeyPrefix,
        topicArn: this.props.topic.topicArn,
      },
    };
  }
}

/**
 * Inbound mail: the receipt rule (desk domain and aliases, spam and virus scanning on, TLS when
 * asked), which stores raw mail in the desk bucket and announces it on an encrypted topic with the
 * receipt JSON (verdicts, envelope recipients). Where the rule lives is the platform team's choice:
 * its own inactive set, its own activated set, or the account's existing active set.
 */
export class MailReceiving extends Construct {
  readonly topic: sns.Topic;
  readonly rule: ses.ReceiptRule;
  readonly ruleArn: string;
  /** Our set's guard (and, in create-and-activate mode, its activation); none in existing mode. */
  readonly guard: RuleSetGuard | undefined;

  constructor(scope: Construct, id: string, props: MailReceivingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // The second line of the region guard: inputs are checked before synth, but a stack built by
    // other code must not slip through with a region SES cannot receive in.
    const regionProblem = inboundRegionProblem(
      Token.isUnresolved(stack.region) ? undefined : stack.region,
      props.additionalInboundRegions,
    );
    if (regionProblem !== undefined) {
      throw new DeployInputError([
        { source: 'stack', path: 'region', line: undefined, message: regionProblem },
      ]);
    }
    this.ruleArn = receiptRuleArn({
      partition: stack.partition,
      region: stack.region,
      account: stack.account,
      ruleSetName: props.ruleSetName,
      ruleName: props.ruleName,
    });

    this.topic = new sns.Topic(this, 'Notifications', {
      displayName: 'Postdesk: mail received (SES S3 action notifications)',
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // The topic has a policy (TLS only), so the default same-account permission is gone: SES may
    // publish, for this account and this rule only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowSesReceiptRuleToPublish',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.ruleArn } },
      }),
    );
    // Publishing to a KMS-encrypted topic needs a data key from the topic's key, for this rule only.
    allowSesToPublishToTopicsOf(props.encryptionKey, this.ruleArn);

    const ruleSet =
      props.ruleSetMode === 'existing'
        ? ses.ReceiptRuleSet.fromReceiptRuleSetName(this, 'ExistingRuleSet', props.ruleSetName)
        : new ses.ReceiptRuleSet(this, 'RuleSet', { receiptRuleSetName: props.ruleSetName });
    const after =
      props.ruleSetMode === 'existing' && props.existingRuleAfter !== undefined
        ? ses.ReceiptRule.fromReceiptRuleName(this, 'After', props.existingRuleAfter)
        : undefined;

    this.rule = new ses.ReceiptRule(this, 'Rule', {
      ruleSet,
      receiptRuleName: props.ruleName,
      recipients: [...props.recipients],
      // Without scanning there are no spam and virus verdicts, and the authenticate stage needs
      // them (CDK's default is false).
      scanEnabled: true,
      tlsPolicy: props.requireTls ? ses.TlsPolicy.REQUIRE : ses.TlsPolicy.OPTIONAL,
      enabled: true,
      ...(after !== undefined ? { after } : {}),
      actions: [
        new DeliverToDeskBucket({
          bucketName: props.bucketName,
          objectKeyPrefix: props.objectKeyPrefix,
          topic: this.topic,
        }),
      ],
    });
    // SES checks, when the rule is created, that it may publish to the topic.
    this.rule.node.addDependency(this.topic);

    if (props.ruleSetMode === 'existing') {
      // Not our set: nothing to activate, and nothing of it to guard beyond our rule.
      this.guard = undefined;
    } else {
      // Construct id 'Activation' as before in create-and-activate mode: an existing deployment's
      // custom resource is updated in place, never replaced (a replacement's delete would switch
      // off the set its create had just activated).
      this.guard = new RuleSetGuard(
        this,
        props.ruleSetMode === 'create-and-activate' ? 'Activation' : 'Teardown',
        {
          ruleSetName: props.ruleSetName,
          ruleNames: [props.ruleName],
          mode: props.ruleSetMode,
          logRetention: props.logRetention,
        },
      );
      // Activate a set that already holds our rule, never an empty one (an empty active set
      // rejects all mail of the region); and on delete, guard the set before the rule and the set
      // are deleted (CloudFormation deletes dependents first).
      this.guard.resource.node.addDependency(this.rule);
    }
  }
}
