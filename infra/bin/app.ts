import { App, Validations } from 'aws-cdk-lib';
import { resolveAppInputs } from '../app-inputs.ts';
import { DeployInputError } from '../inputs.ts';
import { addPostdeskStacks, policyChecks } from '../postdesk-app.ts';

/**
 * `npx cdk synth|deploy` (cdk.json: `npx tsx infra/bin/app.ts`). Reads the desk config and the
 * deploy options, reports every problem at once and builds nothing if there is one: no region
 * (-c region, AWS_REGION or AWS_DEFAULT_REGION), no config of our own (the example is refused
 * unless -c allowExampleConfig=true), a bad value anywhere.
 */
const app = new App();

const main = (): void => {
  try {
    const { inputs, warnings } = resolveAppInputs({
      context: app.node.getAllContext(),
      env: process.env,
      cwd: process.cwd(),
    });
    for (const warning of warnings) console.error(warning);
    Validations.of(app).addPlugins(...policyChecks(app));
    addPostdeskStacks(app, inputs);
  } catch (error) {
    if (!(error instanceof DeployInputError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
};

main();
