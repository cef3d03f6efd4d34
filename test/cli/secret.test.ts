import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalSecretFile } from '../../adapters/local/secret-file.ts';
import type { CommandIo } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';

// `main` runs with only this command registered, so these tests do not depend on the readiness of
// every other command's imports; the registration itself is checked against the real registry file.
vi.mock('../../cli/registry.ts', async () => {
  const { secretCommand } = await import('../../cli/commands/secret.ts');
  return { commands: [secretCommand] };
});

// Every secret value used in this file. None may appear in anything the CLI prints, except the
// stdout of `show`, whose job is to print it.
const FORGE_TOKEN = 'glpat-cli-secret-token-0001';
const WEBHOOK_TOKEN = 'hook-cli-secret-0002';
const REPLY_KEY = 'reply-key-cli-secret-0003';
const NEW_FORGE_TOKEN = 'glpat-cli-rotated-token-0004';
const SECRETS = [FORGE_TOKEN, WEBHOOK_TOKEN, REPLY_KEY, NEW_FORGE_TOKEN];
const DOC = `forge_token: ${FORGE_TOKEN}\nwebhook_token: ${WEBHOOK_TOKEN}\nreply_key: ${REPLY_KEY}\n`;

/** Everything printed outside `show`'s stdout, checked for secret values at the end. */
const printed: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const run = async (
  argv: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string | Readable; tty?: boolean },
): Promise<Run> => {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const stdin =
    options.stdin instanceof Readable
      ? options.stdin
      : Readable.from(options.stdin === undefined ? [] : [options.stdin]);
  if (options.tty) Object.assign(stdin, { isTTY: true });
  const io: CommandIo = { stdout, stderr, stdin, env: options.env ?? {}, cwd: options.cwd };
  const code = await main(['secret', ...argv], io);
  const result = {
    code,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
  const isShow = argv[0] === 'show';
  printed.push(result.stderr);
  if (!isShow || code !== 0) printed.push(result.stdout);
  return result;
};

const workdir = () => mkdtempSync(join(tmpdir(), 'postdesk-secret-cli-'));
const mode = (path: string) => statSync(path).mode & 0o777;

/** A stand-in $EDITOR: a node script that replaces the file with the next planned content. */
const fakeEditor = (dir: string, plan: { write?: string; exit?: number }[]) => {
  const script = join(dir, 'fake-editor.mjs');
  writeFileSync(
    script,
    `import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const plan = JSON.parse(process.env.FAKE_EDITOR_PLAN);
const state = process.env.FAKE_EDITOR_STATE;
const n = existsSync(state) ? Number(readFileSync(state, 'utf8')) : 0;
writeFileSync(state, String(n + 1));
appendFileSync(process.env.FAKE_EDITOR_LOG, JSON.stringify({ file, mode: statSync(file).mode & 0o777, before: readFileSync(file, 'utf8') }) + '\\n');
const step = plan[Math.min(n, plan.length - 1)];
if (step.write !== undefined) writeFileSync(file, step.write);
process.exit(step.exit ?? 0);
`,
  );
  const log = join(dir, 'editor.log');
  return {
    env: {
      EDITOR: `"${process.execPath}" "${script}"`,
      FAKE_EDITOR_PLAN: JSON.stringify(plan),
      FAKE_EDITOR_STATE: join(dir, 'editor.state'),
      FAKE_EDITOR_LOG: log,
    },
    sessions: (): { file: string; mode: number; before: string }[] =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as { file: string; mode: number; before: string })
        : [],
  };
};

describe('registration', () => {
  it('is in the commands array of cli/registry.ts', () => {
    const registry = readFileSync(new URL('../../cli/registry.ts', import.meta.url), 'utf8');
    expect(registry).toMatch(/import \{ secretCommand \} from '\.\/commands\/secret\.ts';/);
    expect(registry).toMatch(/export const commands: Command\[\] = \[[^\]]*\bsecretCommand\b/);
  });
});

