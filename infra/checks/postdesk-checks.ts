import type { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, type NagPackProps, rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * Rules cdk-nag ships but registers in no pack, which this desk wants checked anyway. URL1: a
 * Function URL without IAM auth is public; the one Postdesk has (the forge webhook) is acknowledged
 * where it is made, and any other would fail the synth.
 */
export class PostdeskChecks extends NagPack {
  readonly name = 'Postdesk';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'Postdesk';
  }

  protected checkResource(node: CfnResource): void {
    this.applyRule({
      ruleSuffixOverride: 'URL1',
      info: 'The Lambda Function URL does not use IAM authentication (AuthType NONE).',
      explanation:
        'Anyone on the internet can invoke a Function URL without IAM auth; the function must authenticate every request itself.',
      level: NagMessageLevel.ERROR,
      rule: rules.lambda.LambdaFunctionUrlAuth,
      node,
    });
  }
}
