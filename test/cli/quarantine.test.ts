import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../adapters/aws/s3-object-store.ts';
import { createFileObjectStore } from '../../adapters/local/object-store.ts';
import { LocalSecretFile } from '../../adapters/local/secret-file.ts';
import { startLocalDesk } from '../../cli/commands/serve.ts';
import { main } from '../../cli/main.ts';
import { parseConfig } from '../../core/config/parse.ts';
import type { QuarantineEntry } from '../../core/state/quarantine.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { fakeBucket } from '../aws/s3-fakes.ts';
import { CUSTOMER, DESK, filesIn, noDns, smtpClient, tempWorkspace } from '../local/support.ts';
import { bufferIo } from '../support/cli-io.ts';
import { deskState } from '../support/desk-state.ts';
import { type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';

/**
 * `postdesk quarantine` end to end on the local store: mail is quarantined by a real run (SMTP in,
 * the pipeline decides), the operator fixes the cause, then lists, shows and releases it.
 */

const configText = (
  options: { require?: string; path?: string; forge?: string } = {},
): string => `domain: ${DESK}
mailbox: support
forge: ${options.forge ?? '{ kind: file }'}
authentication: { require: [] }
projects:
  - path: ${options.path ?? 'acme/game'}
    key: game
${options.require ? `    authentication: { require: [${options.require}] }\n` : ''}`;

const gitlabs: FakeGitLab[] = [];
afterEach(async () => {
  await Promise.all(gitlabs.splice(0).map((gitlab) => gitlab.close()));
});

/** Runs one mail through a local desk started in `cwd` (its .postdesk), and stops it. */
const deliverBySmtp = async (
  cwd: string,
  mail: { to: string; bcc?: string; subject: string; attachment?: boolean },
) => {
  const desk = await startLocalDesk({
    config: parseConfig(await readFile(join(cwd, 'postdesk.config.yaml'), 'utf8'), 'postdesk.config.yaml'),
    dataDir: join(cwd, '.postdesk'),
    env: {},
    port: 0,
    webhookPort: 0,
    resolver: noDns,
  });
  try {
    await smtpClient(desk.smtpPort).sendMail({
      from: `Ada <${CUSTOMER}>`,
      to: mail.to,
      ...(mail.bcc ? { bcc: mail.bcc } : {}),
      subject: mail.subject,
      text: 'Please help.',
      ...(mail.attachment ? { attachments: [{ filename: 'trace.txt', content: 'stack trace\n' }] } : {}),
    });
    await desk.idle();
  } finally {
    await desk.close();
  }
};

const run = async (cwd: string, args: string[]) => {
  const io = bufferIo({ cwd, env: {} });
  const code = await main(['quarantine', ...args], io.io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
};

const listJson = async (cwd: string, all = false) => {
  const { code, stdout } = await run(cwd, ['list', '--json', ...(all ? ['--all'] : [])]);
  expect(code).toBe(0);
  return JSON.parse(stdout) as Array<{
    id: string;
    reason: string;
    from: string;
    subject: string;
    releasedAt: string | null;
  }>;
};

const issuesIn = async (cwd: string): Promise<string[]> =>
  (await filesIn(join(cwd, '.postdesk/forge/acme/game/issues'))).filter((name) => name.endsWith('.md'));

describe('postdesk quarantine', () => {
  it('lists and shows a quarantined mail: why, from whom, and where the raw mail is', async () => {
    // Prepare: the project requires DKIM, which an unsigned mail (and offline DNS) cannot give
    const cwd = await tempWorkspace('quarantine-show', configText({ require: 'dkim' }));
    await deliverBySmtp(cwd, { to: `support+game@${DESK}`, subject: 'Printer on fire' });
    // Act
    const list = await run(cwd, ['list']);
    const [entry] = await listJson(cwd);
    const show = await run(cwd, ['show', entry?.id.slice(0, 12) ?? '']);
    // Assess
    expect(entry).toMatchObject({ reason: 'dkim_unverified', from: CUSTOMER, subject: 'Printer on fire' });
    expect(list.stdout).toMatch(/ID\s+DATE \(UTC\)\s+REASON\s+FROM\s+SUBJECT/);
    expect(list.stdout).toContain(`${entry?.id}`);
    expect(list.stdout).toContain('dkim_unverified');
    expect(list.stdout).toContain('"Printer on fire"');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('QUARANTINED in acme/game (dkim_unverified)');
    expect(show.stdout).toMatch(/policy \[acme\/game\]\s+quarantined\s+dkim_unverified/);
    expect(show.stdout).toMatch(/verdicts \(local\): spf PROCESSING_FAILED, dkim GRAY/);
    expect(show.stdout).toMatch(/DNS: \d+ of \d+ DNS lookups failed \(ECONNREFUSED\)/);
    expect(show.stdout).toContain(`raw mail: ${join(cwd, '.postdesk/mail', `${entry?.id}.eml`)}`);
    expect(show.stdout).toContain(`postdesk quarantine release ${entry?.id}`);
  });

  it('releases a mail once the cause is fixed; two releases at once deliver it once', async () => {
    // Prepare
    const cwd = await tempWorkspace('quarantine-release', configText({ require: 'dkim' }));
    await deliverBySmtp(cwd, { to: `support+game@${DESK}`, subject: 'Release me' });
    const [entry] = await listJson(cwd);
    const id = entry?.id ?? '';
    await writeFile(join(cwd, 'postdesk.config.yaml'), configText());
    // Act
    const [first, second] = await Promise.all([run(cwd, ['release', id]), run(cwd, ['release', id])]);
    // Assess
    expect([first.code, second.code]).toEqual([0, 0]);
    const outputs = [first.stdout, second.stdout].sort();
    expect(
      outputs.filter((text) => /released: issue acme\/game#1 \(issue_created\)/.test(text)),
    ).toHaveLength(1);
    expect(outputs.filter((text) => /already released .*not run again/.test(text))).toHaveLength(1);
    expect(await issuesIn(cwd)).toEqual(['1.md']);
    expect(await listJson(cwd)).toEqual([]);
    expect((await listJson(cwd, true))[0]?.releasedAt).toEqual(expect.any(String));
  });

  it('does not deliver twice when a delivered mail is released again: the ledger remembers it', async () => {
    // Prepare: released and delivered, then quarantined again by hand (a stale copy, say)
    const cwd = await tempWorkspace('quarantine-ledger', configText({ require: 'dkim' }));
    await deliverBySmtp(cwd, { to: `support+game@${DESK}`, subject: 'Only once' });
    const [listed] = await listJson(cwd);
    const id = listed?.id ?? '';
    await writeFile(join(cwd, 'postdesk.config.yaml'), configText());
    expect((await run(cwd, ['release', id])).code).toBe(0);
    const { quarantine } = deskState(createFileObjectStore(join(cwd, '.postdesk/state')));
    const entry = (await quarantine.get(id)) as QuarantineEntry;
    await quarantine.put({ ...entry, id });
    // Act
    const again = await run(cwd, ['release', id, '--json']);
    // Assess
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      result: 'delivered',
      trace: { reason: 'duplicate_delivery' },
    });
    expect(await issuesIn(cwd)).toEqual(['1.md']);
  });

  it('says so when the pipeline quarantines the mail again (a forged reply address)', async () => {
    // Prepare
    const cwd = await tempWorkspace('quarantine-again', configText());
    await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).writeText(
      'reply_key: 0123456789abcdef0123456789\n',
    );
    await deliverBySmtp(cwd, {
      to: `support+r-game-1-0-aaaaaaaaaaaaaaaaaaaa@${DESK}`,
      subject: 'Re: my ticket',
    });
    const [entry] = await listJson(cwd);
    // Act
    const released = await run(cwd, ['release', entry?.id ?? '']);
    // Assess
    expect(entry?.reason).toBe('reply_token_invalid');
    expect(released.code).toBe(1);
    expect(released.stderr).toMatch(/quarantined again \(reply_token_invalid\)/);
    expect(released.stderr).toContain(`postdesk quarantine show ${entry?.id}`);
    expect(await listJson(cwd)).toHaveLength(1);
    expect(await issuesIn(cwd)).toEqual([]);
  });

  it('releases into GitLab after the project path is fixed, and keeps the mail when GitLab is down', async () => {
    // Prepare: a typo in the project path; the fake GitLab answers 404
    const gitlab = await startFakeGitLab();
    gitlabs.push(gitlab);
    const forge = `{ kind: gitlab, url: "${gitlab.url}" }`;
    const cwd = await tempWorkspace('quarantine-gitlab', configText({ forge, path: 'acme/gmae' }));
    await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).writeText(
      `forge_token: ${gitlab.token}\n`,
    );
    await deliverBySmtp(cwd, { to: `support+game@${DESK}`, subject: 'Crash report', attachment: true });
    const [entry] = await listJson(cwd);
    const id = entry?.id ?? '';
    await writeFile(join(cwd, 'postdesk.config.yaml'), configText({ forge }));
    gitlab.failNext(50, { status: 503 });
    // Act
    const down = await run(cwd, ['release', id]);
    const stillThere = await listJson(cwd);
    await gitlab.close();
    const upAgain = await startFakeGitLab();
    gitlabs.push(upAgain);
    await writeFile(
      join(cwd, 'postdesk.config.yaml'),
      configText({ forge: `{ kind: gitlab, url: "${upAgain.url}" }` }),
    );
    const released = await run(cwd, ['release', id]);
    // Assess
    expect(entry?.reason).toBe('forge_not_found');
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/back in quarantine; release it again later/);
    expect(stillThere.map((listed) => listed.id)).toEqual([id]);
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(/released: issue acme\/game#1/);
    expect(upAgain.issues('acme/game').map((issue) => issue.title)).toEqual(['Crash report']);
    expect(upAgain.uploads('acme/game').map((upload) => upload.bytes.toString())).toEqual(['stack trace\n']);
  });

  it('explains a wrong id and a missing action', async () => {
    // Prepare
    const cwd = await tempWorkspace('quarantine-usage', configText());
    // Act
    const unknown = await run(cwd, ['release', 'nope']);
    const bare = await run(cwd, []);
    const empty = await run(cwd, ['list']);
    // Assess
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no quarantined mail with id nope/);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/say list, show ID or release ID/);
    expect(empty.stdout).toMatch(/no mail in quarantine/);
  });
});