describe('postdesk secret, local backend', () => {
  it('writes from STDIN, then shows the same YAML; key and secret files are 0600', async () => {
    // Prepare
    const cwd = workdir();

    // Act
    const written = await run(['write'], { cwd, stdin: DOC });
    const shown = await run(['show'], { cwd });

    // Assess
    expect(written).toMatchObject({ code: 0, stderr: '' });
    expect(written.stdout).toMatch(
      /^Secret written to .*\.postdesk\/secret\.enc \(forge_token, webhook_token, reply_key\)\.\n$/,
    );
    expect(shown).toEqual({ code: 0, stdout: DOC, stderr: '' });
    expect(mode(join(cwd, '.postdesk', 'secret.enc'))).toBe(0o600);
    expect(mode(join(cwd, '.postdesk', 'master.key'))).toBe(0o600);
    const onDisk = readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8');
    for (const value of SECRETS) expect(onDisk).not.toContain(value);
    expect(JSON.parse(onDisk)).toMatchObject({ format: 'postdesk-secret', version: 1, alg: 'aes-256-gcm' });
  });

  it('prints JSON for show --json and write --json', async () => {
    // Prepare
    const cwd = workdir();

    // Act
    const written = await run(['write', '--json'], { cwd, stdin: `forge_token: ${FORGE_TOKEN}\n` });
    const shown = await run(['show', '--json'], { cwd });

    // Assess
    expect(JSON.parse(written.stdout)).toEqual({ written: true, keys: ['forge_token'] });
    expect(JSON.parse(shown.stdout)).toEqual({ forge_token: FORGE_TOKEN });
  });

  it('honours --data-dir and POSTDESK_DATA_DIR', async () => {
    // Prepare
    const cwd = workdir();

    // Act
    await run(['write', '--data-dir', 'elsewhere'], { cwd, stdin: DOC });
    const shown = await run(['show'], { cwd, env: { POSTDESK_DATA_DIR: join(cwd, 'elsewhere') } });

    // Assess
    expect(existsSync(join(cwd, 'elsewhere', 'secret.enc'))).toBe(true);
    expect(shown.stdout).toBe(DOC);
  });

  it.each([
    ['hex', 'a'.repeat(64)],
    ['base64', Buffer.alloc(32, 7).toString('base64')],
  ])('uses POSTDESK_MASTER_KEY in %s and creates no key file', async (_form, key) => {
    // Prepare
    const cwd = workdir();
    const env = { POSTDESK_MASTER_KEY: key };

    // Act
    await run(['write'], { cwd, env, stdin: DOC });
    const shown = await run(['show'], { cwd, env });
    const withoutKey = await run(['show'], { cwd });

    // Assess
    expect(shown.stdout).toBe(DOC);
    expect(existsSync(join(cwd, '.postdesk', 'master.key'))).toBe(false);
    expect(withoutKey.code).toBe(1);
    expect(withoutKey.stderr).toMatch(/exists but its master key does not: set POSTDESK_MASTER_KEY/);
  });

  it('says which key forms are accepted when POSTDESK_MASTER_KEY is malformed, without echoing it', async () => {
    // Prepare
    const cwd = workdir();
    const badKey = 'not-a-key-but-secret-looking-0005';

    // Act
    const result = await run(['write'], { cwd, env: { POSTDESK_MASTER_KEY: badKey }, stdin: DOC });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /POSTDESK_MASTER_KEY must be a 32-byte key written as base64 \(44 characters\) or as hex \(64 digits\)/,
    );
    expect(result.stderr).not.toContain(badKey);
    expect(existsSync(join(cwd, '.postdesk', 'secret.enc'))).toBe(false);
  });

  it('refuses to decrypt with the wrong master key', async () => {
    // Prepare
    const cwd = workdir();
    await run(['write'], { cwd, env: { POSTDESK_MASTER_KEY: 'a'.repeat(64) }, stdin: DOC });

    // Act
    const result = await run(['show'], { cwd, env: { POSTDESK_MASTER_KEY: 'b'.repeat(64) } });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /cannot be decrypted with the master key from POSTDESK_MASTER_KEY: wrong key/,
    );
    expect(result.stdout).toBe('');
  });

  it('says how to start when there is no secret yet', async () => {
    // Act
    const result = await run(['show'], { cwd: workdir() });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /does not exist yet; create it with `postdesk secret edit` or `postdesk secret write`/,
    );
  });

  it.each([
    ['bad YAML', `forge_token: "${FORGE_TOKEN}\n`, /line 2: YAML syntax: a quote or bracket is not closed/],
    [
      'an unknown key',
      `${DOC}forge_tokn: ${NEW_FORGE_TOKEN}\n`,
      /line 4: unknown key "forge_tokn"; allowed keys: forge_token, webhook_token, reply_key/,
    ],
    ['a short reply key', 'reply_key: abc\n', /reply_key is 3 characters; it must be at least 16/],
    ['an empty value', 'webhook_token: ""\n', /webhook_token is empty/],
  ])('writes nothing for %s and says what is wrong', async (_name, text, message) => {
    // Prepare
    const cwd = workdir();
    await run(['write'], { cwd, stdin: DOC });
    const before = readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8');

    // Act
    const result = await run(['write'], { cwd, stdin: text });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^postdesk secret: STDIN \(nothing was written\) is not a valid desk secret/,
    );
    expect(result.stderr).toMatch(message);
    expect(readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8')).toBe(before);
  });

  it('reports invalid content as JSON with --json', async () => {
    // Act
    const result = await run(['write', '--json'], { cwd: workdir(), stdin: 'nope: 1\n' });

    // Assess
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'secret_invalid' });
  });

  it('edit: opens $EDITOR on a private 0600 copy, re-encrypts on save, removes the copy', async () => {
    // Prepare
    const cwd = workdir();
    await run(['write'], { cwd, stdin: DOC });
    const edited = DOC.replace(FORGE_TOKEN, NEW_FORGE_TOKEN);
    const editor = fakeEditor(cwd, [{ write: edited }]);

    // Act
    const result = await run(['edit', '--json'], { cwd, env: editor.env });

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({
      written: true,
      keys: ['forge_token', 'webhook_token', 'reply_key'],
    });
    const [session] = editor.sessions();
    expect(session?.mode).toBe(0o600);
    expect(session?.before).toBe(DOC);
    expect(existsSync(session?.file ?? '')).toBe(false);
    expect(await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).readText()).toBe(edited);
  });

  it('edit: starts from a commented template when there is no secret yet', async () => {
    // Prepare
    const cwd = workdir();
    const editor = fakeEditor(cwd, [{ write: `forge_token: ${FORGE_TOKEN}\n` }]);

    // Act
    const result = await run(['edit'], { cwd, env: editor.env });

    // Assess
    expect(result.code).toBe(0);
    expect(editor.sessions()[0]?.before).toMatch(/^# Postdesk desk secret/);
    expect(result.stdout).toMatch(/Secret written to .* \(forge_token\)\./);
  });

  it('edit: writes nothing when the file is saved unchanged', async () => {
    // Prepare
    const cwd = workdir();
    const editor = fakeEditor(cwd, [{}]);

    // Act
    const result = await run(['edit'], { cwd, env: editor.env });

    // Assess
    expect(result).toMatchObject({ code: 0, stdout: 'No changes; nothing was written.\n' });
    expect(existsSync(join(cwd, '.postdesk', 'secret.enc'))).toBe(false);
  });

  it('edit: without a TTY, invalid content fails with the reason and writes nothing', async () => {
    // Prepare
    const cwd = workdir();
    await run(['write'], { cwd, stdin: DOC });
    const before = readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8');
    const editor = fakeEditor(cwd, [{ write: `${DOC}extra: ${NEW_FORGE_TOKEN}\n` }]);

    // Act
    const result = await run(['edit'], { cwd, env: editor.env });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the edited secret \(nothing was written\) is not a valid desk secret.*unknown key "extra"/s,
    );
    expect(readFileSync(join(cwd, '.postdesk', 'secret.enc'), 'utf8')).toBe(before);
    expect(editor.sessions()).toHaveLength(1);
  });

  it('edit: on a TTY, invalid content offers to reopen the editor, with the edit kept', async () => {
    // Prepare
    const cwd = workdir();
    const invalid = `forge_token: ${FORGE_TOKEN}\nreply_key: short\n`;
    const fixed = `forge_token: ${FORGE_TOKEN}\nreply_key: ${REPLY_KEY}\n`;
    const editor = fakeEditor(cwd, [{ write: invalid }, { write: fixed }]);
    const stdin = new PassThrough();
    stdin.write('y\n');

    // Act
    const result = await run(['edit'], { cwd, env: editor.env, stdin, tty: true });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /The edited secret is not valid:\n {2}line 2: reply_key is 5 characters.*Edit it again\? \[Y\/n\]/s,
    );
    const sessions = editor.sessions();
    expect(sessions).toHaveLength(2);
    expect(sessions[1]?.before).toBe(invalid);
    expect(await new LocalSecretFile({ dataDir: join(cwd, '.postdesk'), env: {} }).readText()).toBe(fixed);
  });

  it('edit: on a TTY, answering no writes nothing', async () => {
    // Prepare
    const cwd = workdir();
    const editor = fakeEditor(cwd, [{ write: 'reply_key: short\n' }]);
    const stdin = new PassThrough();
    stdin.write('n\n');

    // Act
    const result = await run(['edit'], { cwd, env: editor.env, stdin, tty: true });

    // Assess
    expect(result.code).toBe(1);
    expect(existsSync(join(cwd, '.postdesk', 'secret.enc'))).toBe(false);
  });

  it('edit: an editor that fails writes nothing', async () => {
    // Prepare
    const cwd = workdir();
    const editor = fakeEditor(cwd, [{ write: `forge_token: ${FORGE_TOKEN}\n`, exit: 3 }]);

    // Act
    const result = await run(['edit'], { cwd, env: editor.env });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the editor exited with status 3; nothing was written/);
    expect(existsSync(join(cwd, '.postdesk', 'secret.enc'))).toBe(false);
  });

  it('edit: asks for $EDITOR when there is none, like the rake task', async () => {
    // Act
    const result = await run(['edit'], { cwd: workdir() });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/EDITOR=vim postdesk secret edit/);
  });

  it('prints usage for a missing or unknown action', async () => {
    expect((await run([], { cwd: workdir() })).code).toBe(2);
    expect((await run(['rotate'], { cwd: workdir() })).code).toBe(2);
    expect((await run(['show', '--backend', 'vault'], { cwd: workdir() })).stderr).toMatch(
      /--backend must be local or aws/,
    );
  });
});

