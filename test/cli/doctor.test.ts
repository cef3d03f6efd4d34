import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeActiveReceiptRuleSetCommand, SESClient } from '@aws-sdk/client-ses';
import { GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSecretFile } from '../../adapters/local/secret-file.ts';
import type { DoctorCheck } from '../../cli/commands/doctor.ts';
import { main } from '../../cli/main.ts';
import { tempWorkspace } from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';
import {
  ACCESS,
  FAKE_GITLAB_BOT_ID,
  type FakeGitLab,
  type FakeGitLabOptions,
  startFakeGitLab,
} from '../support/fake-gitlab.ts';

const PUBLIC_URL = 'https://hooks.desk.example.com/postdesk';
const REPLY_KEY = 'a-reply-key-of-enough-length';
const WEBHOOK_TOKEN = 'webhook-token-0123456789';

const gitlabConfig = (url: string, projects = ['acme/game']): string => `domain: desk.example.com
forge: { kind: gitlab, url: "${url}" }
public_url: ${PUBLIC_URL}
projects:
${projects.map((path, index) => `  - path: ${path}\n    key: p${index}\n`).join('')}`;

const fileConfig = `domain: desk.example.com
forge: { kind: file }
projects:
  - path: acme/game
    key: game
`;

/** The bot as Maintainer of acme/game (so it may list hooks), with the desk's webhook in place. */
const healthyGitLab = (extra: Partial<FakeGitLabOptions> = {}): FakeGitLabOptions => ({
  projects: [
    {
      path: 'acme/game',
      members: { [FAKE_GITLAB_BOT_ID]: ACCESS.maintainer },
      hooks: [{ url: PUBLIC_URL, note_events: true, confidential_note_events: true, issues_events: true }],
    },
  ],
  ...extra,
});

const gitlabs: FakeGitLab[] = [];
afterEach(async () => {
  await Promise.all(gitlabs.splice(0).map((gitlab) => gitlab.close()));
});

const workspace = async (config: string, secret?: string): Promise<string> => {
  const cwd = await tempWorkspace('doctor', config);
  if (secret !== undefined)
    await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).writeText(secret);
  return cwd;
};

