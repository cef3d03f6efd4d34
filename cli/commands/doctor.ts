import { parseArgs } from 'node:util';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeActiveReceiptRuleSetCommand, SESClient } from '@aws-sdk/client-ses';
import { GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsErrorShape } from '../../adapters/aws/errors.ts';
import { SecretsManagerSecretSource } from '../../adapters/aws/secret-source.ts';
import { createGitLabAdmin, type GitLabAdmin } from '../../adapters/forges/gitlab/index.ts';
import { createLocalSecretSource } from '../../adapters/local/secret-file.ts';
import type { DeskConfig, ProjectConfig } from '../../core/config/schema.ts';
import { ConfigError, errorMessage, PostdeskError } from '../../core/errors.ts';
import type { DeskSecret } from '../../core/ports.ts';
import {
  awsNameOptions,
  clientConfig,
  DESK_NAMES,
  type DeskNameKey,
  type DeskNames,
  howToName,
  resolveDeskNames,
} from '../aws-names.ts';
import {
  type Command,
  type CommandIo,
  configPath,
  dataDir,
  loadConfigFile,
  writeJson,
  writeLine,
} from '../io.ts';

const usage = `Usage: postdesk doctor [--config FILE] [--aws [--stack-outputs FILE] ...] [--json]

Checks that the desk can work, one line per check (✓ or ✗), with what to do about each failure:
the config, the desk secret (and which keys it lacks), the forge (reachable, the bot token valid
with the api scope, each project visible with a sufficient role, the webhook set up), and with
--aws the SES identity, the active receipt rule, the bucket and the queues.

  --config FILE          the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --data-dir DIR         where the local secret is (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --aws                  check the AWS deployment too; the secret is then read from Secrets
                         Manager when its id is known (--secret-id, $POSTDESK_SECRET_ID, outputs)
  --stack-outputs FILE   names from \`cdk deploy --all --outputs-file FILE\` ($POSTDESK_STACK_OUTPUTS)
  --bucket NAME          the desk bucket ($POSTDESK_BUCKET)
  --queue-url URL        the inbound queue ($POSTDESK_INBOUND_QUEUE_URL); a queue name works too
  --dlq-url URL          the inbound dead-letter queue ($POSTDESK_INBOUND_DLQ_URL)
  --outbound-queue-url URL, --outbound-dlq-url URL   the outbound queues
  --ses-identity NAME    the SES domain identity (default: the config's domain)
  --rule-set NAME, --rule NAME   the receipt rule set and rule ($POSTDESK_RULE_SET, $POSTDESK_RULE)
  --secret-id ID         the Secrets Manager secret ($POSTDESK_SECRET_ID)
  --region REGION        AWS region (default AWS_REGION, AWS_DEFAULT_REGION or the profile's)
  --json                 [{"check","ok","detail","fix"}, ...]

Exit code: 0 when every check passes, 1 otherwise.`;

export interface DoctorCheck {
  check: string;
  ok: boolean;
  detail: string;
  /** What to do; null when the check passed. */
  fix: string | null;
}

const pass = (check: string, detail: string): DoctorCheck => ({ check, ok: true, detail, fix: null });
const fail = (check: string, detail: string, fix: string): DoctorCheck => ({ check, ok: false, detail, fix });

/** The role GitLab needs for creating issues in confidential projects and adding (internal) notes. */
const REPORTER = 20;
const DEVELOPER = 30;

const SECRET_EDIT = 'postdesk secret edit';

// --- config and secret ---------------------------------------------------------------------------

const checkConfig = async (path: string): Promise<{ check: DoctorCheck; config?: DeskConfig }> => {
  try {
    const config = await loadConfigFile(path);
    const projects = config.projects.map((project) => project.path).join(', ');
    return {
      check: pass(
        'config valid',
        `${path}: domain ${config.domain}, ${config.projects.length} project${config.projects.length === 1 ? '' : 's'} (${projects}), forge ${config.forge.kind === 'gitlab' ? `GitLab at ${config.forge.url}` : 'file'}`,
      ),
      config,
    };
  } catch (error) {
    if (error instanceof ConfigError) {
      return {
        check: fail(
          'config valid',
          error.message,
          'fix each problem listed (every one is reported with its line); `postdesk explain` checks a mail against it',
        ),
      };
    }
    if (error instanceof PostdeskError) {
      return { check: fail('config valid', error.message, 'create the config, or pass --config FILE') };
    }
    throw error;
  }
};