describe('postdesk secret --backend aws', () => {
  const sm = mockClient(SecretsManagerClient);
  const SECRET_ID = 'postdesk/desk';
  const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/desk';
  const notFound = () =>
    new SecretsManagerServiceException({
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: "Secrets Manager can't find the specified secret.",
    });

  /** A one-secret Secrets Manager behind the mock, so write-then-show is a real round trip. */
  const fakeSecretsManager = (initial?: string) => {
    let value = initial;
    sm.on(GetSecretValueCommand).callsFake(async () => {
      if (value === undefined) throw notFound();
      return { SecretString: value, Name: SECRET_ID };
    });
    sm.on(PutSecretValueCommand).callsFake(async (input: { SecretString?: string }) => {
      if (value === undefined) throw notFound();
      value = input.SecretString;
      return { Name: SECRET_ID };
    });
    sm.on(CreateSecretCommand).callsFake(async (input: { SecretString?: string }) => {
      value = input.SecretString;
      return { Name: SECRET_ID };
    });
  };

  beforeEach(() => sm.reset());

  it('writes with PutSecretValue and shows with GetSecretValue', async () => {
    // Prepare
    fakeSecretsManager('forge_token: old-value-000000\n');
    const cwd = workdir();
    const args = ['--backend', 'aws', '--secret-id', SECRET_ID, '--region', 'eu-west-1'];

    // Act
    const written = await run(['write', ...args, '--json'], { cwd, stdin: DOC });
    const shown = await run(['show', ...args], { cwd });

    // Assess
    expect(JSON.parse(written.stdout)).toEqual({
      written: true,
      keys: ['forge_token', 'webhook_token', 'reply_key'],
    });
    expect(shown.stdout).toBe(DOC);
    expect(sm.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: SECRET_ID, SecretString: DOC },
    ]);
    expect(sm.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: SECRET_ID },
    ]);
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(existsSync(join(cwd, '.postdesk'))).toBe(false);
  });

  it('creates the secret under the desk key with --kms-key-id when it does not exist', async () => {
    // Prepare
    fakeSecretsManager();

    // Act
    const result = await run(
      ['write', '--backend', 'aws', '--secret-id', SECRET_ID, '--kms-key-id', KEY_ARN],
      {
        cwd: workdir(),
        stdin: DOC,
      },
    );

    // Assess
    expect(result.code).toBe(0);
    expect(sm.commandCalls(CreateSecretCommand).map((call) => call.args[0].input)).toEqual([
      {
        Name: SECRET_ID,
        Description: 'Postdesk desk secret (forge_token, webhook_token, reply_key)',
        KmsKeyId: KEY_ARN,
        SecretString: DOC,
      },
    ]);
  });

  it('asks for --kms-key-id instead of creating a secret under the default key', async () => {
    // Prepare
    fakeSecretsManager();

    // Act
    const result = await run(['write', '--backend', 'aws', '--secret-id', SECRET_ID], {
      cwd: workdir(),
      stdin: DOC,
    });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not exist: pass --kms-key-id <desk key ARN> to create it/);
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  it('edits through Secrets Manager, reading POSTDESK_SECRET_ID', async () => {
    // Prepare
    fakeSecretsManager(DOC);
    const cwd = workdir();
    const editor = fakeEditor(cwd, [{ write: DOC.replace(FORGE_TOKEN, NEW_FORGE_TOKEN) }]);

    // Act
    const result = await run(['edit', '--backend', 'aws'], {
      cwd,
      env: { ...editor.env, POSTDESK_SECRET_ID: SECRET_ID },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: SECRET_ID,
      SecretString: DOC.replace(FORGE_TOKEN, NEW_FORGE_TOKEN),
    });
  });

  it('validates before calling AWS at all', async () => {
    // Prepare
    fakeSecretsManager(DOC);

    // Act
    const result = await run(['write', '--backend', 'aws', '--secret-id', SECRET_ID], {
      cwd: workdir(),
      stdin: `forge_token: [${NEW_FORGE_TOKEN}]\n`,
    });

    // Assess
    expect(result.code).toBe(1);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('needs a secret id', async () => {
    // Act
    const result = await run(['show', '--backend', 'aws'], { cwd: workdir() });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--backend aws needs --secret-id ID/);
  });
});

describe('no secret value escapes', () => {
  afterAll(() => {
    printed.length = 0;
  });

  it('in anything the CLI printed above, except the stdout of show', () => {
    // Assess
    expect(printed.length).toBeGreaterThan(20);
    const everything = printed.join('\n');
    for (const value of SECRETS) expect(everything).not.toContain(value);
  });
});
