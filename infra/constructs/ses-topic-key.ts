import { Lazy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/** The SES resources that publish to topics encrypted with a key, per key. */
const sourcesByKey = new WeakMap<kms.IKey, string[]>();

/**
 * Lets SES publish to SNS topics encrypted with `key` on behalf of `sourceArn` (our receipt rule,
 * our configuration set): SNS makes a data key from the topic's key for the publisher, so the key
 * policy must name SES. Every SES topic of a stack calls this with its own source, and the key
 * policy holds one statement for all of them, bound to this account and to exactly those ARNs
 * (aws:SourceArn), so no other rule or configuration set of the account can use the key.
 */
export const allowSesToPublishToTopicsOf = (key: kms.IKey, sourceArn: string): void => {
  const known = sourcesByKey.get(key);
  if (known !== undefined) {
    if (!known.includes(sourceArn)) known.push(sourceArn);
    return;
  }
  const sources = [sourceArn];
  sourcesByKey.set(key, sources);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowSesToPublishToEncryptedTopic',
      principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: {
        StringEquals: {
          'aws:SourceAccount': Stack.of(key).account,
          'aws:SourceArn': Lazy.list({ produce: () => [...sources] }),
        },
      },
    }),
  );
};