/**
 * Keys the desk needs with GitLab: all three. The file forge needs none (docs/SECRET.md); without a
 * reply_key, replies thread by Message-ID only, which the detail says.
 */
const requiredKeys = (config: DeskConfig | undefined): (keyof DeskSecret)[] =>
  config?.forge.kind === 'file' ? [] : ['forge_token', 'webhook_token', 'reply_key'];

const KEY_HELP: Record<keyof DeskSecret, string> = {
  forge_token: 'forge_token: a token of the bot user with the api scope',
  webhook_token: 'webhook_token: a long random string, also put in the GitLab webhook\'s "Secret token"',
  reply_key: 'reply_key: 16+ random characters (openssl rand -base64 24) that sign reply addresses',
};

const checkSecret = async (
  source: { get(): Promise<DeskSecret> },
  where: string,
  config: DeskConfig | undefined,
  editCommand: string,
): Promise<{ check: DoctorCheck; secret?: DeskSecret }> => {
  let secret: DeskSecret;
  try {
    secret = await source.get();
  } catch (error) {
    return {
      check: fail(
        'secret readable',
        `${where}: ${errorMessage(error)}`,
        `restore the key, or write the secret again: ${editCommand}`,
      ),
    };
  }
  const present = (Object.keys(KEY_HELP) as (keyof DeskSecret)[]).filter((key) => !!secret[key]);
  const missing = requiredKeys(config).filter((key) => !secret[key]);
  if (missing.length > 0) {
    return {
      check: fail(
        'secret readable',
        `${where}: missing ${missing.join(', ')}${present.length > 0 ? ` (has ${present.join(', ')})` : ''}`,
        `${editCommand} and add ${missing.map((key) => KEY_HELP[key]).join('; ')}`,
      ),
      secret,
    };
  }
  const advice = secret.reply_key
    ? ''
    : `; without reply_key replies thread by Message-ID only (${editCommand} adds one)`;
  return {
    check: pass('secret readable', `${where}: has ${present.join(', ') || 'no keys'}${advice}`),
    secret,
  };
};

// --- forge ---------------------------------------------------------------------------------------

const codeOf = (error: unknown): string | undefined =>
  error instanceof PostdeskError ? error.code : undefined;

