import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Lets SES publish to SNS topics encrypted with `key`: SNS makes a data key from the topic's key on
 * behalf of the publisher, so the key policy must name SES, here for this account only. Every SES
 * topic of a stack (receipt notifications, sending feedback) adds the same statement with the same
 * Sid, so the key policy holds it once (CDK drops identical statements) and each construct still
 * says what it needs.
 */
export const allowSesToPublishToTopicsOf = (key: kms.IKey): void => {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowSesToPublishToEncryptedTopic',
      principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(key).account } },
    }),
  );
};
