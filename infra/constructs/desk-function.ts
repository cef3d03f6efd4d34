import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { bundleAliasArgs } from '../../scripts/bundle-options.ts';
import { acknowledgeWildcardResources } from '../checks/acknowledge.ts';
import { METRICS_NAMESPACE } from '../naming.ts';
import { LOCK_FILE, REPO_ROOT } from '../paths.ts';

/** The newest Node.js runtime aws-cdk-lib 2.276 knows (cdk-nag AwsSolutions-L1 asks for it). */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface DeskFunctionProps {
  /** The handler file; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  readonly logRetention: logs.RetentionDays;
  /** Powertools service name: the `service` dimension of the function's metrics. */
  readonly serviceName: string;
  /** Extra environment (POSTDESK_CONFIG, ...). The `use*` methods add the rest. */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * One Postdesk function: bundled locally by esbuild (never Docker), arm64, the newest Node runtime,
 * JSON logs in its own log group with a retention, and a role of its own that holds only what the
 * `use*` calls grant. Each `use*` call sets the environment variable and the permission together,
 * so a function never has a resource name without the right to use it, or the reverse.
 */
export class DeskFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DeskFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A role of our own instead of the default one, which carries the AWSLambdaBasicExecutionRole
    // managed policy (logs:* on every log group; cdk-nag AwsSolutions-IAM4).
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        // esbuild from node_modules; Docker is never tried (there is none on CI or on most laptops).
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // CommonJS dependencies (mailparser, ...) call require(); an ESM bundle has none of its own.
        banner:
          "import { createRequire as postdeskCreateRequire } from 'node:module'; const require = postdeskCreateRequire(import.meta.url);",
        // Pinned SDK clients from package-lock.json, tree-shaken, instead of the runtime's copy.
        bundleAwsSDK: true,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The stand-ins of scripts/bundle-options.ts, as `npm run build` uses them. Code splitting
        // is not possible here: NodejsFunction always passes esbuild `--outfile` (splitting needs
        // `--outdir`), so the CDK asset is the single-file bundle (`split: false` in scripts/build.ts).
        esbuildArgs: bundleAliasArgs(),
      },
    });
    this.function.node.addDependency(this.logGroup);
  }

  /**
   * POSTDESK_BUCKET, with s3:GetObject on the `read` prefixes, s3:GetObject and s3:PutObject on
   * the `readWrite` ones, and s3:DeleteObject on the `delete` ones (the rate limiter drops old
   * counters, the notify function its stored jobs); nothing else of the bucket.
   *
   * s3:ListBucket on the bucket makes a missing key a 404 instead of a 403, which the state
   * adapters rely on (a message id never seen before is the common case); the functions never
   * list. The grant is bound to the function's own prefixes by `s3:prefix`: a listing that names
   * a prefix must name one of them. IfExists, because S3's check of ListBucket for a GET of a
   * missing key is not a listing and names no prefix, and a plain StringLike would turn every
   * miss into a 403. The cost: a listing with no prefix at all (which no function makes) is not
   * refused by this condition; it would show key names, never content (GetObject stays bound to
   * the prefixes).
   */
  useBucket(
    bucket: s3.IBucket,
    access: {
      readonly read?: readonly string[];
      readonly readWrite?: readonly string[];
      readonly delete?: readonly string[];
    },
  ): void {
    this.function.addEnvironment('POSTDESK_BUCKET', bucket.bucketName);
    const objects = (prefixes: readonly string[] | undefined): string[] =>
      (prefixes ?? []).map((prefix) => bucket.arnForObjects(`${prefix}*`));
    const read = objects(access.read);
    const readWrite = objects(access.readWrite);
    const deletable = objects(access.delete);
    const prefixes = [
      ...new Set([...(access.read ?? []), ...(access.readWrite ?? []), ...(access.delete ?? [])]),
    ];
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLikeIfExists: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
      }),
    );
    if (read.length > 0) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: read }));
    }
    if (readWrite.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: readWrite }),
      );
    }
    if (deletable.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: deletable }),
      );
    }
    acknowledgeWildcardResources(
      this,
      [...new Set([...read, ...readWrite, ...deletable])],
      'Object keys under a desk prefix are message ids and ticket numbers known only at run time; the grant is limited to the prefixes this function touches, never the whole bucket.',
    );
  }

  /**
   * POSTDESK_KMS_KEY_ID, with what SSE-KMS and the secret need of the desk key: a data key for a
   * write (kms:GenerateDataKey) and kms:Decrypt for a read. No function calls kms:Encrypt.
   */
  useKey(key: kms.IKey): void {
    this.function.addEnvironment('POSTDESK_KMS_KEY_ID', key.keyArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
      }),
    );
  }

  /** POSTDESK_SECRET_ID, with the right to read the desk secret (not to change it). */
  useSecret(secret: Pick<secretsmanager.ISecret, 'secretArn'>): void {
    this.function.addEnvironment('POSTDESK_SECRET_ID', secret.secretArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: [secret.secretArn],
      }),
    );
  }

  /** POSTDESK_OUTBOUND_QUEUE_URL, with the right to send to it (the queue is KMS-encrypted). */
  useOutboundQueue(queue: sqs.IQueue, key: kms.IKey): void {
    this.function.addEnvironment('POSTDESK_OUTBOUND_QUEUE_URL', queue.queueUrl);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
        resources: [queue.queueArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
    );
  }

  /**
   * POSTDESK_SENDING_IDENTITY, with the right to send raw mail as that SES identity only. With a
   * configuration set, POSTDESK_SES_CONFIGURATION_SET too, and the right covers the set: SES
   * authorises a send that names a configuration set against both the identity and the set.
   */
  sendMailAs(
    identityName: string,
    identityArn: string,
    configurationSet?: { readonly name: string; readonly arn: string },
  ): void {
    this.function.addEnvironment('POSTDESK_SENDING_IDENTITY', identityName);
    if (configurationSet !== undefined) {
      this.function.addEnvironment('POSTDESK_SES_CONFIGURATION_SET', configurationSet.name);
    }
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: configurationSet === undefined ? [identityArn] : [identityArn, configurationSet.arn],
      }),
    );
  }
}
