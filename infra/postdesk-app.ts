import type { App, IPolicyValidationPlugin } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PostdeskChecks } from './checks/postdesk-checks.ts';
import type { DeployInputs } from './inputs.ts';
import { StatefulStack } from './stacks/stateful-stack.ts';
import { StatelessStack } from './stacks/stateless-stack.ts';

export interface PostdeskStacks {
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/** The policy checks every synth runs: cdk-nag's AwsSolutions pack and Postdesk's own rules. */
export const policyChecks = (app: App): IPolicyValidationPlugin[] => [
  new AwsSolutionsChecks(app),
  new PostdeskChecks(app),
];

/**
 * The desk's two stacks, `<deskName>-stateful` and `<deskName>-stateless`, in the checked region.
 * The stateless stack depends on the stateful one: the bucket policy that lets our receipt rule
 * write must exist before SES validates the rule.
 */
export const addPostdeskStacks = (app: App, inputs: DeployInputs): PostdeskStacks => {
  const { options } = inputs;
  const env = {
    region: options.region,
    ...(options.account !== undefined ? { account: options.account } : {}),
  };
  const stateful = new StatefulStack(app, `${options.deskName}-stateful`, { env, inputs });
  const stateless = new StatelessStack(app, `${options.deskName}-stateless`, {
    env,
    inputs,
    store: stateful.store,
  });
  stateless.addStackDependency(
    stateful,
    'the bucket policy must allow the receipt rule before SES validates it',
  );
  return { stateful, stateless };
};