const reachable = async (url: string): Promise<DoctorCheck> => {
  const probe = `${url.replace(/\/+$/, '')}/api/v4/version`;
  try {
    const response = await fetch(probe, { signal: AbortSignal.timeout(10_000), redirect: 'manual' });
    await response.body?.cancel();
    return pass('forge reachable', `GitLab at ${url} answered (HTTP ${response.status} for /api/v4/version)`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return fail(
      'forge reachable',
      `${probe}: ${cause?.code ?? cause?.message ?? errorMessage(error)}`,
      'check forge.url in the config, the network (proxy, VPN, firewall) and, for a private CA, NODE_EXTRA_CA_CERTS',
    );
  }
};

const checkToken = async (admin: GitLabAdmin): Promise<{ checks: DoctorCheck[]; username?: string }> => {
  const checks: DoctorCheck[] = [];
  let username: string;
  try {
    const user = await admin.currentUser();
    username = user.username;
    checks.push(
      pass(
        'forge token valid',
        `GET /user: @${user.username} (${user.name}${user.bot ? ', a bot user' : ''}, ${user.state})`,
      ),
    );
  } catch (error) {
    const code = codeOf(error);
    const fix =
      code === 'forge_forbidden'
        ? 'the token lacks the scope to read its own user: create a token with the api scope, then `postdesk secret edit` (forge_token)'
        : 'create a project or group access token (or a bot user’s personal token) with the api scope, then `postdesk secret edit` (forge_token)';
    checks.push(fail('forge token valid', `GET /user: ${errorMessage(error)}`, fix));
    return { checks };
  }
  try {
    const token = await admin.tokenScopes();
    if (token === undefined) {
      checks.push(
        pass(
          'forge token scopes',
          'this GitLab does not say (before 15.5); make sure the token has the api scope',
        ),
      );
    } else if (!token.scopes.includes('api')) {
      checks.push(
        fail(
          'forge token scopes',
          `token "${token.name}" has ${token.scopes.join(', ') || 'no scopes'}; the desk needs api (to create issues, notes and uploads)`,
          'create a new token with the api scope (scopes cannot be changed afterwards), then `postdesk secret edit` (forge_token)',
        ),
      );
    } else {
      const expiry = token.expiresAt === undefined ? 'does not expire' : `expires ${token.expiresAt}`;
      checks.push(pass('forge token scopes', `token "${token.name}": ${token.scopes.join(', ')}; ${expiry}`));
    }
  } catch (error) {
    checks.push(
      fail('forge token scopes', errorMessage(error), 'check the token in the desk secret (forge_token)'),
    );
  }
  return { checks, username };
};

const checkProject = async (
  admin: GitLabAdmin,
  project: ProjectConfig,
  bot: string,
): Promise<DoctorCheck> => {
  const name = `project ${project.path}`;
  const membership = `Project > Manage > Members: add @${bot} as Reporter (Developer recommended)`;
  try {
    const access = await admin.projectAccess(project.path);
    const moved =
      access.path.toLowerCase() === project.path.toLowerCase()
        ? ''
        : `; it now lives at ${access.path}: update projects[].path`;
    if (access.accessLevel < REPORTER) {
      return fail(
        name,
        `@${bot} is ${access.accessLevel === 0 ? 'not a member' : access.role}: it cannot see confidential issues or add internal notes${moved}`,
        membership,
      );
    }
    const role = access.role === 'custom' ? `custom role (level ${access.accessLevel})` : access.role;
    const advice =
      access.accessLevel < DEVELOPER
        ? '; enough for issues and notes, Developer recommended (reopening issues it did not open)'
        : '';
    if (moved) return fail(name, `@${bot} is ${role}${moved}`, `set projects[].path to ${access.path}`);
    return pass(name, `@${bot} is ${role}${advice}`);
  } catch (error) {
    if (codeOf(error) === 'forge_not_found') {
      return fail(
        name,
        `not found: GitLab answers 404 to @${bot} (the project does not exist, or the bot is not a member of a private project)`,
        `check projects[].path (the full path, e.g. group/project), and ${membership}`,
      );
    }
    return fail(name, errorMessage(error), membership);
  }
};

const normalizeUrl = (url: string): string => url.trim().replace(/\/+$/, '').toLowerCase();

const checkWebhook = async (
  admin: GitLabAdmin,
  project: ProjectConfig,
  expectedUrl: string | undefined,
): Promise<DoctorCheck> => {
  const name = `webhook ${project.path}`;
  const events = project.confidential ? 'Comments and Confidential comments' : 'Comments';
  const howTo = (url: string) =>
    `Settings > Webhooks > Add new webhook: URL ${url}, Secret token = the desk secret's webhook_token, trigger ${events} (and Issues events)`;
  let hooks: Awaited<ReturnType<GitLabAdmin['listHooks']>>;
  try {
    hooks = await admin.listHooks(project.path);
  } catch (error) {
    if (codeOf(error) === 'forge_forbidden') {
      return pass(
        name,
        `not checked: listing webhooks needs the Maintainer role; check by hand under ${howTo(expectedUrl ?? '<public_url>')}`,
      );
    }
    return fail(name, errorMessage(error), howTo(expectedUrl ?? '<public_url>'));
  }
  if (expectedUrl === undefined) {
    const withNotes = hooks
      .filter((hook) => hook.noteEvents || hook.confidentialNoteEvents)
      .map((hook) => hook.url);
    return fail(
      name,
      `public_url is not set in the config, so the desk's webhook cannot be told from others${withNotes.length > 0 ? ` (hooks with comment events: ${withNotes.join(', ')})` : ''}`,
      "set public_url in the config to the desk's public URL (the WebhookUrl stack output in AWS; locally a tunnel to the serve webhook port), then add the webhook: " +
        howTo('<public_url>'),
    );
  }
  const expected = normalizeUrl(expectedUrl);
  const ours = hooks.filter((hook) => {
    const url = normalizeUrl(hook.url);
    return url === expected || url.startsWith(`${expected}/`);
  });
  if (ours.length === 0) {
    return fail(
      name,
      `no webhook points at ${expectedUrl}${hooks.length > 0 ? ` (hooks: ${hooks.map((hook) => hook.url).join(', ')})` : ''}`,
      howTo(expectedUrl),
    );
  }
  const hook = ours.find(
    (candidate) => candidate.noteEvents && (!project.confidential || candidate.confidentialNoteEvents),
  );
  if (!hook) {
    const first = ours[0];
    const missing = [
      ...(first?.noteEvents ? [] : ['Comments']),
      ...(project.confidential && !first?.confidentialNoteEvents ? ['Confidential comments'] : []),
    ];
    return fail(
      name,
      `the webhook to ${expectedUrl} does not send ${missing.join(' or ')}${project.confidential ? ' (the project makes confidential issues: their comments are confidential note events)' : ''}`,
      `edit the webhook (Settings > Webhooks) and tick ${missing.join(' and ')}`,
    );
  }
  return pass(
    name,
    `#${hook.id} → ${hook.url} with comment events${hook.issuesEvents ? ' and issue events' : ''}`,
  );
};

// --- AWS -----------------------------------------------------------------------------------------

const awsFailure = (error: unknown): string => {
  const shape = awsErrorShape(error);
  return `${shape.name}${shape.httpStatusCode ? ` (${shape.httpStatusCode})` : ''}: ${shape.message}`;
};

const isCredentialsError = (error: unknown): boolean =>
  /Credentials|ExpiredToken|UnrecognizedClient|InvalidClientTokenId|TokenRefreshRequired/i.test(
    awsErrorShape(error).name,
  );

const CREDENTIALS_FIX =
  'configure AWS credentials for the desk account (AWS_PROFILE, `aws sso login`, or environment variables) and --region';

const missingName = (check: string, key: DeskNameKey): DoctorCheck =>
  fail(check, `${DESK_NAMES[key].what} is not known`, howToName(key));

export interface AwsClients {
  ses: SESClient;
  sesv2: SESv2Client;
  s3: S3Client;
  sqs: SQSClient;
}

const checkSesIdentity = async (clients: AwsClients, identity: string): Promise<DoctorCheck> => {
  const name = `SES identity ${identity}`;
  try {
    const output = await clients.sesv2.send(new GetEmailIdentityCommand({ EmailIdentity: identity }));
    const dkim = output.DkimAttributes?.Status ?? 'NOT_STARTED';
    if (output.VerifiedForSendingStatus === true) {
      return pass(name, `verified for sending; DKIM ${dkim}`);
    }
    return fail(
      name,
      `not verified yet (verification ${output.VerificationStatus ?? 'unknown'}, DKIM ${dkim})`,
      'publish the Easy DKIM CNAME records (stack outputs DkimRecord1..3) in the domain’s DNS; SES checks them for up to 72 hours',
    );
  } catch (error) {
    if (isCredentialsError(error)) return fail(name, awsFailure(error), CREDENTIALS_FIX);
    if (awsErrorShape(error).name === 'NotFoundException') {
      return fail(
        name,
        'SES has no such identity in this region',
        'deploy the stacks (`cdk deploy --all`, which creates it) or check --region',
      );
    }
    return fail(name, awsFailure(error), 'check that your credentials may ses:GetEmailIdentity');
  }
};

const checkReceiptRule = async (
  clients: AwsClients,
  names: DeskNames,
  domain: string,
): Promise<DoctorCheck> => {
  const name = 'SES receipt rule';
  const ruleSetName = names.ruleSetName;
  try {
    const output = await clients.ses.send(new DescribeActiveReceiptRuleSetCommand({}));
    const active = output.Metadata?.Name;
    if (active === undefined) {
      return fail(
        name,
        `no receipt rule set is active in ${names.region ?? 'this region'}: SES receives no mail at all`,
        `activate the desk's: aws ses set-active-receipt-rule-set --rule-set-name ${ruleSetName ?? '<ReceiptRuleSetName output>'} (or deploy with -c ruleSetMode=create-and-activate)`,
      );
    }
    const rules = output.Rules ?? [];
    const lowerDomain = domain.toLowerCase();
    const rule =
      names.ruleName === undefined
        ? rules.find((candidate) =>
            (candidate.Recipients ?? []).some((recipient) => {
              const value = recipient.toLowerCase();
              return (
                value === lowerDomain || value.endsWith(`@${lowerDomain}`) || value === `.${lowerDomain}`
              );
            }),
          )
        : rules.find((candidate) => candidate.Name === names.ruleName);
    if (!rule) {
      return fail(
        name,
        `the active rule set ${active} has no ${names.ruleName === undefined ? `rule for ${domain}` : `rule ${names.ruleName}`}${ruleSetName !== undefined && ruleSetName !== active ? ` (the desk's rule is in ${ruleSetName}, which is not active)` : ''}`,
        ruleSetName !== undefined && ruleSetName !== active
          ? `activate ${ruleSetName} (aws ses set-active-receipt-rule-set --rule-set-name ${ruleSetName}) if ${active} can be replaced, or deploy with -c ruleSetMode=existing -c existingRuleSetName=${active} to add the desk's rule to it`
          : `deploy with -c ruleSetMode=existing -c existingRuleSetName=${active} to add the desk's rule to the active set`,
      );
    }
    if (rule.Enabled === false) {
      return fail(
        name,
        `rule ${rule.Name ?? '?'} in ${active} is disabled`,
        `enable it: aws ses describe-receipt-rule --rule-set-name ${active} --rule-name ${rule.Name ?? '?'}, set Enabled, update-receipt-rule`,
      );
    }
    return pass(
      name,
      `rule ${rule.Name ?? '?'} in the active set ${active}: recipients ${(rule.Recipients ?? []).join(', ') || '(all)'}, scanning ${rule.ScanEnabled ? 'on' : 'off'}`,
    );
  } catch (error) {
    if (isCredentialsError(error)) return fail(name, awsFailure(error), CREDENTIALS_FIX);
    return fail(
      name,
      awsFailure(error),
      'check that your credentials may ses:DescribeActiveReceiptRuleSet, and the region receives mail',
    );
  }
};

const checkBucket = async (clients: AwsClients, bucket: string | undefined): Promise<DoctorCheck> => {
  if (bucket === undefined) return missingName('S3 bucket', 'bucket');
  const name = `S3 bucket ${bucket}`;
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return pass(name, 'exists and is readable');
  } catch (error) {
    if (isCredentialsError(error)) return fail(name, awsFailure(error), CREDENTIALS_FIX);
    const shape = awsErrorShape(error);
    if (shape.httpStatusCode === 404 || shape.name === 'NotFound' || shape.name === 'NoSuchBucket') {
      return fail(
        name,
        'no such bucket',
        `deploy the stateful stack, or check the name (${howToName('bucket')})`,
      );
    }
    if (shape.httpStatusCode === 403 || shape.name === 'Forbidden') {
      return fail(
        name,
        'access denied',
        'use credentials of the desk account that may s3:ListBucket on the desk bucket',
      );
    }
    return fail(name, awsFailure(error), 'check the bucket name and your credentials');
  }
};

const checkQueue = async (
  clients: AwsClients,
  label: string,
  key: DeskNameKey,
  value: string | undefined,
  deadLetter: boolean,
): Promise<DoctorCheck> => {
  const name = `SQS ${label}`;
  if (value === undefined) return missingName(name, key);
  try {
    const url = /^https?:\/\//.test(value)
      ? value
      : (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: value }))).QueueUrl;
    if (url === undefined) return fail(name, `no queue named ${value}`, howToName(key));
    const output = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const waiting = Number(output.Attributes?.ApproximateNumberOfMessages ?? 0);
    const inFlight = Number(output.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    if (deadLetter && waiting + inFlight > 0) {
      const total = waiting + inFlight;
      return fail(
        name,
        `${total} message${total === 1 ? '' : 's'} failed every retry and wait${total === 1 ? 's' : ''} here`,
        `find why in the function's log (see docs/OPERATIONS.md), fix it, then \`postdesk redrive --aws${key === 'outboundDlq' ? ' --queue outbound' : ''} --wait\``,
      );
    }
    return pass(name, `${url}: ${waiting} waiting, ${inFlight} in flight`);
  } catch (error) {
    if (isCredentialsError(error)) return fail(name, awsFailure(error), CREDENTIALS_FIX);
    const shape = awsErrorShape(error);
    if (/NonExistentQueue|QueueDoesNotExist/.test(shape.name)) {
      return fail(
        name,
        `${value} does not exist`,
        `deploy the stateless stack, or check the URL (${howToName(key)})`,
      );
    }
    return fail(
      name,
      awsFailure(error),
      'check that your credentials may sqs:GetQueueAttributes on the desk queues',
    );
  }
};

