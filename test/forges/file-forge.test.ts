import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createFileForge,
  type FileForge,
  fileForgeIssuePath,
  parseFrontMatter,
  safeFilename,
} from '../../adapters/forges/file/index.ts';
import { PermanentError, PostdeskError } from '../../core/errors.ts';

const project = { path: 'acme/game' };
const clock = { now: () => new Date('2025-03-01T10:00:00.000Z') };
const input = {
  title: 'Printer on fire',
  description: 'It smokes.',
  labels: ['support'],
  confidential: true,
};

let root: string;
let forge: FileForge;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'postdesk-file-forge-'));
  forge = createFileForge({ root: join(root, 'forge'), clock });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const failureOf = async (work: Promise<unknown>): Promise<PostdeskError> => {
  try {
    await work;
  } catch (error) {
    if (error instanceof PostdeskError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
};

/** Every file under a folder, relative, sorted. */
const tree = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();

const bytes = (size: number): Buffer => {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 7) % 256;
  return buffer;
};

const chunked = (buffer: Buffer, size = 64 * 1024): Readable =>
  Readable.from(
    (function* () {
      for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
    })(),
  );

describe('file forge: layout on disk', () => {
  it('writes an issue as Markdown with front matter at <root>/<project>/issues/<iid>.md', async () => {
    // Act
    const issue = await forge.createIssue(project, input);
    // Assess
    const file = join(root, 'forge', 'acme', 'game', 'issues', '1.md');
    expect(fileForgeIssuePath(join(root, 'forge'), 'acme/game', 1)).toBe(file);
    const doc = parseFrontMatter(await readFile(file, 'utf8'));
    expect(doc?.data).toEqual({
      iid: 1,
      title: 'Printer on fire',
      state: 'opened',
      labels: ['support'],
      confidential: true,
      created_at: '2025-03-01T10:00:00.000Z',
      updated_at: '2025-03-01T10:00:00.000Z',
    });
    expect(doc?.body).toBe('It smokes.');
    expect(issue).toEqual({
      iid: 1,
      id: 1,
      title: 'Printer on fire',
      state: 'opened',
      webUrl: `file://${file}`,
      confidential: true,
      labels: ['support'],
      assignees: [],
    });
  });

  it('writes notes under issues/<iid>/notes/<id>.md with internal and created_at', async () => {
    // Prepare
    await forge.createIssue(project, input);
    // Act
    const first = await forge.addNote(project, 1, { body: 'Thanks!', internal: false });
    const second = await forge.addNote(project, 1, { body: 'Looks like spam', internal: true });
    // Assess
    expect([first.id, second.id]).toEqual([1, 2]);
    const dir = join(root, 'forge', 'acme', 'game', 'issues', '1', 'notes');
    const doc = parseFrontMatter(await readFile(join(dir, '2.md'), 'utf8'));
    expect(doc?.data).toEqual({ id: 2, internal: true, created_at: '2025-03-01T10:00:00.000Z' });
    expect(doc?.body).toBe('Looks like spam');
  });

  it('keeps titles and bodies that look like YAML or front matter intact', async () => {
    // Prepare
    const tricky = {
      ...input,
      title: '--- "quoted": #not a comment',
      description: '---\nnot: front matter\n---\n',
    };
    // Act
    await forge.createIssue(project, tricky);
    // Assess
    const issue = await forge.getIssue(project, 1);
    expect(issue?.title).toBe(tricky.title);
    const doc = parseFrontMatter(
      await readFile(fileForgeIssuePath(join(root, 'forge'), 'acme/game', 1), 'utf8'),
    );
    expect(doc?.body).toBe(tricky.description);
  });

  it('leaves no temporary files behind', async () => {
    await forge.createIssue(project, input);
    await forge.addNote(project, 1, { body: 'n', internal: false });
    await forge.uploadFile(project, {
      filename: 'a.txt',
      contentType: 'text/plain',
      content: Readable.from(['a']),
    });
    expect((await tree(join(root, 'forge'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('file forge: concurrency', () => {
  it('gives 20 concurrent creates 20 distinct iids, each file complete', async () => {
    // Act
    const issues = await Promise.all(
      Array.from({ length: 20 }, (_, i) => forge.createIssue(project, { ...input, title: `Issue ${i}` })),
    );
    // Assess
    const iids = issues.map((i) => i.iid).sort((a, b) => a - b);
    expect(iids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const issue of issues) {
      expect((await forge.getIssue(project, issue.iid))?.title).toBe(issue.title);
    }
  });

  it('two forges on the same root (two processes) never share an iid', async () => {
    // Prepare
    const other = createFileForge({ root: join(root, 'forge') });
    // Act
    const issues = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? forge : other).createIssue(project, input)),
    );
    // Assess
    expect(new Set(issues.map((i) => i.iid)).size).toBe(10);
  });

  it('gives concurrent notes distinct ids', async () => {
    await forge.createIssue(project, input);
    const notes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => forge.addNote(project, 1, { body: `n${i}`, internal: false })),
    );
    expect(new Set(notes.map((n) => n.id)).size).toBe(10);
  });
});

describe('file forge: uploads', () => {
  it('streams a multi-MB upload to uploads/<hex>/<name>, bytes intact, link clickable from the issue', async () => {
    // Prepare
    const content = bytes(5 * 1024 * 1024 + 3);
    // Act
    const upload = await forge.uploadFile(project, {
      filename: 'crash dump.bin',
      contentType: 'application/octet-stream',
      content: chunked(content),
    });
    // Assess
    expect(upload.url).toMatch(/^\.\.\/uploads\/[0-9a-f]{32}\/crash%20dump\.bin$/);
    expect(upload.markdown).toBe(`[crash dump.bin](${upload.url})`);
    const issueDir = join(root, 'forge', 'acme', 'game', 'issues');
    const target = resolve(issueDir, decodeURIComponent(upload.url));
    expect(fileURLToPath(upload.fullUrl ?? '')).toBe(target);
    const stored = await readFile(target);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(
      createHash('sha256').update(content).digest('hex'),
    );
  });

  it('embeds images and keeps hostile names inside the uploads folder', async () => {
    // Act
    const image = await forge.uploadFile(project, {
      filename: 'screen.png',
      contentType: 'image/png',
      content: Readable.from([Buffer.from('png')]),
    });
    const hostile = await forge.uploadFile(project, {
      filename: '../../../.bashrc',
      contentType: 'text/plain',
      content: Readable.from(['x']),
    });
    // Assess
    expect(image.markdown).toBe(`![screen](${image.url})`);
    const path = fileURLToPath(hostile.fullUrl ?? '');
    expect(dirname(dirname(path))).toBe(join(root, 'forge', 'acme', 'game', 'uploads'));
    expect(path.endsWith('/bashrc')).toBe(true);
  });

  it('removes a half-written upload when the stream fails', async () => {
    // Prepare
    const broken = Readable.from(
      (async function* () {
        yield Buffer.alloc(1024);
        throw new Error('decoder failed');
      })(),
    );
    // Act
    await expect(
      forge.uploadFile(project, {
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        content: broken,
      }),
    ).rejects.toThrow('decoder failed');
    // Assess
    expect(await tree(join(root, 'forge', 'acme', 'game', 'uploads'))).toEqual([]);
  });

  it('makes safe file names', () => {
    expect(safeFilename('a/b\\c:d*?.txt')).toBe('c_d__.txt');
    expect(safeFilename('...')).toBe('file');
    expect(safeFilename('\u202Etxt.exe')).toBe('txt.exe');
    expect(Buffer.byteLength(safeFilename(`${'é'.repeat(300)}.pdf`))).toBeLessThanOrEqual(200);
    expect(safeFilename(`${'é'.repeat(300)}.pdf`).endsWith('.pdf')).toBe(true);
  });
});

describe('file forge: markers, reopen and repository files', () => {
  it('finds the issue and the note carrying a marker', async () => {
    // Prepare
    await forge.createIssue(project, input);
    await forge.createIssue(project, { ...input, description: 'body\n<!-- postdesk:m-abc123456 -->' });
    await forge.addNote(project, 2, { body: 'reply <!-- postdesk:n-def456789 -->', internal: false });
    // Act / Assess
    expect((await forge.findIssueByMarker(project, 'postdesk:m-abc123456'))?.iid).toBe(2);
    expect(await forge.findIssueByMarker(project, 'postdesk:m-missing00')).toBeUndefined();
    expect(await forge.findIssueByMarker({ path: 'acme/empty' }, 'postdesk:m-abc123456')).toBeUndefined();
    expect((await forge.findNoteByMarker(project, 2, 'postdesk:n-def456789'))?.id).toBe(1);
    expect(await forge.findNoteByMarker(project, 1, 'postdesk:n-def456789')).toBeUndefined();
  });

  it('reopens an issue a person closed by editing its front matter', async () => {
    // Prepare
    await forge.createIssue(project, input);
    const file = fileForgeIssuePath(join(root, 'forge'), 'acme/game', 1);
    await writeFile(file, (await readFile(file, 'utf8')).replace('state: opened', 'state: closed'));
    expect((await forge.getIssue(project, 1))?.state).toBe('closed');
    // Act
    await forge.reopenIssue(project, 1);
    // Assess
    expect((await forge.getIssue(project, 1))?.state).toBe('opened');
    expect(parseFrontMatter(await readFile(file, 'utf8'))?.body).toBe('It smokes.');
  });

  it('answers undefined for a missing issue, and forge_not_found when writing to one', async () => {
    expect(await forge.getIssue(project, 7)).toBeUndefined();
    const error = await failureOf(forge.addNote(project, 7, { body: 'x', internal: false }));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.code).toBe('forge_not_found');
    expect((await failureOf(forge.reopenIssue(project, 7))).code).toBe('forge_not_found');
  });

  it('reads templates a person placed under repo/, undefined when missing, never outside', async () => {
    // Prepare
    const repo = join(root, 'forge', 'acme', 'game', 'repo', '.gitlab', 'issue_templates');
    await mkdir(repo, { recursive: true });
    await writeFile(join(repo, 'support.md'), '## Template');
    // Act / Assess
    expect(await forge.readRepoFile(project, '.gitlab/issue_templates/support.md')).toBe('## Template');
    expect(await forge.readRepoFile(project, 'missing.md')).toBeUndefined();
    expect(await forge.readRepoFile(project, '.gitlab')).toBeUndefined();
    expect((await failureOf(forge.readRepoFile(project, '../issues/1.md'))).code).toBe(
      'forge_invalid_request',
    );
  });

  it('refuses project paths that would leave the root', async () => {
    for (const path of ['../etc', 'acme/..', '/abs', 'acme//game', '']) {
      const error = await failureOf(forge.createIssue({ path }, input));
      expect(error.code).toBe('forge_not_found');
    }
  });

  it('skips an issue file that is claimed but not yet written', async () => {
    // Prepare: what a concurrent create looks like between its O_EXCL claim and its rename.
    const dir = join(root, 'forge', 'acme', 'game', 'issues');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '1.md'), '');
    // Act
    const issue = await forge.createIssue(project, input);
    // Assess
    expect(issue.iid).toBe(2);
    expect(await forge.getIssue(project, 1)).toBeUndefined();
    expect(await forge.findIssueByMarker(project, 'It smokes')).toMatchObject({ iid: 2 });
  });
});
