import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { awsErrorShape } from '../../adapters/aws/errors.ts';
import {
  DESK_SECRET_KEYS,
  formatSecretProblems,
  parseDeskSecret,
  SecretDocumentError,
} from '../../adapters/aws/secret-document.ts';
import { LocalSecretFile, MASTER_KEY_ENV } from '../../adapters/local/secret-file.ts';
import { PermanentError } from '../../core/errors.ts';
import { type Command, type CommandIo, dataDir, isTty, readAll, writeJson, writeLine } from '../io.ts';

/**
 * `postdesk secret show | edit | write`: GitLab's `gitlab:service_desk_email:secret:*` rake tasks
 * for the desk secret (source-docs/service-desk-email-rake-tasks.ja.md). Two backends: a local file
 * encrypted with a master key (the default, for `npm start`), and the Secrets Manager secret the
 * functions read (`--backend aws`).
 *
 * Content is checked before anything is written, and no message ever carries a value: problems name
 * the key and the line. Only `show` prints the secret, because that is what it is for.
 */

const usage = `Usage: postdesk secret show|edit|write [options]

The desk secret: a flat YAML document with forge_token, webhook_token and reply_key (each
optional), stored encrypted. Like GitLab's gitlab:service_desk_email:secret:* rake tasks.

  show    print the YAML (with --json: the document as a JSON object)
  edit    open $EDITOR on a private temporary copy; re-encrypt it on save
  write   read the YAML from STDIN, e.g. from \`aws kms decrypt\` or \`gcloud secrets\`

Options:
  --backend local|aws  where the secret lives (default local)
  --data-dir DIR       local: holds secret.enc and master.key (default ./.postdesk or $POSTDESK_DATA_DIR)
  --secret-id ID       aws: Secrets Manager secret name or ARN (default $POSTDESK_SECRET_ID)
  --kms-key-id KEY     aws: the desk KMS key; used to create the secret when it does not exist yet
  --region REGION      aws: region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's)
  --json               JSON output ({written, keys} for edit and write)

Local master key: ${MASTER_KEY_ENV} (32 bytes as base64 or hex), else DIR/master.key, created on
the first write with mode 0600. Keep it out of the repository.

Bad YAML, an unknown key or an empty value writes nothing; the message names the key and line,
never a value. Exit codes: 0 done, 1 error (nothing written), 2 usage.

Examples:
  postdesk secret show
  EDITOR=vim postdesk secret edit
  aws kms decrypt --ciphertext-blob fileb://secret.enc --encryption-context purpose=postdesk-desk-secret \\
    --output text --query Plaintext | base64 --decode | postdesk secret write
  gcloud secrets versions access latest --secret=postdesk-desk | postdesk secret write --backend aws --secret-id postdesk/desk`;

/** What the editor starts from when there is no secret yet. Comments are kept on save. */
export const SECRET_TEMPLATE = `# Postdesk desk secret (YAML). Every key is optional; remove the "# " to set one.
# forge_token: the forge bot's token (GitLab: a project or group access token, scope api)
# webhook_token: the token GitLab sends as X-Gitlab-Token on the desk's webhook
# reply_key: signs reply addresses; at least 16 characters (openssl rand -base64 32)
#
# forge_token: glpat-...
# webhook_token: ...
# reply_key: ...
`;

/** Where the secret is kept: read its text (undefined when there is none yet) and replace it. */
export interface SecretBackend {
  /** For messages: a path, or `Secrets Manager secret <id>`. */
  readonly where: string;
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
}

export const localBackend = (dir: string, env: NodeJS.ProcessEnv): SecretBackend => {
  const file = new LocalSecretFile({ dataDir: dir, env });
  return { where: file.path, read: () => file.readText(), write: (text) => file.writeText(text) };
};

export const awsBackend = (options: {
  secretId: string;
  kmsKeyId?: string | undefined;
  region?: string | undefined;
}): SecretBackend => {
  const client = new SecretsManagerClient(options.region === undefined ? {} : { region: options.region });
  const where = `Secrets Manager secret ${options.secretId}`;
  const failed = (what: string, error: unknown): PermanentError => {
    const shape = awsErrorShape(error);
    return new PermanentError(
      'secret_backend_failed',
      `${what} ${where} failed (${shape.name}: ${shape.message})`,
      {
        cause: error,
      },
    );
  };
  return {
    where,
    async read() {
      try {
        const output = await client.send(new GetSecretValueCommand({ SecretId: options.secretId }));
        if (output.SecretString !== undefined) return output.SecretString;
        if (output.SecretBinary !== undefined) return Buffer.from(output.SecretBinary).toString('utf8');
        return undefined;
      } catch (error) {
        if (awsErrorShape(error).name === 'ResourceNotFoundException') return undefined;
        throw failed('reading', error);
      }
    },
    async write(text) {
      try {
        await client.send(new PutSecretValueCommand({ SecretId: options.secretId, SecretString: text }));
        return;
      } catch (error) {
        if (awsErrorShape(error).name !== 'ResourceNotFoundException') throw failed('writing', error);
      }
      if (options.kmsKeyId === undefined) {
        throw new PermanentError(
          'secret_missing',
          `${where} does not exist: pass --kms-key-id <desk key ARN> to create it, encrypted with the desk's KMS key`,
        );
      }
      try {
        await client.send(
          new CreateSecretCommand({
            Name: options.secretId,
            Description: `Postdesk desk secret (${DESK_SECRET_KEYS.join(', ')})`,
            KmsKeyId: options.kmsKeyId,
            SecretString: text,
          }),
        );
      } catch (error) {
        throw failed('creating', error);
      }
    },
  };
};

