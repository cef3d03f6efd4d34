import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { DeployInputError, readDeployInputs } from '../inputs.ts';
import { EXAMPLE_CONFIG } from '../paths.ts';
import { addPostdeskStacks, policyChecks } from '../postdesk-app.ts';

/**
 * `npx cdk synth|deploy` (cdk.json: `npx tsx infra/bin/app.ts`). Reads the desk config and the
 * deploy options, reports every problem at once and builds nothing if there is one.
 */
const app = new App();

const DEFAULT_CONFIG = 'postdesk.config.yaml';

/** Which config file to read: -c config=PATH, then $POSTDESK_CONFIG, then ./postdesk.config.yaml, else the example. */
const chooseConfigFile = (): { path: string; problem?: string; example?: true } => {
  const fromContext: unknown = app.node.tryGetContext('config');
  if (fromContext !== undefined && typeof fromContext !== 'string') {
    return {
      path: DEFAULT_CONFIG,
      problem: `cdk context config: must be a file path (got ${JSON.stringify(fromContext)})`,
    };
  }
  const chosen = fromContext ?? process.env['POSTDESK_CONFIG'];
  if (chosen !== undefined && chosen !== '') {
    const path = resolve(chosen);
    return existsSync(path)
      ? { path }
      : {
          path,
          problem: `config file ${chosen} (from ${fromContext === undefined ? '$POSTDESK_CONFIG' : '-c config'}) does not exist`,
        };
  }
  const path = resolve(DEFAULT_CONFIG);
  return existsSync(path) ? { path } : { path: EXAMPLE_CONFIG, example: true };
};

const main = (): void => {
  const file = chooseConfigFile();
  if (file.problem !== undefined) {
    console.error(`Postdesk cannot synthesize:\n  ${file.problem}`);
    process.exitCode = 1;
    return;
  }
  if (file.example) {
    console.error(
      `postdesk: no ${DEFAULT_CONFIG} here, synthesizing the example ${relative(process.cwd(), EXAMPLE_CONFIG)}; copy it to ${DEFAULT_CONFIG} and edit it before deploying.`,
    );
  }
  try {
    const inputs = readDeployInputs({
      configText: readFileSync(file.path, 'utf8'),
      configFile: relative(process.cwd(), file.path) || file.path,
      context: app.node.getAllContext(),
      environment: { region: process.env['CDK_DEFAULT_REGION'], account: process.env['CDK_DEFAULT_ACCOUNT'] },
    });
    Validations.of(app).addPlugins(...policyChecks(app));
    addPostdeskStacks(app, inputs);
  } catch (error) {
    if (!(error instanceof DeployInputError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
};

main();