// --- the checklist -------------------------------------------------------------------------------

export interface DoctorOptions {
  configPath: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Run the AWS checks with these names. */
  aws?: DeskNames | undefined;
  /** SDK clients (tests); default ones use `aws.region` and the usual credentials. */
  clients?: Partial<AwsClients> | undefined;
  /** Told about each check as it is done, so a person sees progress. */
  onCheck?: ((check: DoctorCheck) => void) | undefined;
}

export const runDoctor = async (options: DoctorOptions): Promise<DoctorCheck[]> => {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck): void => {
    checks.push(check);
    options.onCheck?.(check);
  };

  const configResult = await checkConfig(options.configPath);
  add(configResult.check);
  const { config } = configResult;

  const names = options.aws;
  const awsSecretId = names?.secretId;
  const secretResult =
    awsSecretId === undefined
      ? await checkSecret(
          createLocalSecretSource({ dataDir: options.dataDir, env: options.env }),
          `local secret in ${options.dataDir}`,
          config,
          SECRET_EDIT,
        )
      : await checkSecret(
          new SecretsManagerSecretSource({
            client: new SecretsManagerClient(clientConfig(names ?? {})),
            secretId: awsSecretId,
          }),
          `Secrets Manager secret ${awsSecretId}`,
          config,
          `${SECRET_EDIT} --backend aws --secret-id ${awsSecretId}`,
        );
  add(secretResult.check);
  if (!config) return checks;

  if (config.forge.kind !== 'gitlab') {
    add(pass('forge', 'file forge: nothing to check (issues are written to .postdesk/forge/)'));
  } else {
    const url = config.forge.url;
    const reach = await reachable(url);
    add(reach);
    const token = secretResult.secret?.forge_token;
    if (reach.ok) {
      if (!token) {
        add(
          fail(
            'forge token valid',
            'the desk secret has no forge_token',
            `${awsSecretId === undefined ? SECRET_EDIT : `${SECRET_EDIT} --backend aws --secret-id ${awsSecretId}`} and add ${KEY_HELP.forge_token}`,
          ),
        );
      } else {
        const admin = createGitLabAdmin({
          url,
          token: async () => token,
          timeoutMs: 10_000,
          retry: { attempts: 2, baseMs: 100 },
        });
        const tokenResult = await checkToken(admin);
        for (const check of tokenResult.checks) add(check);
        if (tokenResult.username !== undefined) {
          const expectedHook = config.public_url ?? names?.webhookUrl;
          for (const project of config.projects) {
            const projectCheck = await checkProject(admin, project, tokenResult.username);
            add(projectCheck);
            if (projectCheck.ok) add(await checkWebhook(admin, project, expectedHook));
          }
        }
      }
    }
  }

  if (names) {
    const clients: AwsClients = {
      ses: options.clients?.ses ?? new SESClient(clientConfig(names)),
      sesv2: options.clients?.sesv2 ?? new SESv2Client(clientConfig(names)),
      s3: options.clients?.s3 ?? new S3Client(clientConfig(names)),
      sqs: options.clients?.sqs ?? new SQSClient(clientConfig(names)),
    };
    add(await checkSesIdentity(clients, names.sesIdentity ?? config.domain));
    add(await checkReceiptRule(clients, names, config.domain));
    add(await checkBucket(clients, names.bucket));
    add(await checkQueue(clients, 'inbound queue', 'inboundQueue', names.inboundQueue, false));
    add(await checkQueue(clients, 'inbound dead-letter queue', 'inboundDlq', names.inboundDlq, true));
    add(await checkQueue(clients, 'outbound queue', 'outboundQueue', names.outboundQueue, false));
    add(await checkQueue(clients, 'outbound dead-letter queue', 'outboundDlq', names.outboundDlq, true));
  }
  return checks;
};