const doctor = async (cwd: string, args: string[] = []) => {
  const io = bufferIo({ cwd, env: {} });
  const code = await main(['doctor', ...args], io.io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
};

const doctorJson = async (cwd: string, args: string[] = []) => {
  const result = await doctor(cwd, [...args, '--json']);
  return { code: result.code, checks: JSON.parse(result.stdout) as DoctorCheck[] };
};

const find = (checks: DoctorCheck[], name: string): DoctorCheck | undefined =>
  checks.find((check) => check.check === name);

const fullSecret = (token: string): string =>
  `forge_token: ${token}\nwebhook_token: ${WEBHOOK_TOKEN}\nreply_key: ${REPLY_KEY}\n`;

describe('postdesk doctor against GitLab', () => {
  it('passes every check with a good token, a Maintainer bot and the webhook in place', async () => {
    // Prepare
    const gitlab = await startFakeGitLab(healthyGitLab());
    gitlabs.push(gitlab);
    const cwd = await workspace(gitlabConfig(gitlab.url), fullSecret(gitlab.token));
    // Act
    const result = await doctor(cwd);
    const json = await doctorJson(cwd);
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('✗');
    for (const line of [
      '✓ config valid',
      '✓ secret readable',
      '✓ forge reachable',
      '✓ forge token valid: GET /user: @postdesk-bot',
      '✓ forge token scopes',
      '✓ project acme/game: @postdesk-bot is maintainer',
      `✓ webhook acme/game: #1 → ${PUBLIC_URL} with comment events and issue events`,
    ]) {
      expect(result.stdout).toContain(line);
    }
    expect(result.stdout).toMatch(/all 7 checks passed/);
    expect(json.code).toBe(0);
    expect(json.checks.map((check) => check.check)).toEqual([
      'config valid',
      'secret readable',
      'forge reachable',
      'forge token valid',
      'forge token scopes',
      'project acme/game',
      'webhook acme/game',
    ]);
    expect(json.checks.every((check) => check.ok && check.fix === null)).toBe(true);
  });

  it('fails a bad token with the fix: a new token with the api scope, written with postdesk secret edit', async () => {
    // Prepare
    const gitlab = await startFakeGitLab(healthyGitLab());
    gitlabs.push(gitlab);
    const cwd = await workspace(gitlabConfig(gitlab.url), fullSecret('glpat-not-a-real-token'));
    // Act
    const result = await doctor(cwd);
    const { checks } = await doctorJson(cwd);
    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ forge token valid: GET \/user: GitLab rejected the bot token \(401\)/);
    expect(result.stdout).toMatch(
      /fix: create a project or group access token .* with the api scope, then `postdesk secret edit` \(forge_token\)/,
    );
    expect(find(checks, 'forge token valid')).toMatchObject({
      ok: false,
      fix: expect.stringContaining('api scope'),
    });
    // The project checks need a valid token: they are not run on a bad one.
    expect(find(checks, 'project acme/game')).toBeUndefined();
    expect(result.stdout).toMatch(/1 of 4 checks failed/);
  });

  it('fails a token without the api scope', async () => {
    // Prepare
    const gitlab = await startFakeGitLab(
      healthyGitLab({
        tokens: [
          { value: 'glpat-read-only', userId: FAKE_GITLAB_BOT_ID, scopes: ['read_api'], name: 'postdesk-ro' },
        ],
      }),
    );
    gitlabs.push(gitlab);
    const cwd = await workspace(gitlabConfig(gitlab.url), fullSecret('glpat-read-only'));
    // Act
    const { code, checks } = await doctorJson(cwd);
    // Assess
    expect(code).toBe(1);
    expect(find(checks, 'forge token valid')?.ok).toBe(true);
    expect(find(checks, 'forge token scopes')).toEqual({
      check: 'forge token scopes',
      ok: false,
      detail: 'token "postdesk-ro" has read_api; the desk needs api (to create issues, notes and uploads)',
      fix: 'create a new token with the api scope (scopes cannot be changed afterwards), then `postdesk secret edit` (forge_token)',
    });
  });

  it('fails a project the bot cannot see, and says how to give it access', async () => {
    // Prepare
    const gitlab = await startFakeGitLab({
      projects: [...(healthyGitLab().projects ?? []), { path: 'acme/secret-plans', members: {} }],
    });
    gitlabs.push(gitlab);
    const cwd = await workspace(
      gitlabConfig(gitlab.url, ['acme/game', 'acme/secret-plans']),
      fullSecret(gitlab.token),
    );
    // Act
    const result = await doctor(cwd);
    const { checks } = await doctorJson(cwd);
    // Assess
    expect(result.code).toBe(1);
    expect(find(checks, 'project acme/game')?.ok).toBe(true);
    const hidden = find(checks, 'project acme/secret-plans');
    expect(hidden?.ok).toBe(false);
    expect(hidden?.detail).toMatch(/not found: GitLab answers 404 to @postdesk-bot/);
    expect(hidden?.fix).toMatch(
      /check projects\[\]\.path .* add @postdesk-bot as Reporter \(Developer recommended\)/,
    );
    expect(find(checks, 'webhook acme/secret-plans')).toBeUndefined();
  });

  it('fails a bot below Reporter, and cannot check webhooks without Maintainer (says to check by hand)', async () => {
    // Prepare
    const gitlab = await startFakeGitLab({
      projects: [
        { path: 'acme/game', members: { [FAKE_GITLAB_BOT_ID]: ACCESS.developer } },
        { path: 'acme/docs', visibility: 'internal', members: { [FAKE_GITLAB_BOT_ID]: ACCESS.guest } },
      ],
    });
    gitlabs.push(gitlab);
    const cwd = await workspace(
      gitlabConfig(gitlab.url, ['acme/game', 'acme/docs']),
      fullSecret(gitlab.token),
    );
    // Act
    const { checks } = await doctorJson(cwd);
    // Assess
    expect(find(checks, 'project acme/game')).toMatchObject({
      ok: true,
      detail: '@postdesk-bot is developer',
    });
    expect(find(checks, 'webhook acme/game')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^not checked: listing webhooks needs the Maintainer role/),
    });
    expect(find(checks, 'project acme/docs')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/is guest/),
    });
  });

  it('fails a webhook that is missing or lacks confidential comment events', async () => {
    // Prepare
    const gitlab = await startFakeGitLab({
      projects: [
        {
          path: 'acme/game',
          members: { [FAKE_GITLAB_BOT_ID]: ACCESS.maintainer },
          hooks: [{ url: `${PUBLIC_URL}/`, note_events: true }],
        },
        { path: 'acme/web', members: { [FAKE_GITLAB_BOT_ID]: ACCESS.maintainer }, hooks: [] },
      ],
    });
    gitlabs.push(gitlab);
    const cwd = await workspace(
      gitlabConfig(gitlab.url, ['acme/game', 'acme/web']),
      fullSecret(gitlab.token),
    );
    // Act
    const { checks } = await doctorJson(cwd);
    // Assess
    expect(find(checks, 'webhook acme/game')).toMatchObject({
      ok: false,
      fix: 'edit the webhook (Settings > Webhooks) and tick Confidential comments',
    });
    expect(find(checks, 'webhook acme/web')).toMatchObject({
      ok: false,
      detail: `no webhook points at ${PUBLIC_URL}`,
      fix: expect.stringContaining(`URL ${PUBLIC_URL}, Secret token = the desk secret's webhook_token`),
    });
  });

  it('fails an unreachable forge and a secret that lacks keys', async () => {
    // Prepare
    const gitlab = await startFakeGitLab();
    const url = gitlab.url;
    await gitlab.close();
    const cwd = await workspace(gitlabConfig(url), `forge_token: glpat-x\n`);
    // Act
    const { code, checks } = await doctorJson(cwd);
    // Assess
    expect(code).toBe(1);
    expect(find(checks, 'secret readable')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('missing webhook_token, reply_key (has forge_token)'),
      fix: expect.stringMatching(
        /^postdesk secret edit and add webhook_token: .*; reply_key: 16\+ random characters/,
      ),
    });
    expect(find(checks, 'forge reachable')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('ECONNREFUSED'),
    });
    expect(find(checks, 'forge token valid')).toBeUndefined();
  });
});

