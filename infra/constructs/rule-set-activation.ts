import { CustomResource, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { NODE_RUNTIME } from './desk-function.ts';

export interface RuleSetActivationProps {
  /** The rule set to make active. */
  readonly ruleSetName: string;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The provider, inline (no asset, no bundling). An account has one active receipt rule set per
 * region and CloudFormation has no resource for it (aws/aws-cdk#10321), hence this custom resource.
 * Create refuses to replace another active set: in a shared account that set is another team's
 * mail. Delete deactivates only if the active set is still ours; the usual AwsCustomResource pattern
 * calls SetActiveReceiptRuleSet with no name on delete, which switches off whatever is active.
 * A failure is always reported to CloudFormation, so a stack never waits an hour for a reply.
 */
const PROVIDER_CODE = `
const { SESClient, DescribeActiveReceiptRuleSetCommand, SetActiveReceiptRuleSetCommand } = require('@aws-sdk/client-ses');
const https = require('node:https');
const ses = new SESClient({});
const respond = (event, status, physicalId, reason) => new Promise((resolve, reject) => {
  const body = JSON.stringify({ Status: status, Reason: reason, PhysicalResourceId: physicalId, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId });
  const request = https.request(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (response) => { response.resume(); response.on('end', resolve); });
  request.on('error', reject);
  request.end(body);
});
const activeName = async () => (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name;
exports.handler = async (event) => {
  const name = event.ResourceProperties.RuleSetName;
  const physicalId = event.RequestType === 'Delete' ? event.PhysicalResourceId : 'active-receipt-rule-set:' + name;
  try {
    const active = await activeName();
    if (event.RequestType === 'Delete') {
      if (active === name) await ses.send(new SetActiveReceiptRuleSetCommand({}));
      console.log(JSON.stringify({ request: 'Delete', ruleSet: name, active: active ?? null, deactivated: active === name }));
    } else {
      const previous = event.OldResourceProperties?.RuleSetName;
      if (active !== undefined && active !== name && active !== previous) {
        throw new Error('the receipt rule set "' + active + '" is active in this region; activating "' + name + '" would replace it. Deploy with -c ruleSetMode=existing -c existingRuleSetName=' + active + ' to add the desk rule to it, or deactivate it first (aws ses set-active-receipt-rule-set)');
      }
      if (active !== name) await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: name }));
      console.log(JSON.stringify({ request: event.RequestType, ruleSet: name, previouslyActive: active ?? null }));
    }
    await respond(event, 'SUCCESS', physicalId, 'OK');
  } catch (error) {
    console.error(error);
    await respond(event, 'FAILED', physicalId, String(error && error.message ? error.message : error).slice(0, 900));
  }
};
`;

/** Makes our receipt rule set the active one (opt-in: `ruleSetMode=create-and-activate`). */
export class RuleSetActivation extends Construct {
  readonly resource: CustomResource;
  readonly provider: lambda.Function;

  constructor(scope: Construct, id: string, props: RuleSetActivationProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Activates the Postdesk receipt rule set, and deactivates it only while it is still active',
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ses:DescribeActiveReceiptRuleSet', 'ses:SetActiveReceiptRuleSet'],
        resources: ['*'],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ses:DescribeActiveReceiptRuleSet and ses:SetActiveReceiptRuleSet act on the account-wide active set and support no resource-level permissions; the role has these two actions only.',
    });

    this.provider = new lambda.Function(this, 'Provider', {
      description: 'Postdesk: activates the receipt rule set (custom resource provider)',
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(PROVIDER_CODE),
      timeout: Duration.seconds(30),
      memorySize: 256,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
    });
    this.provider.node.addDependency(logGroup);

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.provider.functionArn,
      resourceType: 'Custom::SesActiveReceiptRuleSet',
      properties: { RuleSetName: props.ruleSetName },
    });
    // The role's policy must exist before CloudFormation calls the provider.
    this.resource.node.addDependency(role);
  }
}
