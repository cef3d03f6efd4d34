import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DeployInputError, type DeployInputs, type DeployProblem, readDeployInputs } from './inputs.ts';
import { EXAMPLE_CONFIG } from './paths.ts';

/**
 * What infra/bin/app.ts reads before it builds anything: which config file, whether it may be the
 * example, and the region from the environment. Kept apart from the CDK App so tests can run it
 * with any context, environment and working directory.
 */

export const DEFAULT_CONFIG = 'postdesk.config.yaml';

/** The example config's domain: a config still naming it was copied and never edited. */
export const EXAMPLE_DOMAIN = 'desk.example.com';

const CONTEXT = 'cdk context';

export interface ResolveAppInputsProps {
  /** All CDK context (`app.node.getAllContext()`). */
  readonly context: Readonly<Record<string, unknown>>;
  /** The process environment: AWS_REGION, AWS_DEFAULT_REGION, POSTDESK_CONFIG, CDK_DEFAULT_ACCOUNT. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `postdesk.config.yaml` is looked for. */
  readonly cwd: string;
}

export interface AppInputs {
  readonly inputs: DeployInputs;
  /** Said on stderr, the synth goes on (the example allowed by -c allowExampleConfig=true). */
  readonly warnings: readonly string[];
}

/**
 * The region the stacks go to when `-c region` is not given: AWS_REGION, then AWS_DEFAULT_REGION,
 * as the AWS CLI and SDKs read them. CDK_DEFAULT_REGION alone never decides: the CDK CLI fills it
 * from whatever profile is current, and a desk must not land in a region nobody chose.
 */
export const regionFromEnvironment = (env: ResolveAppInputsProps['env']): string | undefined => {
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION'] as const) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
};

/** Reads and checks everything; throws DeployInputError listing every problem, config and context. */
export const resolveAppInputs = (props: ResolveAppInputsProps): AppInputs => {
  const problems: DeployProblem[] = [];
  const warnings: string[] = [];
  const contextProblem = (path: string, message: string): void => {
    problems.push({ source: CONTEXT, path, line: undefined, message });
  };

  const allowExample = readAllowExample(props.context.allowExampleConfig, contextProblem);
  const file = chooseConfigFile(props, contextProblem);
  const configFile = file === undefined ? DEFAULT_CONFIG : relative(props.cwd, file.path) || file.path;
  const configText = file === undefined ? undefined : readFileSync(file.path, 'utf8');

  if (file !== undefined && configText !== undefined) {
    const example =
      file.fallback ||
      resolve(file.path) === resolve(EXAMPLE_CONFIG) ||
      domainOf(configText) === EXAMPLE_DOMAIN;
    if (example && !allowExample) {
      contextProblem(
        'config',
        file.fallback
          ? `no ${DEFAULT_CONFIG} in ${props.cwd} (nor -c config=PATH, nor $POSTDESK_CONFIG). Fix: cp infra/example.config.yaml ${DEFAULT_CONFIG} and make it yours; to synthesize the example anyway (never deploy it), pass -c allowExampleConfig=true`
          : `${configFile} is the example config (domain ${EXAMPLE_DOMAIN}). Fix: set your own domain, forge and projects in it; to synthesize the example anyway (never deploy it), pass -c allowExampleConfig=true`,
      );
    } else if (example) {
      warnings.push(
        `postdesk: synthesizing the example config ${configFile} (-c allowExampleConfig=true); never deploy it.`,
      );
    }
  }

  let inputs: DeployInputs | undefined;
  try {
    inputs = readDeployInputs({
      configText: configText ?? readFileSync(EXAMPLE_CONFIG, 'utf8'),
      configFile,
      context: props.context,
      environment: { region: regionFromEnvironment(props.env), account: props.env['CDK_DEFAULT_ACCOUNT'] },
    });
  } catch (error) {
    if (!(error instanceof DeployInputError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || inputs === undefined) throw new DeployInputError(problems);
  return { inputs, warnings };
};

const readAllowExample = (value: unknown, problem: (path: string, message: string) => void): boolean => {
  if (value === undefined || value === null || value === '' || value === false || value === 'false')
    return false;
  if (value === true || value === 'true') return true;
  problem('allowExampleConfig', `must be true or false (got ${JSON.stringify(value)})`);
  return false;
};

/** -c config=PATH, then $POSTDESK_CONFIG, then ./postdesk.config.yaml, else the example (`fallback`). */
const chooseConfigFile = (
  props: ResolveAppInputsProps,
  problem: (path: string, message: string) => void,
): { path: string; fallback: boolean } | undefined => {
  const fromContext: unknown = props.context.config;
  if (fromContext !== undefined && typeof fromContext !== 'string') {
    problem('config', `must be a file path (got ${JSON.stringify(fromContext)})`);
    return undefined;
  }
  const chosen = fromContext ?? props.env['POSTDESK_CONFIG'];
  if (chosen !== undefined && chosen !== '') {
    const path = resolve(props.cwd, chosen);
    if (existsSync(path)) return { path, fallback: false };
    problem(
      'config',
      `config file ${chosen} (from ${fromContext === undefined ? '$POSTDESK_CONFIG' : '-c config'}) does not exist`,
    );
    return undefined;
  }
  const path = resolve(props.cwd, DEFAULT_CONFIG);
  return existsSync(path) ? { path, fallback: false } : { path: EXAMPLE_CONFIG, fallback: true };
};

const domainOf = (text: string): string | undefined => {
  try {
    const parsed: unknown = parseYaml(text);
    const domain = (parsed as { domain?: unknown } | null)?.domain;
    return typeof domain === 'string' ? domain.trim().toLowerCase() : undefined;
  } catch {
    return undefined;
  }
};
