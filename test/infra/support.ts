import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type DeployInputs, readDeployInputs } from '../../infra/inputs.ts';
import { EXAMPLE_CONFIG } from '../../infra/paths.ts';
import { addPostdeskStacks, type PostdeskStacks, policyChecks } from '../../infra/postdesk-app.ts';

/**
 * Builds the desk app the way infra/bin/app.ts does (cdk.json's context and feature flags, the
 * policy checks), from a config text and deploy options. Asset bundling is skipped unless asked:
 * esbuild is slow on two cores, and one test checks bundling on its own.
 */

/** The context of cdk.json: the feature flags every real synth runs with. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

export const EXAMPLE_CONFIG_TEXT = readFileSync(EXAMPLE_CONFIG, 'utf8');

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'eu-west-1';

export interface DeskAppOptions {
  readonly configText?: string;
  /** Deploy options (CDK context). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Run esbuild for the functions. @default false */
  readonly bundle?: boolean;
  /** Where the cloud assembly goes. @default - a temporary directory */
  readonly outdir?: string;
}

export interface DeskApp extends PostdeskStacks {
  readonly app: App;
  readonly inputs: DeployInputs;
}

export const buildDeskApp = (options: DeskAppOptions = {}): DeskApp => {
  const app = new App({
    context: {
      ...CDK_JSON_CONTEXT,
      ...(options.bundle === true ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...(options.context ?? { region: TEST_REGION, account: TEST_ACCOUNT }),
    },
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
  });
  const inputs = readDeployInputs({
    configText: options.configText ?? EXAMPLE_CONFIG_TEXT,
    configFile: 'postdesk.config.yaml',
    context: app.node.getAllContext(),
  });
  Validations.of(app).addPlugins(...policyChecks(app));
  return { app, inputs, ...addPostdeskStacks(app, inputs) };
};

export interface DeskTemplates {
  readonly desk: DeskApp;
  readonly stateful: Template;
  readonly stateless: Template;
}

/** Synthesizes once (policy checks included: an unacknowledged finding throws here). */
export const synthDesk = (options: DeskAppOptions = {}): DeskTemplates => {
  const desk = buildDeskApp(options);
  return {
    desk,
    stateful: Template.fromStack(desk.stateful),
    stateless: Template.fromStack(desk.stateless),
  };
};

/** Every `AWS::IAM::Policy` statement of a template, with the logical id of its policy. */
export const policyStatements = (
  template: Template,
): { policy: string; statement: { Action: unknown; Resource: unknown } }[] =>
  Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([policy, resource]) => {
    const document = (resource as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties
      .PolicyDocument;
    return document.Statement.map((statement) => ({
      policy,
      statement: statement as { Action: unknown; Resource: unknown },
    }));
  });

/** A policy resource as a readable string: `<LogicalId.Arn>`, `<desk key>`, `bucket/mail/*`. */
export const flattenResource = (value: unknown): string => {
  if (typeof value === 'string') {
    return value.replace(`arn:aws:s3:::postdesk-mail-${TEST_ACCOUNT}-${TEST_REGION}`, 'bucket');
  }
  const node = value as Record<string, unknown>;
  const join = node['Fn::Join'] as [string, unknown[]] | undefined;
  if (join !== undefined) return flattenResource(join[1].map(flattenResource).join(join[0]));
  if (typeof node['Ref'] === 'string') return `<${node['Ref'].replace(/[0-9A-F]{8}$/, '')}>`;
  const getAtt = node['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt !== undefined) return `<${getAtt[0].replace(/[0-9A-F]{8}$/, '')}.${getAtt[1]}>`;
  const output = (node['Fn::GetStackOutput'] as { OutputName?: string } | undefined)?.OutputName ?? '';
  if (output.includes('StoreKey')) return '<desk key>';
  if (output.includes('StoreSecret')) return '<desk secret>';
  return JSON.stringify(value);
};

/** Every (action, resource) a role's policy grants, as sorted `action resource` lines. */
export const roleGrants = (template: Template, policyPrefix: string): string[] =>
  policyStatements(template)
    .filter(({ policy }) => policy.startsWith(policyPrefix))
    .flatMap(({ statement }) =>
      [statement.Action]
        .flat()
        .flatMap((action) =>
          [statement.Resource].flat().map((resource) => `${String(action)} ${flattenResource(resource)}`),
        ),
    )
    .sort();

/** Synthesis with the policy checks takes seconds, and longer on a busy machine. */
export const SYNTH_TIMEOUT = 180_000;
