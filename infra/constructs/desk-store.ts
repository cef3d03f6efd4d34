import { Duration, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  accessLogBucketName,
  BUCKET_PREFIXES,
  deskKeyAlias,
  deskSecretName,
  mailBucketName,
} from '../naming.ts';

export interface DeskStoreProps {
  /** Prefix of the bucket, key alias and secret names. */
  readonly deskName: string;
  /** The receipt rule's ARN: the only rule allowed to write raw mail to the bucket. */
  readonly receiptRuleArn: string;
  /** Days before raw mail under `mail/` expires. */
  readonly mailRetentionDays: number;
  /** Days before rate-limit counters under `ratelimit/` expire: longer than the longest window. */
  readonly rateLimitRetentionDays: number;
  /** Bucket versioning (old versions expire after `mailRetentionDays`). @default false */
  readonly versioned?: boolean;
  /** Days server access logs are kept. @default 365 */
  readonly accessLogRetentionDays?: number;
}

/**
 * The secret's value until `postdesk secret write` replaces it. CloudFormation needs a value to
 * create a secret; this one says what to do, and its one key is unknown to the desk secret schema,
 * so a function started before the secret is written fails at cold start naming `not_written_yet`
 * instead of calling GitLab without a token. Never change this text: CloudFormation writes a changed
 * value over the real secret on the next deploy.
 */
const SECRET_PLACEHOLDER = `# Postdesk desk secret: nothing written yet. Write it (YAML on stdin) with
#   postdesk secret write --backend aws --secret-id <DeskSecretArn output>
# or edit it with postdesk secret edit --backend aws --secret-id ... and delete the next line.
not_written_yet: true
`;

/**
 * The desk's state: its KMS key, the bucket (raw mail and everything the functions keep), the
 * bucket's access-log bucket, and the desk secret. Everything is retained when the stack goes away:
 * this is the part of the desk that cannot be recreated.
 */
export class DeskStore extends Construct {
  readonly key: kms.Key;
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: DeskStoreProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const versioned = props.versioned ?? false;

    this.key = new kms.Key(this, 'Key', {
      alias: deskKeyAlias(props.deskName),
      description: `Postdesk ${props.deskName}: raw mail, desk state and the desk secret`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // SES writes raw mail through S3 into a bucket whose default encryption is this key (SSE-KMS),
    // so S3 asks KMS for a data key on SES's behalf (kms:GenerateDataKey), and kms:Decrypt covers
    // the parts of a multipart upload of large mail (AWS re:Post Knowledge Center,
    // https://repost.aws/knowledge-center/s3-large-file-encryption-kms-key, checked 2026-12-02).
    // No kms:Encrypt: SSE-KMS never calls it. The SES page on receiving permissions
    // (https://docs.aws.amazon.com/ses/latest/dg/receiving-email-permissions.html, sections "Give
    // SES permission to use your AWS KMS key" and "Setting up IAM role permissions for Deliver to
    // S3 bucket action", checked 2026-12-02) covers the S3 action's own KmsKeyArn, SES encrypting
    // before the write, which the desk does not use; even there its role example grants
    // kms:GenerateDataKey* and nothing else. Only SES acting for this account and our receipt rule
    // (aws:SourceAccount, aws:SourceArn, as the bucket policy below and that page's bucket example):
    // no other account (confused deputy) and no other rule of ours.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowSesToStoreMailForThisAccount',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': props.receiptRuleArn },
        },
      }),
    );

    // Server access logs cannot be delivered to an SSE-KMS bucket: S3-managed keys here. It logs no
    // accesses of its own (cdk-nag's S1 knows a log target from the bucket that logs into it).
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      bucketName: accessLogBucketName(props.deskName, stack.account, stack.region),
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(props.accessLogRetentionDays ?? 365) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: mailBucketName(props.deskName, stack.account, stack.region),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned,
      // The class and its interface disagree on optional properties (`isWebsite`) under
      // exactOptionalPropertyTypes; the interface view is what the prop takes.
      serverAccessLogsBucket: this.accessLogBucket as s3.IBucket,
      serverAccessLogsPrefix: 'desk-bucket/',
      lifecycleRules: [
        {
          // Raw mail outlives the dead-letter queue's retention, so a redriven message still
          // finds its mail; after that, only what the pipeline kept (tickets, quarantine) stays.
          id: 'expire-raw-mail',
          prefix: BUCKET_PREFIXES.mail,
          expiration: Duration.days(props.mailRetentionDays),
        },
        {
          // Counters of past windows are never read again (core/state/rate-limit.ts).
          id: 'expire-rate-limit-counters',
          prefix: BUCKET_PREFIXES.rateLimit,
          expiration: Duration.days(props.rateLimitRetentionDays),
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(versioned
          ? [
              {
                id: 'expire-old-versions',
                noncurrentVersionExpiration: Duration.days(props.mailRetentionDays),
              },
            ]
          : []),
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // SES may write raw mail, and only there, and only for our account and our receipt rule: no
    // other account's rule, and no other rule of ours, can drop objects into the desk bucket.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowSesReceiptRuleToWriteRawMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${BUCKET_PREFIXES.mail}*`)],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': props.receiptRuleArn },
        },
      }),
    );

    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: deskSecretName(props.deskName),
      description: `Postdesk ${props.deskName}: forge token, webhook token and reply-token key (YAML). Written by postdesk secret write --backend aws.`,
      encryptionKey: this.key,
      secretStringValue: SecretValue.unsafePlainText(SECRET_PLACEHOLDER),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret holds a forge bot token and a webhook token that are issued by the forge, not by AWS; they are rotated in GitLab and written with postdesk secret write, so a rotation Lambda has nothing to rotate.',
    });
  }
}