describe('postdesk quarantine --aws', () => {
  const s3 = mockClient(S3Client);
  const secrets = mockClient(SecretsManagerClient);
  const BUCKET = 'postdesk-mail-123456789012-eu-west-1';
  const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
  afterEach(() => {
    s3.reset();
    secrets.reset();
  });

  /** A mail SES received and the function quarantined (GitLab answered 404 for a wrong path). */
  const trace: DecisionTrace = {
    mailId: 'ses-0123456789abcdef',
    receivedAt: '2025-03-01T10:00:00.000Z',
    mail: { from: CUSTOMER, subject: 'Order 42 never arrived', messageId: 'o42@customer.example' },
    outcome: 'quarantined',
    reason: 'forge_not_found',
    message: 'GitLab found no project acme/gmae (404)',
    routes: [{ project: 'acme/game', address: `support+game@${DESK}`, via: 'plus_key' }],
    stages: [
      {
        stage: 'authenticate',
        verdict: 'authenticated',
        reason: 'policy_satisfied',
        detail: {
          source: 'ses',
          verdicts: { spf: 'PASS', dkim: 'PASS', dmarc: 'PASS', spam: 'PASS', virus: 'PASS' },
        },
        ms: 1,
      },
    ],
    deliveries: [],
    dryRun: false,
  };

  it('lists, shows and releases mail in the desk bucket, with the verdicts SES gave', async () => {
    // Prepare
    const bucket = fakeBucket(s3, BUCKET);
    bucket.seed(
      'mail/ses-0123456789abcdef',
      `From: Ada <${CUSTOMER}>\r\nTo: support+game@${DESK}\r\nSubject: Order 42 never arrived\r\nMessage-ID: <o42@customer.example>\r\n\r\nWhere is it?\r\n`,
    );
    const state = new S3ObjectStore({
      client: new S3Client({ region: 'eu-west-1' }),
      bucket: BUCKET,
      kmsKeyId: KEY,
    });
    await deskState(state).quarantine.put({
      mailId: trace.mailId,
      rawKey: 'mail/ses-0123456789abcdef',
      reason: trace.reason,
      message: trace.message,
      trace,
    });
    const gitlab = await startFakeGitLab();
    gitlabs.push(gitlab);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `forge_token: ${gitlab.token}\n` });
    const cwd = await tempWorkspace(
      'quarantine-aws',
      `domain: ${DESK}\nforge: { kind: gitlab, url: "${gitlab.url}" }\nprojects:\n  - path: acme/game\n    key: game\n`,
    );
    const aws = ['--aws', '--bucket', BUCKET, '--region', 'eu-west-1'];
    // Act
    const listed = await run(cwd, ['list', ...aws, '--json']);
    const shown = await run(cwd, ['show', 'ses-0123', ...aws]);
    const released = await run(cwd, [
      'release',
      'ses-0123456789abcdef',
      ...aws,
      '--kms-key-id',
      KEY,
      '--secret-id',
      'postdesk/desk-secret',
    ]);
    // Assess
    expect(JSON.parse(listed.stdout)).toMatchObject([
      {
        id: 'ses-0123456789abcdef',
        reason: 'forge_not_found',
        raw: `s3://${BUCKET}/mail/ses-0123456789abcdef`,
      },
    ]);
    expect(shown.stdout).toContain(`raw mail: s3://${BUCKET}/mail/ses-0123456789abcdef`);
    expect(released.stderr).toBe('');
    expect(released.stdout).toMatch(/released: issue acme\/game#1 \(issue_created\)/);
    expect(gitlab.issues('acme/game').map((issue) => issue.title)).toEqual(['Order 42 never arrived']);
    const entry = JSON.parse(bucket.text('quarantine/ses-0123456789abcdef.json') ?? '{}');
    expect(entry.releasedAt).toEqual(expect.any(String));
    const writes = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((input) => input.SSEKMSKeyId === KEY)).toBe(true);
  });

  it('asks for the desk key before releasing (a write without it is refused by the bucket)', async () => {
    // Prepare
    fakeBucket(s3, BUCKET);
    const cwd = await tempWorkspace(
      'quarantine-aws-key',
      `domain: ${DESK}\nforge: { kind: gitlab, url: "https://gitlab.example.com" }\nprojects:\n  - path: acme/game\n    key: game\n`,
    );
    const state = new S3ObjectStore({
      client: new S3Client({ region: 'eu-west-1' }),
      bucket: BUCKET,
      kmsKeyId: KEY,
    });
    await deskState(state).quarantine.put({
      mailId: 'ses-1',
      rawKey: 'mail/ses-1',
      reason: 'x',
      message: 'y',
      trace,
    });
    // Act
    const released = await run(cwd, [
      'release',
      'ses-1',
      '--aws',
      '--bucket',
      BUCKET,
      '--region',
      'eu-west-1',
    ]);
    // Assess
    expect(released.code).toBe(1);
    expect(released.stderr).toMatch(
      /the desk KMS key is not known: pass --kms-key-id or set POSTDESK_KMS_KEY_ID/,
    );
  });
});
