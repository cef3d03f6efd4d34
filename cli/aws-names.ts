import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PermanentError } from '../core/errors.ts';
import type { CommandIo } from './io.ts';

/**
 * Where the operator commands (`doctor --aws`, `quarantine --aws`, `redrive --aws`) find the desk's
 * AWS resources: a flag, else an environment variable, else the stack outputs file that
 * `cdk deploy --outputs-file FILE` writes (`{"<stack>": {"DeskBucketName": "...", ...}}`, every
 * stack's outputs merged). The output keys are the CfnOutput ids of infra/stacks/.
 */

export const DESK_NAMES = {
  bucket: { flag: 'bucket', env: 'POSTDESK_BUCKET', output: 'DeskBucketName', what: 'the desk bucket' },
  kmsKeyId: {
    flag: 'kms-key-id',
    env: 'POSTDESK_KMS_KEY_ID',
    output: 'DeskKeyArn',
    what: 'the desk KMS key',
  },
  secretId: {
    flag: 'secret-id',
    env: 'POSTDESK_SECRET_ID',
    output: 'DeskSecretArn',
    what: 'the desk secret',
  },
  statePrefix: {
    flag: 'state-prefix',
    env: 'POSTDESK_STATE_PREFIX',
    output: '',
    what: 'the state key prefix',
  },
  sesIdentity: {
    flag: 'ses-identity',
    env: 'POSTDESK_SES_IDENTITY',
    output: 'SesIdentity',
    what: 'the SES identity',
  },
  ruleSetName: {
    flag: 'rule-set',
    env: 'POSTDESK_RULE_SET',
    output: 'ReceiptRuleSetName',
    what: 'the receipt rule set',
  },
  ruleName: { flag: 'rule', env: 'POSTDESK_RULE', output: 'ReceiptRuleName', what: 'the receipt rule' },
  inboundQueue: {
    flag: 'queue-url',
    env: 'POSTDESK_INBOUND_QUEUE_URL',
    output: 'InboundQueueUrl',
    what: 'the inbound queue',
  },
  inboundDlq: {
    flag: 'dlq-url',
    env: 'POSTDESK_INBOUND_DLQ_URL',
    output: 'InboundDeadLetterQueueUrl',
    what: 'the inbound dead-letter queue',
  },
  outboundQueue: {
    flag: 'outbound-queue-url',
    env: 'POSTDESK_OUTBOUND_QUEUE_URL',
    output: 'OutboundQueueUrl',
    what: 'the outbound queue',
  },
  outboundDlq: {
    flag: 'outbound-dlq-url',
    env: 'POSTDESK_OUTBOUND_DLQ_URL',
    output: 'OutboundDeadLetterQueueUrl',
    what: 'the outbound dead-letter queue',
  },
  webhookUrl: {
    flag: 'webhook-url',
    env: 'POSTDESK_WEBHOOK_URL',
    output: 'WebhookUrl',
    what: 'the webhook URL',
  },
} as const;

export type DeskNameKey = keyof typeof DESK_NAMES;
export type DeskNames = Partial<Record<DeskNameKey, string>> & { region?: string | undefined };

/** `parseArgs` options for the names a command takes, plus `--stack-outputs` and `--region`. */
export const awsNameOptions = <K extends DeskNameKey>(keys: readonly K[]) => {
  const options: Record<string, { type: 'string' }> = {
    'stack-outputs': { type: 'string' },
    region: { type: 'string' },
  };
  for (const key of keys) options[DESK_NAMES[key].flag] = { type: 'string' };
  return options;
};

/** The stack outputs file, every stack's outputs merged into one map. */
export const readStackOutputs = async (path: string): Promise<Record<string, string>> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PermanentError(
      'stack_outputs_unreadable',
      `--stack-outputs ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): write it with \`cdk deploy --all --outputs-file ${path}\``,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PermanentError(
      'stack_outputs_invalid',
      `${path} is not JSON (expected cdk deploy --outputs-file output)`,
    );
  }
  const merged: Record<string, string> = {};
  if (typeof parsed !== 'object' || parsed === null) return merged;
  for (const outputs of Object.values(parsed)) {
    if (typeof outputs !== 'object' || outputs === null) continue;
    for (const [key, value] of Object.entries(outputs)) if (typeof value === 'string') merged[key] = value;
  }
  return merged;
};

/** Resolves the names: flag, then environment, then stack outputs (`--stack-outputs`, or $POSTDESK_STACK_OUTPUTS). */
export const resolveDeskNames = async (
  flags: Readonly<Record<string, unknown>>,
  io: CommandIo,
): Promise<DeskNames> => {
  const file = stringFlag(flags['stack-outputs']) ?? io.env['POSTDESK_STACK_OUTPUTS'];
  const outputs = file === undefined ? {} : await readStackOutputs(resolve(io.cwd, file));
  const names: DeskNames = {};
  for (const [key, source] of Object.entries(DESK_NAMES) as [
    DeskNameKey,
    (typeof DESK_NAMES)[DeskNameKey],
  ][]) {
    const value =
      stringFlag(flags[source.flag]) ??
      nonEmpty(io.env[source.env]) ??
      (source.output ? outputs[source.output] : undefined);
    if (value !== undefined) names[key] = value;
  }
  const region =
    stringFlag(flags['region']) ?? nonEmpty(io.env['AWS_REGION']) ?? nonEmpty(io.env['AWS_DEFAULT_REGION']);
  if (region !== undefined) names.region = region;
  return names;
};

/** How to give a name that is missing, for error messages and doctor fixes. */
export const howToName = (key: DeskNameKey): string => {
  const source = DESK_NAMES[key];
  return `pass --${source.flag} or set ${source.env}${source.output ? `, or pass --stack-outputs FILE (cdk deploy --outputs-file FILE; output ${source.output})` : ''}`;
};

/** A name the command cannot do without: a PermanentError that says how to give it. */
export const requireName = (names: DeskNames, key: DeskNameKey): string => {
  const value = names[key];
  if (value === undefined) {
    throw new PermanentError('aws_name_missing', `${DESK_NAMES[key].what} is not known: ${howToName(key)}`);
  }
  return value;
};

/** SDK client config: the region when one was given, else the SDK's own resolution (profile...). */
export const clientConfig = (names: DeskNames): { region?: string } =>
  names.region === undefined ? {} : { region: names.region };

const stringFlag = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value;
