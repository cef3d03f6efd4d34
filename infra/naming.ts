/**
 * Names both stacks agree on without a CloudFormation export. The bucket policy in the stateful
 * stack is bound to the receipt rule's ARN, which the stateless stack creates: deterministic names
 * let each side build the same ARN, and no export ties the stacks together (an export cannot change
 * while another stack imports it).
 */

/** The desk bucket: one per desk, account and region (S3 names are global). */
export const mailBucketName = (deskName: string, account: string, region: string): string =>
  `${deskName}-mail-${account}-${region}`;

/** The bucket that receives the desk bucket's server access logs. */
export const accessLogBucketName = (deskName: string, account: string, region: string): string =>
  `${deskName}-access-logs-${account}-${region}`;

/** The desk secret's name, given to `postdesk secret write --backend aws --secret-id`. */
export const deskSecretName = (deskName: string): string => `${deskName}/desk-secret`;

/** The KMS alias of the desk key. */
export const deskKeyAlias = (deskName: string): string => `alias/${deskName}`;

/**
 * The receipt rule's ARN, the value SES puts in `aws:SourceArn` when it writes to the bucket
 * (SES Developer Guide, "Give SES permission to write to an S3 bucket").
 */
export const receiptRuleArn = (props: {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly ruleSetName: string;
  readonly ruleName: string;
}): string =>
  `arn:${props.partition}:ses:${props.region}:${props.account}:receipt-rule-set/${props.ruleSetName}:receipt-rule/${props.ruleName}`;

/** Prefixes of the desk bucket (DESIGN.md "State"). SES writes `mail/`; the functions own the rest. */
export const BUCKET_PREFIXES = {
  mail: 'mail/',
  ledger: 'ledger/',
  tickets: 'tickets/',
  msgid: 'msgid/',
  quarantine: 'quarantine/',
  rateLimit: 'ratelimit/',
  outbox: 'outbox/',
  state: ['ledger/', 'tickets/', 'msgid/', 'quarantine/', 'ratelimit/', 'outbox/'],
} as const;

/**
 * What each function touches of the bucket, from its code. Inbound: raw mail, and every state
 * prefix (delivery ledger, ticket records and the message-id index, quarantine, rate-limit
 * counters, which it also deletes, and outbox/ for stored jobs and unsubscribes). Webhook: reads
 * ticket records, writes outbox/ (unsubscribes, oversized jobs). Notify: ticket records and the
 * message-id index (outbound mail and bounces), rate-limit counters and outbox/ (sent-mail marks,
 * stored jobs), deleting old counters and the jobs it has sent.
 */
export const BUCKET_ACCESS = {
  inbound: {
    read: [BUCKET_PREFIXES.mail],
    readWrite: BUCKET_PREFIXES.state,
    delete: [BUCKET_PREFIXES.rateLimit],
  },
  webhook: {
    read: [BUCKET_PREFIXES.tickets],
    readWrite: [BUCKET_PREFIXES.outbox],
  },
  notify: {
    readWrite: [
      BUCKET_PREFIXES.tickets,
      BUCKET_PREFIXES.msgid,
      BUCKET_PREFIXES.rateLimit,
      BUCKET_PREFIXES.outbox,
    ],
    delete: [BUCKET_PREFIXES.rateLimit, BUCKET_PREFIXES.outbox],
  },
} as const;

/** The functions' EMF namespace (Powertools Metrics). */
export const METRICS_NAMESPACE = 'Postdesk';