const options = {
  backend: { type: 'string' },
  'data-dir': { type: 'string' },
  'secret-id': { type: 'string' },
  'kms-key-id': { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const backendFor = (flags: Flags, io: CommandIo): SecretBackend | string => {
  const backend = flags.backend ?? 'local';
  if (backend === 'local') return localBackend(dataDir(flags['data-dir'], io), io.env);
  if (backend === 'aws') {
    const secretId = flags['secret-id'] ?? io.env['POSTDESK_SECRET_ID'];
    if (secretId === undefined || secretId === '') {
      return '--backend aws needs --secret-id ID (or POSTDESK_SECRET_ID): the Secrets Manager secret name or ARN';
    }
    return awsBackend({
      secretId,
      kmsKeyId: flags['kms-key-id'],
      region: flags.region ?? io.env['AWS_REGION'] ?? io.env['AWS_DEFAULT_REGION'],
    });
  }
  return `--backend must be local or aws, not "${backend}"`;
};

const reportWritten = (io: CommandIo, json: boolean, where: string, keys: readonly string[]): void => {
  if (json) writeJson(io.stdout, { written: true, keys });
  else
    writeLine(io.stdout, `Secret written to ${where} (${keys.length === 0 ? 'no keys' : keys.join(', ')}).`);
};

const show = async (backend: SecretBackend, io: CommandIo, json: boolean): Promise<number> => {
  const text = await backend.read();
  if (text === undefined) {
    writeLine(
      io.stderr,
      `postdesk secret: ${backend.where} does not exist yet; create it with \`postdesk secret edit\` or \`postdesk secret write\``,
    );
    return 1;
  }
  const parsed = parseDeskSecret(text);
  if (json) {
    if (!parsed.ok) throw new SecretDocumentError(backend.where, parsed.problems);
    writeJson(io.stdout, parsed.secret);
    return 0;
  }
  io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  if (!parsed.ok) {
    writeLine(
      io.stderr,
      `postdesk secret: warning: the stored secret is not valid; fix it with \`postdesk secret edit\`:\n${formatSecretProblems(parsed.problems)}`,
    );
  }
  return 0;
};

const write = async (backend: SecretBackend, io: CommandIo, json: boolean): Promise<number> => {
  if (isTty(io.stdin)) writeLine(io.stderr, 'Reading the secret YAML from STDIN; end with Ctrl-D.');
  const text = await readAll(io.stdin);
  const parsed = parseDeskSecret(text);
  if (!parsed.ok) throw new SecretDocumentError('STDIN (nothing was written)', parsed.problems);
  await backend.write(text);
  reportWritten(io, json, backend.where, parsed.keys);
  return 0;
};

/** Runs `$EDITOR file` through the shell, as GitLab does (`EDITOR="code --wait"` works). */
const runEditor = (editor: string, file: string, io: CommandIo, interactive: boolean): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'postdesk-editor', file], {
      env: io.env,
      stdio: interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });

const ask = (io: CommandIo, question: string): Promise<string> =>
  new Promise((resolve) => {
    io.stderr.write(question);
    const lines = createInterface({ input: io.stdin, terminal: false });
    let answered = false;
    lines.once('line', (line) => {
      answered = true;
      lines.close();
      resolve(line.trim());
    });
    lines.once('close', () => {
      if (!answered) resolve('n');
    });
  });

const edit = async (backend: SecretBackend, io: CommandIo, json: boolean): Promise<number> => {
  const editor = io.env['EDITOR'] ?? io.env['VISUAL'];
  if (editor === undefined || editor.trim() === '') {
    writeLine(
      io.stderr,
      'postdesk secret: no $EDITOR to open the secret with; run it with one, e.g. EDITOR=vim postdesk secret edit',
    );
    return 1;
  }
  const current = await backend.read();
  const initial = current ?? SECRET_TEMPLATE;
  const interactive = isTty(io.stdin);
  // A private directory (mode 0700) holding a 0600 file: the plaintext is readable by us alone,
  // and removed whatever happens.
  const dir = await mkdtemp(join(tmpdir(), 'postdesk-secret-'));
  const file = join(dir, 'secret.yaml');
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(initial);
    } finally {
      await handle.close();
    }
    for (;;) {
      const status = await runEditor(editor, file, io, interactive);
      if (status !== 0) {
        writeLine(io.stderr, `postdesk secret: the editor exited with status ${status}; nothing was written`);
        return 1;
      }
      const text = await readFile(file, 'utf8');
      if (text === initial) {
        if (json) writeJson(io.stdout, { written: false, keys: [] });
        else writeLine(io.stdout, 'No changes; nothing was written.');
        return 0;
      }
      const parsed = parseDeskSecret(text);
      if (parsed.ok) {
        await backend.write(text);
        reportWritten(io, json, backend.where, parsed.keys);
        return 0;
      }
      if (!interactive)
        throw new SecretDocumentError('the edited secret (nothing was written)', parsed.problems);
      writeLine(
        io.stderr,
        `The edited secret is not valid:\n${formatSecretProblems(parsed.problems)}\nNothing was written.`,
      );
      const answer = await ask(io, 'Edit it again? [Y/n] ');
      if (/^n/i.test(answer)) return 1;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

export const secretCommand: Command = {
  name: 'secret',
  summary: 'show, edit or write the encrypted desk secret (forge token, webhook token, reply key)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const [action, ...extra] = positionals;
    if (action === undefined || !['show', 'edit', 'write'].includes(action) || extra.length > 0) {
      writeLine(io.stderr, usage);
      return 2;
    }
    const backend = backendFor(values, io);
    if (typeof backend === 'string') {
      writeLine(io.stderr, `postdesk secret: ${backend}`);
      return 2;
    }
    if (action === 'show') return show(backend, io, values.json);
    if (action === 'write') return write(backend, io, values.json);
    return edit(backend, io, values.json);
  },
};
