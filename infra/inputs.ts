import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../core/config/parse.ts';
import type { DeskConfig } from '../core/config/schema.ts';
import { ConfigError, PermanentError } from '../core/errors.ts';
import { inboundRegionProblem } from './regions.ts';

/**
 * Everything `cdk synth` needs besides the code: the desk config file and the deploy options from
 * CDK context (`cdk.json` or `-c key=value`). Both are checked before any construct is built, and
 * every problem, config and context alike, is reported in one error: a platform engineer fixes
 * them in one go instead of one per synth.
 */

/** How our receipt rule gets into the account's one active rule set per region. */
export const RULE_SET_MODES = ['create', 'create-and-activate', 'existing'] as const;
export type RuleSetMode = (typeof RULE_SET_MODES)[number];

/** SQS keeps a dead letter this long; raw mail must outlive it so a redrive still finds its object. */
export const DEAD_LETTER_RETENTION_DAYS = 14;

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Defaults of the context options, in one place so the guide and the code cannot disagree. */
export const DEPLOY_DEFAULTS = {
  deskName: 'postdesk',
  ruleSetMode: 'create',
  requireTls: false,
  terminationProtection: true,
  mailRetentionDays: 30,
  versioned: false,
  maxConcurrency: 2,
  batchSize: 5,
  inboundTimeoutSeconds: 120,
  logRetentionDays: 30,
  quarantineAlarmThreshold: 10,
} as const;

/** SES allows 100 recipients (domains or addresses) per receipt rule. */
const MAX_RULE_RECIPIENTS = 100;

/**
 * Lambda holds 4 KB of environment variables per function, keys and values together. The other
 * variables (ARNs, queue URL, Powertools settings) take well under 800 bytes.
 */
export const CONFIG_ENV_BUDGET_BYTES = 3300;

/** Context keys this app reads; a camelCase key outside this list is reported as a likely typo. */
export const CONTEXT_KEYS = [
  'config',
  'deskName',
  'region',
  'account',
  'ruleSetMode',
  'existingRuleSetName',
  'existingRuleAfter',
  'hostedZoneId',
  'hostedZoneName',
  'requireTls',
  'alarmEmail',
  'terminationProtection',
  'mailRetentionDays',
  'versioned',
  'maxConcurrency',
  'batchSize',
  'inboundTimeoutSeconds',
  'logRetentionDays',
  'quarantineAlarmThreshold',
  'additionalInboundRegions',
  'allowExampleConfig',
] as const;

export interface DeployOptions {
  /** Prefix of stack and resource names, so two desks can share an account. @default 'postdesk' */
  readonly deskName: string;
  /** A region where SES receives mail. */
  readonly region: string;
  /** Regions accepted besides the built-in list (AWS adds inbound regions over time). @default [] */
  readonly additionalInboundRegions: readonly string[];
  /** @default - the account of the deploying credentials, resolved at deploy time */
  readonly account: string | undefined;
  /** @default 'create' (our own rule set, left inactive) */
  readonly ruleSetMode: RuleSetMode;
  /** Our rule set's name, or the existing active set's name in `existing` mode. */
  readonly ruleSetName: string;
  /** Our receipt rule's name; with the set's name it makes the ARN the bucket policy is bound to. */
  readonly ruleName: string;
  /** In `existing` mode, the rule ours is placed after. @default - first in the set */
  readonly existingRuleAfter: string | undefined;
  /** A Route 53 public zone holding the desk domain: MX and DKIM records are then created. */
  readonly hostedZone: { readonly id: string; readonly name: string } | undefined;
  /** Bounce mail that did not arrive over TLS. @default false */
  readonly requireTls: boolean;
  /** Subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail: string | undefined;
  /** Termination protection on the stateful stack. @default true */
  readonly terminationProtection: boolean;
  /** Days before raw mail under `mail/` expires; longer than the dead-letter retention. @default 30 */
  readonly mailRetentionDays: number;
  /** Bucket versioning. @default false */
  readonly versioned: boolean;
  /** Most concurrent batches per queue, so a burst cannot flood the forge. @default 2 */
  readonly maxConcurrency: number;
  /** Messages per batch. @default 5 */
  readonly batchSize: number;
  /** Timeout of the inbound function; the queue's visibility timeout is six times it. @default 120 */
  readonly inboundTimeoutSeconds: number;
  /** @default 30 */
  readonly logRetentionDays: (typeof LOG_RETENTION_DAYS)[number];
  /** Quarantined mails per hour that raise the alarm. @default 10 */
  readonly quarantineAlarmThreshold: number;
}