const formatCheck = (check: DoctorCheck): string =>
  [
    `${check.ok ? '✓' : '✗'} ${check.check}: ${check.detail.split('\n').join('\n    ')}`,
    ...(check.fix ? [`    fix: ${check.fix}`] : []),
  ].join('\n');

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the config, secret, forge access and (--aws) the deployment',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        aws: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        ...awsNameOptions([
          'bucket',
          'secretId',
          'sesIdentity',
          'ruleSetName',
          'ruleName',
          'inboundQueue',
          'inboundDlq',
          'outboundQueue',
          'outboundDlq',
          'webhookUrl',
        ]),
      },
    });
    const checks = await runDoctor({
      configPath: configPath(values.config, io),
      dataDir: dataDir(values['data-dir'], io),
      env: io.env,
      aws: values.aws ? await resolveDeskNames(values, io) : undefined,
      onCheck: values.json ? undefined : (check) => writeLine(io.stdout, formatCheck(check)),
    });
    const failed = checks.filter((check) => !check.ok).length;
    if (values.json) writeJson(io.stdout, checks);
    else {
      writeLine(
        io.stdout,
        failed === 0
          ? `\nall ${checks.length} checks passed`
          : `\n${failed} of ${checks.length} checks failed; fix them from the top (later checks may depend on earlier ones)`,
      );
    }
    return failed === 0 ? 0 : 1;
  },
};