describe('postdesk doctor with the file forge', () => {
  it('has nothing to check in the forge, and needs no secret (a reply_key is advised)', async () => {
    // Prepare
    const cwd = await workspace(fileConfig);
    // Act
    const result = await doctor(cwd);
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('✓ forge: file forge: nothing to check');
    expect(result.stdout).toMatch(
      /✓ secret readable: .*has no keys; without reply_key replies thread by Message-ID only/,
    );
    expect(result.stdout).toMatch(/all 3 checks passed/);
  });

  it('reports every config problem and stops there', async () => {
    // Prepare
    const cwd = await workspace('domain: not a domain\nprojects: []\n');
    // Act
    const { code, checks } = await doctorJson(cwd);
    // Assess
    expect(code).toBe(1);
    expect(checks[0]).toMatchObject({ check: 'config valid', ok: false });
    expect(checks[0]?.detail).toMatch(/domain/);
    expect(checks[0]?.detail).toMatch(/projects/);
    expect(checks.map((check) => check.check)).toEqual(['config valid', 'secret readable']);
  });
});

describe('postdesk doctor --aws', () => {
  const ses = mockClient(SESClient);
  const sesv2 = mockClient(SESv2Client);
  const s3 = mockClient(S3Client);
  const sqs = mockClient(SQSClient);
  const secrets = mockClient(SecretsManagerClient);
  const queue = (name: string) => `https://sqs.eu-west-1.amazonaws.com/123456789012/${name}`;
  const outputs = {
    'postdesk-stateful': {
      DeskBucketName: 'postdesk-mail-123456789012-eu-west-1',
      DeskSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:postdesk/desk-secret-AbCdEf',
    },
    'postdesk-stateless': {
      SesIdentity: 'desk.example.com',
      ReceiptRuleSetName: 'postdesk',
      ReceiptRuleName: 'postdesk-inbound',
      InboundQueueUrl: queue('postdesk-inbound'),
      InboundDeadLetterQueueUrl: queue('postdesk-inbound-dlq'),
      OutboundQueueUrl: queue('postdesk-outbound'),
      OutboundDeadLetterQueueUrl: queue('postdesk-outbound-dlq'),
    },
  };

  const awsWorkspace = async (): Promise<string> => {
    const cwd = await workspace(fileConfig);
    await writeFile(join(cwd, 'outputs.json'), JSON.stringify(outputs));
    return cwd;
  };

  beforeEach(() => {
    for (const mock of [ses, sesv2, s3, sqs, secrets]) mock.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `reply_key: ${REPLY_KEY}\n` });
    sesv2.on(GetEmailIdentityCommand).resolves({
      VerifiedForSendingStatus: true,
      VerificationStatus: 'SUCCESS',
      DkimAttributes: { Status: 'SUCCESS' },
    });
    ses.on(DescribeActiveReceiptRuleSetCommand).resolves({
      Metadata: { Name: 'postdesk' },
      Rules: [
        { Name: 'postdesk-inbound', Enabled: true, Recipients: ['desk.example.com'], ScanEnabled: true },
      ],
    });
    s3.on(HeadBucketCommand).resolves({});
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    });
  });
  afterEach(() => {
    for (const mock of [ses, sesv2, s3, sqs, secrets]) mock.reset();
  });

  it('checks the SES identity, the active rule, the bucket and the queues named by the stack outputs', async () => {
    // Prepare
    const cwd = await awsWorkspace();
    // Act
    const { code, checks } = await doctorJson(cwd, [
      '--aws',
      '--stack-outputs',
      'outputs.json',
      '--region',
      'eu-west-1',
    ]);
    // Assess
    expect(checks.filter((check) => !check.ok)).toEqual([]);
    expect(code).toBe(0);
    expect(checks.map((check) => check.check)).toEqual([
      'config valid',
      'secret readable',
      'forge',
      'SES identity desk.example.com',
      'SES receipt rule',
      'S3 bucket postdesk-mail-123456789012-eu-west-1',
      'SQS inbound queue',
      'SQS inbound dead-letter queue',
      'SQS outbound queue',
      'SQS outbound dead-letter queue',
    ]);
    expect(find(checks, 'secret readable')?.detail).toMatch(/^Secrets Manager secret arn:aws:secretsmanager/);
    expect(find(checks, 'SES receipt rule')?.detail).toBe(
      'rule postdesk-inbound in the active set postdesk: recipients desk.example.com, scanning on',
    );
    expect(s3.commandCalls(HeadBucketCommand)[0]?.args[0].input).toEqual({
      Bucket: 'postdesk-mail-123456789012-eu-west-1',
    });
    expect(sqs.commandCalls(GetQueueAttributesCommand).map((call) => call.args[0].input.QueueUrl)).toEqual([
      queue('postdesk-inbound'),
      queue('postdesk-inbound-dlq'),
      queue('postdesk-outbound'),
      queue('postdesk-outbound-dlq'),
    ]);
  });

  it('fails an unverified identity, an inactive rule set, a missing bucket and a DLQ with messages, each with its fix', async () => {
    // Prepare
    const cwd = await awsWorkspace();
    sesv2.on(GetEmailIdentityCommand).resolves({
      VerifiedForSendingStatus: false,
      VerificationStatus: 'PENDING',
      DkimAttributes: { Status: 'PENDING' },
    });
    ses.on(DescribeActiveReceiptRuleSetCommand).resolves({
      Metadata: { Name: 'other-team' },
      Rules: [{ Name: 'their-rule', Enabled: true, Recipients: ['other.example.com'] }],
    });
    s3.on(HeadBucketCommand).rejects(
      Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }),
    );
    sqs.on(GetQueueAttributesCommand, { QueueUrl: queue('postdesk-inbound-dlq') }).resolves({
      Attributes: { ApproximateNumberOfMessages: '3', ApproximateNumberOfMessagesNotVisible: '0' },
    });
    // Act
    const result = await doctor(cwd, ['--aws', '--stack-outputs', 'outputs.json']);
    const { checks } = await doctorJson(cwd, ['--aws', '--stack-outputs', 'outputs.json']);
    // Assess
    expect(result.code).toBe(1);
    expect(find(checks, 'SES identity desk.example.com')).toMatchObject({
      ok: false,
      detail: 'not verified yet (verification PENDING, DKIM PENDING)',
      fix: expect.stringContaining('DkimRecord1..3'),
    });
    expect(find(checks, 'SES receipt rule')).toMatchObject({
      ok: false,
      detail:
        "the active rule set other-team has no rule postdesk-inbound (the desk's rule is in postdesk, which is not active)",
      fix: expect.stringContaining('-c ruleSetMode=existing -c existingRuleSetName=other-team'),
    });
    expect(find(checks, 'S3 bucket postdesk-mail-123456789012-eu-west-1')).toMatchObject({
      ok: false,
      detail: 'no such bucket',
    });
    expect(find(checks, 'SQS inbound dead-letter queue')).toMatchObject({
      ok: false,
      detail: '3 messages failed every retry and wait here',
      fix: expect.stringContaining('postdesk redrive --aws --wait'),
    });
    expect(find(checks, 'SQS inbound queue')?.ok).toBe(true);
    expect(result.stdout).toMatch(/✗ SQS inbound dead-letter queue: 3 messages/);
  });

  it('says how to name what it cannot find', async () => {
    // Prepare
    const cwd = await workspace(fileConfig, `reply_key: ${REPLY_KEY}\n`);
    // Act
    const { checks } = await doctorJson(cwd, ['--aws']);
    // Assess
    expect(find(checks, 'S3 bucket')).toEqual({
      check: 'S3 bucket',
      ok: false,
      detail: 'the desk bucket is not known',
      fix: 'pass --bucket or set POSTDESK_BUCKET, or pass --stack-outputs FILE (cdk deploy --outputs-file FILE; output DeskBucketName)',
    });
    expect(find(checks, 'secret readable')?.detail).toMatch(/^local secret in /);
  });
});
