import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { bufferIo } from '../support/cli-io.ts';
import { FAKE_GITLAB_TOKEN, type FakeGitLab, startFakeGitLab } from '../support/fake-gitlab.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures');
const customer = join(fixtures, 'mail/cli/customer.eml');
// Real Nodemailer mail with inline cid images and attachments (corpus, MIT).
const withAttachments = join(fixtures, 'corpus/emails/mailparser/nodemailer.eml');

const configFor = (forge: string) => `domain: desk.example.com
forge: ${forge}
projects:
  - path: acme/game
    key: game
`;

let cwd: string;
let gitlab: FakeGitLab | undefined;
const env = { POSTDESK_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };

beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'postdesk-ingest-'));
});
afterAll(async () => {
  await gitlab?.close();
});

const ingest = async (args: string[]) => {
  const run = bufferIo({ cwd, env });
  const code = await main(['ingest', '--json', ...args], run.io);
  const lines = run
    .stdout()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  return {
    code,
    traces: lines.filter((line) => !line.summary),
    summary: lines.at(-1)?.summary,
    stderr: run.stderr(),
  };
};

describe('postdesk ingest', () => {
  it('delivers to the file forge by default, with the attachments uploaded', async () => {
    // Prepare
    await writeFile(
      join(cwd, 'postdesk.config.yaml'),
      configFor('{ kind: gitlab, url: https://gitlab.example.com }'),
    );
    // Act
    const { code, traces } = await ingest([withAttachments, '--recipient', 'support+game@desk.example.com']);
    // Assess
    expect(code).toBe(0);
    expect(traces[0]).toMatchObject({ outcome: 'issue', reason: 'issue_created' });
    const issue = await readFile(join(cwd, '.postdesk/forge/acme/game/issues/1.md'), 'utf8');
    expect(issue).toMatch(/^---\n/);
    expect(issue).toContain('confidential: true');
    const uploads = await readdir(join(cwd, '.postdesk/forge/acme/game/uploads'));
    expect(uploads.length).toBe(traces[0].deliveries[0].issue.uploads.length);
    expect(uploads.length).toBeGreaterThan(0);
  });

  it('makes one issue from the same file ingested twice', async () => {
    // Prepare
    await writeFile(join(cwd, 'postdesk.config.yaml'), configFor('{ kind: file }'));
    // Act
    const first = await ingest([customer]);
    const second = await ingest([customer]);
    // Assess
    expect(first.traces[0]).toMatchObject({ outcome: 'issue', reason: 'issue_created' });
    expect(second.traces[0]).toMatchObject({ outcome: 'issue', reason: 'duplicate_delivery' });
    const issues = await readdir(join(cwd, '.postdesk/forge/acme/game/issues'));
    expect(issues.filter((name) => name.endsWith('.md'))).toEqual(['1.md']);
  });

  it('delivers to GitLab once the secret holds a forge token', async () => {
    // Prepare
    gitlab = await startFakeGitLab();
    await writeFile(join(cwd, 'postdesk.config.yaml'), configFor(`{ kind: gitlab, url: ${gitlab.url} }`));
    const write = bufferIo({ cwd, env, stdin: `forge_token: ${FAKE_GITLAB_TOKEN}\n` });
    expect(await main(['secret', 'write'], write.io)).toBe(0);
    // Act
    const { code, traces } = await ingest([customer]);
    // Assess
    expect(code).toBe(0);
    expect(traces[0]).toMatchObject({ outcome: 'issue', reason: 'issue_created' });
    expect(gitlab.issues('acme/game')).toHaveLength(1);
    expect(gitlab.issues('acme/game')[0]?.title).toBe('The game crashes on level 3');
  });

  it('truncates a 2 MB body and attaches the original mail', async () => {
    // Prepare
    await writeFile(join(cwd, 'postdesk.config.yaml'), configFor('{ kind: file }'));
    const line = 'The log says the renderer failed again at frame 4242, see below.\r\n';
    const big = join(cwd, 'big.eml');
    await writeFile(
      big,
      `From: Ada <ada@customer.example>\r\nTo: support+game@desk.example.com\r\nSubject: Huge log\r\nMessage-ID: <big@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${line.repeat(Math.ceil(2_000_000 / line.length))}`,
    );
    // Act
    const { traces } = await ingest([big]);
    // Assess
    const issue = traces[0].deliveries[0].issue;
    expect(traces[0].outcome).toBe('issue');
    expect(issue.uploads.map((upload: { filename: string }) => upload.filename)).toContain('original.eml');
    const uploads = await readdir(join(cwd, '.postdesk/forge/acme/game/uploads'), { recursive: true });
    expect(uploads.some((name) => String(name).endsWith('original.eml'))).toBe(true);
  });
});
