import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { GuardMode, GuardProperties } from '../handlers/rule-set-guard.ts';
import { LOCK_FILE, REPO_ROOT } from '../paths.ts';
import { NODE_RUNTIME } from './desk-function.ts';

export interface RuleSetGuardProps {
  /** Our rule set. */
  readonly ruleSetName: string;
  /** The rules our stack puts in it; any other rule in it is someone else's. */
  readonly ruleNames: readonly string[];
  /** `create-and-activate` also activates the set on create and update. */
  readonly mode: GuardMode;
  readonly logRetention: logs.RetentionDays;
}

const HANDLER_ENTRY = fileURLToPath(new URL('../handlers/rule-set-guard.ts', import.meta.url));

/**
 * Our receipt rule set's custom resource (infra/handlers/rule-set-guard.ts): in
 * `create-and-activate` mode it activates the set, in both modes it makes a stack delete safe,
 * deactivating the set only while it is active and holds nothing but our rules, and failing with
 * what to do otherwise. A Lambda of its own, arm64 on the newest Node runtime like the desk
 * functions, bundled from the repository by esbuild; the runtime's AWS SDK is used.
 */
export class RuleSetGuard extends Construct {
  readonly resource: CustomResource;
  readonly provider: NodejsFunction;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: RuleSetGuardProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        props.mode === 'create-and-activate'
          ? 'Activates the Postdesk receipt rule set, and deactivates it on delete only while it holds only the desk rules'
          : 'Deactivates the Postdesk receipt rule set on delete only while it is active and holds only the desk rules',
    });
    logGroup.grantWrite(this.role);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ses:DescribeActiveReceiptRuleSet',
          'ses:DescribeReceiptRuleSet',
          'ses:SetActiveReceiptRuleSet',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ses:DescribeActiveReceiptRuleSet, ses:DescribeReceiptRuleSet and ses:SetActiveReceiptRuleSet define no resource type in the Service Authorization Reference (Amazon SES), so a policy can only name Resource "*"; the role holds these three actions and its log group, nothing else.',
    });

    this.provider = new NodejsFunction(this, 'Provider', {
      entry: HANDLER_ENTRY,
      handler: 'handler',
      description: 'Postdesk: guards the receipt rule set (custom resource provider)',
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(30),
      memorySize: 256,
      role: this.role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        // The runtime's SDK v3 serves three SES calls; the bundle is the handler alone.
        bundleAwsSDK: false,
        minify: true,
        sourceMap: false,
      },
    });
    this.provider.node.addDependency(logGroup);

    const properties: Omit<GuardProperties, never> = {
      RuleSetName: props.ruleSetName,
      RuleNames: [...props.ruleNames],
      Mode: props.mode,
    };
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.functionArn,
      resourceType:
        props.mode === 'create-and-activate'
          ? 'Custom::SesActiveReceiptRuleSet'
          : 'Custom::SesReceiptRuleSetGuard',
      properties,
    });
    // The role's policy must exist before CloudFormation calls the provider, and while it deletes.
    this.resource.node.addDependency(this.role);
  }
}
