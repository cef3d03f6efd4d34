import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DeskStore } from '../constructs/desk-store.ts';
import { type DeployInputs, rateLimitRetentionDays } from '../inputs.ts';
import { deskSecretName, receiptRuleArn } from '../naming.ts';

export interface StatefulStackProps extends StackProps {
  readonly inputs: DeployInputs;
}

/**
 * What must survive a `cdk destroy`: the desk key, the bucket and the secret, all retained, behind
 * termination protection unless `-c terminationProtection=false`.
 */
export class StatefulStack extends Stack {
  readonly store: DeskStore;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    const { inputs, ...stackProps } = props;
    const { options } = inputs;
    super(scope, id, {
      terminationProtection: options.terminationProtection,
      description: `Postdesk ${options.deskName}: state (KMS key, bucket, desk secret); retained on delete`,
      ...stackProps,
    });
    this.store = new DeskStore(this, 'Store', {
      deskName: options.deskName,
      receiptRuleArn: receiptRuleArn({
        partition: this.partition,
        region: this.region,
        account: this.account,
        ruleSetName: options.ruleSetName,
        ruleName: options.ruleName,
      }),
      mailRetentionDays: options.mailRetentionDays,
      rateLimitRetentionDays: rateLimitRetentionDays(inputs.config),
      versioned: options.versioned,
    });

    new CfnOutput(this, 'DeskBucketName', {
      value: this.store.bucket.bucketName,
      description: 'The desk bucket: raw mail under mail/, quarantine under quarantine/',
    });
    new CfnOutput(this, 'AccessLogBucketName', {
      value: this.store.accessLogBucket.bucketName,
      description: 'Server access logs of the desk bucket',
    });
    new CfnOutput(this, 'DeskKeyArn', {
      value: this.store.key.keyArn,
      description: 'The desk KMS key (bucket, secret)',
    });
    new CfnOutput(this, 'DeskSecretArn', {
      value: this.store.secret.secretArn,
      description: 'postdesk secret write --backend aws --secret-id <this>',
    });
    new CfnOutput(this, 'DeskSecretName', {
      value: deskSecretName(options.deskName),
      description: 'The desk secret by name (same secret as DeskSecretArn)',
    });
  }
}