export interface DeployInputs {
  readonly config: DeskConfig;
  /** The text handed to the functions as POSTDESK_CONFIG (the file itself, or a compact form of it). */
  readonly configText: string;
  readonly configFile: string;
  readonly options: DeployOptions;
}

/** One thing wrong with the deploy inputs, with where it is. */
export interface DeployProblem {
  /** The config file's name, or `cdk context`. */
  readonly source: string;
  readonly path: string;
  readonly line: number | undefined;
  readonly message: string;
}

/** The deploy inputs cannot be used; lists every problem at once. */
export class DeployInputError extends PermanentError {
  readonly problems: readonly DeployProblem[];
  constructor(problems: readonly DeployProblem[]) {
    const lines = problems.map(
      (p) => `  ${p.source}${p.line === undefined ? '' : `:${p.line}`} ${p.path}: ${p.message}`,
    );
    super(
      'deploy_inputs_invalid',
      `Postdesk cannot synthesize: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    );
    this.name = 'DeployInputError';
    this.problems = problems;
  }
}

export interface ReadDeployInputsProps {
  /** The config file's text. */
  readonly configText: string;
  /** Its name, for messages. */
  readonly configFile: string;
  /** All CDK context (`app.node.getAllContext()`). */
  readonly context: Readonly<Record<string, unknown>>;
  /**
   * Region and account from the environment, used when the context names none: the region from
   * AWS_REGION / AWS_DEFAULT_REGION (never CDK_DEFAULT_REGION alone), the account from
   * CDK_DEFAULT_ACCOUNT (infra/app-inputs.ts).
   */
  readonly environment?: { readonly region?: string | undefined; readonly account?: string | undefined };
}

const CONTEXT = 'cdk context';
const DESK_NAME = /^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$/;
const RULE_SET_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ACCOUNT = /^\d{12}$/;

/**
 * Reads and checks the config and the context. Throws DeployInputError with every problem found;
 * never builds anything.
 */
export const readDeployInputs = (props: ReadDeployInputsProps): DeployInputs => {
  const problems: DeployProblem[] = [];
  let config: DeskConfig | undefined;
  try {
    config = parseConfig(props.configText, props.configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map((p) => ({ source: props.configFile, ...p })));
  }

  const context = new ContextReader(props.context, problems);
  const options = readOptions(context, props.environment ?? {});
  problems.push(...unknownContextKeys(props.context));

  let configText = props.configText;
  if (config !== undefined && options !== undefined) {
    problems.push(...crossCheck(config, options));
    const compact = compactConfigText(props.configText);
    configText = byteLength(props.configText) <= CONFIG_ENV_BUDGET_BYTES ? props.configText : compact;
    if (byteLength(configText) > CONFIG_ENV_BUDGET_BYTES) {
      problems.push({
        source: props.configFile,
        path: '(file)',
        line: undefined,
        message: `the config is ${byteLength(compact)} bytes even without comments and layout; the functions receive it as an environment variable, which must stay under ${CONFIG_ENV_BUDGET_BYTES} bytes (Lambda allows 4 KB in all): shorten inline templates or move them to files`,
      });
    }
  }
  if (problems.length > 0 || config === undefined || options === undefined) {
    throw new DeployInputError(problems);
  }
  return { config, configText, configFile: props.configFile, options };
};

/**
 * Days rate-limit counters must live: the longest configured window (outbound limits count per day,
 * thank-you mails per 3 hours), rounded up, plus a day. Older counters are never read again.
 */
export const rateLimitRetentionDays = (config: DeskConfig): number => {
  const windows = [
    ...Object.keys(config.rate_limits.per_ticket),
    ...Object.keys(config.rate_limits.per_desk),
  ].map(Number);
  const longest = Math.max(86_400, ...windows);
  return Math.ceil(longest / 86_400) + 1;
};

/** The recipients of our receipt rule: the desk domain, and every alias outside it. */
export const ruleRecipients = (config: DeskConfig): string[] => {
  const domain = config.domain.toLowerCase();
  const recipients = new Set<string>([domain]);
  for (const project of config.projects) {
    for (const alias of project.aliases) {
      const lower = alias.toLowerCase();
      if (lower.slice(lower.lastIndexOf('@') + 1) !== domain) recipients.add(lower);
    }
  }
  return [...recipients];
};

const readOptions = (
  context: ContextReader,
  environment: NonNullable<ReadDeployInputsProps['environment']>,
): DeployOptions | undefined => {
  const before = context.problemCount;
  const deskName = context.string('deskName', DEPLOY_DEFAULTS.deskName, (value) =>
    DESK_NAME.test(value)
      ? undefined
      : 'must be 1-20 lowercase letters, digits or dashes, starting with a letter (it prefixes stack and bucket names)',
  );

  const additionalInboundRegions = context.list('additionalInboundRegions', (value) =>
    REGION.test(value) ? undefined : `"${value}" is not a region name such as eu-west-3`,
  );
  const regionFromContext = context.optionalString('region', (value) =>
    REGION.test(value) ? undefined : 'must be a region name such as eu-west-1',
  );
  // A malformed -c region is reported as such, not replaced by the CLI's region.
  const regionGiven = context.has('region');
  const region = regionGiven ? regionFromContext : nonEmpty(environment.region);
  if (!regionGiven || region !== undefined) {
    const regionProblem = inboundRegionProblem(region, additionalInboundRegions);
    if (regionProblem !== undefined) context.problem('region', regionProblem);
  }

  const account =
    context.optionalString('account', (value) =>
      ACCOUNT.test(value) ? undefined : 'must be a 12-digit AWS account id',
    ) ?? nonEmpty(environment.account);

  const ruleSetMode = context.oneOf('ruleSetMode', RULE_SET_MODES, DEPLOY_DEFAULTS.ruleSetMode);
  const existingRuleSetName = context.optionalString('existingRuleSetName', (value) =>
    RULE_SET_NAME.test(value)
      ? undefined
      : 'must be a receipt rule set name (letters, digits, ".", "_", "-"; at most 64 characters)',
  );
  const existingRuleAfter = context.optionalString('existingRuleAfter', (value) =>
    RULE_SET_NAME.test(value) ? undefined : 'must be a receipt rule name',
  );
  if (
    ruleSetMode === 'existing' &&
    existingRuleSetName === undefined &&
    !context.has('existingRuleSetName')
  ) {
    context.problem(
      'existingRuleSetName',
      'is required with ruleSetMode=existing: name the active rule set our rule joins (aws ses describe-active-receipt-rule-set)',
    );
  }
  if (ruleSetMode !== 'existing') {
    for (const key of ['existingRuleSetName', 'existingRuleAfter'] as const) {
      if (context.has(key)) {
        context.problem(
          key,
          `is only used with ruleSetMode=existing (ruleSetMode is ${ruleSetMode}); remove it or set ruleSetMode=existing`,
        );
      }
    }
  }

  const hostedZoneId = context.optionalString('hostedZoneId', (value) =>
    HOSTED_ZONE_ID.test(value)
      ? undefined
      : 'must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ',
  );
  const hostedZoneName = context.optionalString('hostedZoneName', (value) =>
    DOMAIN.test(value.replace(/\.$/, '')) ? undefined : 'must be a domain name such as example.com',
  );
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    const [given, missing] =
      hostedZoneId === undefined ? ['hostedZoneName', 'hostedZoneId'] : ['hostedZoneId', 'hostedZoneName'];
    if (!context.has(missing)) {
      context.problem(missing, `is required with ${given}: give both the zone id and its name, or neither`);
    }
  }

  const alarmEmail = context.optionalString('alarmEmail', (value) =>
    EMAIL.test(value) ? undefined : 'must be an email address such as oncall@example.com',
  );
  const requireTls = context.boolean('requireTls', DEPLOY_DEFAULTS.requireTls);
  const terminationProtection = context.boolean(
    'terminationProtection',
    DEPLOY_DEFAULTS.terminationProtection,
  );
  const versioned = context.boolean('versioned', DEPLOY_DEFAULTS.versioned);
  const mailRetentionDays = context.integer('mailRetentionDays', DEPLOY_DEFAULTS.mailRetentionDays, {
    min: DEAD_LETTER_RETENTION_DAYS + 1,
    max: 3650,
    why: `raw mail must outlive the ${DEAD_LETTER_RETENTION_DAYS}-day dead-letter retention, or a redriven message finds no mail`,
  });
  const maxConcurrency = context.integer('maxConcurrency', DEPLOY_DEFAULTS.maxConcurrency, {
    min: 2,
    max: 1000,
    why: 'SQS event sources accept 2 to 1000',
  });
  const batchSize = context.integer('batchSize', DEPLOY_DEFAULTS.batchSize, {
    min: 1,
    max: 10,
    why: 'SQS batches without a batching window hold 1 to 10 messages',
  });
  const inboundTimeoutSeconds = context.integer(
    'inboundTimeoutSeconds',
    DEPLOY_DEFAULTS.inboundTimeoutSeconds,
    {
      min: 10,
      max: 900,
      why: 'Lambda allows up to 900 seconds',
    },
  );
  const logRetentionDays = context.integer('logRetentionDays', DEPLOY_DEFAULTS.logRetentionDays, {
    min: 1,
    max: 3653,
    why: 'CloudWatch Logs retention',
  });
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    context.problem('logRetentionDays', `must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  const quarantineAlarmThreshold = context.integer(
    'quarantineAlarmThreshold',
    DEPLOY_DEFAULTS.quarantineAlarmThreshold,
    { min: 1, max: 100_000, why: 'quarantined mails per hour' },
  );

  if (context.problemCount > before || region === undefined) return undefined;
  return {
    deskName,
    region,
    additionalInboundRegions,
    account,
    ruleSetMode,
    ruleSetName: ruleSetMode === 'existing' ? (existingRuleSetName ?? '') : `${deskName}-receipt-rules`,
    ruleName: `${deskName}-inbound`,
    existingRuleAfter,
    hostedZone:
      hostedZoneId !== undefined && hostedZoneName !== undefined
        ? { id: hostedZoneId, name: hostedZoneName.replace(/\.$/, '').toLowerCase() }
        : undefined,
    requireTls,
    alarmEmail,
    terminationProtection,
    mailRetentionDays,
    versioned,
    maxConcurrency,
    batchSize,
    inboundTimeoutSeconds,
    logRetentionDays: logRetentionDays as DeployOptions['logRetentionDays'],
    quarantineAlarmThreshold,
  };
};

/** Problems that need both the config and the options. */
const crossCheck = (config: DeskConfig, options: DeployOptions): DeployProblem[] => {
  const problems: DeployProblem[] = [];
  const zone = options.hostedZone?.name;
  const domain = config.domain.toLowerCase();
  if (zone !== undefined && domain !== zone && !domain.endsWith(`.${zone}`)) {
    problems.push({
      source: CONTEXT,
      path: 'hostedZoneName',
      line: undefined,
      message: `zone ${zone} does not hold the desk domain ${config.domain}; give the zone the domain's MX record belongs in, or no zone and create the records by hand`,
    });
  }
  const recipients = ruleRecipients(config);
  if (recipients.length > MAX_RULE_RECIPIENTS) {
    problems.push({
      source: CONTEXT,
      path: '(receipt rule)',
      line: undefined,
      message: `the desk domain and the aliases make ${recipients.length} recipients; SES allows ${MAX_RULE_RECIPIENTS} per receipt rule: route aliases through the desk domain instead`,
    });
  }
  return problems;
};

/** The config without comments and layout (YAML 1.2 reads JSON), used only when the file is too big. */
const compactConfigText = (text: string): string => {
  try {
    return JSON.stringify(parseYaml(text));
  } catch {
    return text;
  }
};

const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8');

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** camelCase context keys we do not know: `ruleSetmode` must not silently fall back to a default. */
const unknownContextKeys = (context: Readonly<Record<string, unknown>>): DeployProblem[] =>
  Object.keys(context)
    .filter((key) => /^[a-z][A-Za-z0-9]*$/.test(key) && !(CONTEXT_KEYS as readonly string[]).includes(key))
    .map((key) => ({
      source: CONTEXT,
      path: key,
      line: undefined,
      message: `unknown option "${key}" (known: ${CONTEXT_KEYS.join(', ')})`,
    }));

/**
 * Typed reads of context values. Values from `-c key=value` arrive as strings, values from
 * cdk.json as JSON: both are accepted. A bad value is recorded and the default returned, so the
 * reading goes on and every problem is found in one pass.
 */
class ContextReader {
  constructor(
    private readonly context: Readonly<Record<string, unknown>>,
    private readonly problems: DeployProblem[],
  ) {}

  get problemCount(): number {
    return this.problems.length;
  }

  has(key: string): boolean {
    const value = this.context[key];
    return value !== undefined && value !== null && value !== '';
  }

  problem(key: string, message: string): void {
    this.problems.push({ source: CONTEXT, path: key, line: undefined, message });
  }

  optionalString(key: string, check: (value: string) => string | undefined): string | undefined {
    if (!this.has(key)) return undefined;
    const value = this.context[key];
    if (typeof value !== 'string') {
      this.problem(key, `must be a string (got ${JSON.stringify(value)})`);
      return undefined;
    }
    const message = check(value.trim());
    if (message !== undefined) {
      this.problem(key, `${message} (got "${value}")`);
      return undefined;
    }
    return value.trim();
  }

  string(key: string, fallback: string, check: (value: string) => string | undefined): string {
    return this.optionalString(key, check) ?? fallback;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    if (!this.has(key)) return fallback;
    const value = this.context[key];
    const match = allowed.find((candidate) => candidate === value);
    if (match === undefined) {
      this.problem(key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return match;
  }

  boolean(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.context[key];
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    this.problem(key, `must be true or false (got ${JSON.stringify(value)})`);
    return fallback;
  }

  integer(key: string, fallback: number, range: { min: number; max: number; why: string }): number {
    if (!this.has(key)) return fallback;
    const raw = this.context[key];
    const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problem(key, `must be a whole number (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    if (value < range.min || value > range.max) {
      this.problem(key, `must be between ${range.min} and ${range.max}: ${range.why} (got ${value})`);
      return fallback;
    }
    return value;
  }

  list(key: string, check: (value: string) => string | undefined): string[] {
    if (!this.has(key)) return [];
    const raw = this.context[key];
    const items =
      typeof raw === 'string'
        ? raw.split(',')
        : Array.isArray(raw) && raw.every((item) => typeof item === 'string')
          ? (raw as string[])
          : undefined;
    if (items === undefined) {
      this.problem(key, `must be a list of strings or a comma-separated string (got ${JSON.stringify(raw)})`);
      return [];
    }
    const values = items.map((item) => item.trim()).filter((item) => item !== '');
    const bad = values.map(check).filter((message): message is string => message !== undefined);
    for (const message of bad) this.problem(key, message);
    return bad.length > 0 ? [] : values;
  }
}
