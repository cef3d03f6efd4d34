import { Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { allowSesToPublishToTopicsOf } from './ses-topic-key.ts';

export interface SendingFeedbackProps {
  /** Names the configuration set (`<deskName>-outbound`) and the topic. */
  readonly deskName: string;
  /** Encrypts the feedback topic (the stack's topics key). */
  readonly encryptionKey: kms.IKey;
}

/** The SES events the notify function acts on; SES publishes nothing else to the topic. */
export const FEEDBACK_EVENTS = [ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT] as const;

/**
 * Sending feedback: the configuration set the desk sends with, whose event destination publishes
 * bounces and complaints to an encrypted topic. Whoever subscribes to the topic (the outbound queue)
 * gets SES's event JSON with `eventType` Bounce or Complaint (core/outbound/feedback.ts).
 *
 * `addEventDestination` writes the topic policy itself: `sns:Publish` for `ses.amazonaws.com`,
 * conditioned on `aws:SourceAccount` (this account) and `aws:SourceArn` (this configuration set).
 * With that policy and the TLS-only statement, SES is the only service principal that may publish.
 */
export class SendingFeedback extends Construct {
  readonly configurationSet: ses.ConfigurationSet;
  /** `arn:<partition>:ses:<region>:<account>:configuration-set/<name>`: what SendEmail authorises against. */
  readonly configurationSetArn: string;
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: SendingFeedbackProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: `${props.deskName}-outbound`,
    });
    this.configurationSetArn = stack.formatArn({
      service: 'ses',
      resource: 'configuration-set',
      resourceName: this.configurationSet.configurationSetName,
    });

    this.topic = new sns.Topic(this, 'Topic', {
      displayName: `Postdesk ${props.deskName}: bounces and complaints (SES events)`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // SES publishes as a service: the topic's key must let it make data keys, for this
    // configuration set only (the key also serves the receipt rule's topic and the alarm topic).
    allowSesToPublishToTopicsOf(props.encryptionKey, this.configurationSetArn);

    this.configurationSet.addEventDestination('BouncesAndComplaints', {
      destination: ses.EventDestination.snsTopic(this.topic),
      events: [...FEEDBACK_EVENTS],
    });
  }
}
