import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PermanentError, TransientError } from '../../../core/errors.ts';
import {
  type Clock,
  type CreateIssueInput,
  type Forge,
  type ForgeIssue,
  type ForgeNote,
  type ForgeProjectRef,
  type ForgeUpload,
  systemClock,
  type UploadInput,
} from '../../../core/ports.ts';
import { fsFault, isFsFault } from '../../local/fs-faults.ts';
import { formatFrontMatter, parseFrontMatter } from './front-matter.ts';
import { claimNumber, streamAtomic, writeAtomic } from './fs-atomic.ts';

/**
 * The file forge, the embedded default of local mode: issues, notes and uploads as plain files a
 * person reads (and edits) with any editor, under `<root>` (`.postdesk/forge/` by default):
 *
 *     <root>/<project path>/issues/<iid>.md                 issue: front matter + description
 *     <root>/<project path>/issues/<iid>/notes/<id>.md      note: front matter + body
 *     <root>/<project path>/uploads/<hex id>/<filename>     attachment, as received
 *     <root>/<project path>/repo/<path>                     the project's "repository"
 *
 * `repo/` stands in for the default branch: put a description template there (for example
 * `repo/.gitlab/issue_templates/support.md`) and `readRepoFile` reads it, as the GitLab forge
 * reads the file from the project's repository.
 *
 * An issue's front matter holds `iid`, `title`, `state` (`opened` or `closed`: edit it to close
 * the issue), `labels`, `confidential`, `created_at` and `updated_at`; a note's holds `id`,
 * `internal` and `created_at`. Note ids count per issue (GitLab's are instance-wide). Every write
 * is a temp file renamed into place, and iids and note ids are claimed with `O_EXCL`, so
 * concurrent deliveries (several `postdesk ingest`, or `serve`) never share a number.
 */
export interface FileForgeOptions {
  /** The forge folder, e.g. `.postdesk/forge`. */
  root: string;
  /** Timestamps in front matter. @default systemClock */
  clock?: Clock;
}

export interface FileForge extends Forge {
  readonly kind: 'file';
  /** The forge folder, absolute. */
  readonly root: string;
  /** A note; `author` is the team member's username (the desk's own notes have none). */
  addNote(
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean; author?: string | undefined },
  ): Promise<ForgeNote>;
  /** Every issue of a project, newest first, as the console lists them. */
  listIssues(project: ForgeProjectRef): Promise<FileIssueView[]>;
  /** One issue with its description and notes in order, as the forge holds them. */
  readThread(project: ForgeProjectRef, issueIid: number): Promise<FileThread | undefined>;
  /** Closes (or reopens) an issue, as a person does by editing `state:` in its front matter. */
  setState(project: ForgeProjectRef, issueIid: number, state: 'opened' | 'closed'): Promise<void>;
  /** The file of an upload, from the URL `uploadFile` returned; undefined when it is not one. */
  uploadPath(project: ForgeProjectRef, url: string): string | undefined;
}

/** Whether a forge is the file forge (the console and `postdesk reply` work on it alone). */
export const isFileForge = (forge: Forge): forge is FileForge => forge.kind === 'file';

export interface FileIssueView extends ForgeIssue {
  createdAt: string;
  updatedAt: string;
}

export interface FileNoteView extends ForgeNote {
  createdAt: string;
  author?: string | undefined;
}

export interface FileThread {
  issue: FileIssueView;
  description: string;
  notes: FileNoteView[];
}

const ISSUE_FILE = /^(\d+)\.md$/;
const NOTE_FILE = /^(\d+)\.md$/;
const EMBEDDABLE = /\.(png|jpe?g|gif|bmp|webp|svg|ico|tiff?|mp4|m4v|mov|webm|ogv|mp3|oga|ogg|wav)$/i;

export const createFileForge = (options: FileForgeOptions): FileForge => {
  const root = resolve(options.root);
  const clock = options.clock ?? systemClock;

  const projectDir = (project: ForgeProjectRef): string => join(root, ...checkedProjectPath(project.path));
  const issuesDir = (project: ForgeProjectRef): string => join(projectDir(project), 'issues');
  const issueFile = (project: ForgeProjectRef, iid: number): string =>
    join(issuesDir(project), `${checkedIid(iid)}.md`);
  const notesDir = (project: ForgeProjectRef, iid: number): string =>
    join(issuesDir(project), String(checkedIid(iid)), 'notes');

  const readIssue = async (project: ForgeProjectRef, iid: number): Promise<StoredIssue | undefined> => {
    const file = issueFile(project, iid);
    const text = await readIfExists(file);
    if (text === undefined) return undefined;
    const doc = parseFrontMatter(text);
    // An empty file is an iid claimed by a create still writing it.
    if (doc === undefined) return undefined;
    return { file, data: doc.data, body: doc.body, issue: toIssue(iid, file, doc.data) };
  };

  const requireIssue = async (project: ForgeProjectRef, iid: number, what: string): Promise<StoredIssue> => {
    const stored = await guard(what, () => readIssue(project, iid));
    if (stored === undefined) {
      throw new PermanentError(
        'forge_not_found',
        `Could not ${what}: there is no issue #${iid} in ${issuesDir(project)} (deleted by hand, or a different forge root).`,
      );
    }
    return stored;
  };

  const listNumbers = async (dir: string, pattern: RegExp): Promise<number[]> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
    return names
      .map((name) => pattern.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  };

  const createIssue = async (project: ForgeProjectRef, input: CreateIssueInput): Promise<ForgeIssue> =>
    guard(`create an issue in ${project.path}`, async () => {
      const dir = issuesDir(project);
      const taken = await listNumbers(dir, ISSUE_FILE);
      const iid = await claimNumber(dir, (taken.at(-1) ?? 0) + 1, (n) => `${n}.md`);
      const now = clock.now().toISOString();
      const data = {
        iid,
        title: input.title,
        state: 'opened',
        labels: [...input.labels],
        confidential: input.confidential,
        created_at: now,
        updated_at: now,
      };
      const file = join(dir, `${iid}.md`);
      await writeAtomic(file, formatFrontMatter(data, input.description));
      return toIssue(iid, file, data);
    });

  const uploadFile = async (project: ForgeProjectRef, input: UploadInput): Promise<ForgeUpload> =>
    guard(`store the upload ${JSON.stringify(input.filename)} for ${project.path}`, async () => {
      const filename = safeFilename(input.filename);
      const secret = randomBytes(16).toString('hex');
      const dir = join(projectDir(project), 'uploads', secret);
      await mkdir(dir, { recursive: true });
      const file = join(dir, filename);
      try {
        await streamAtomic(file, input.content);
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      // Relative to the issue file (`issues/<iid>.md`), so the link works from the Markdown itself.
      const url = `../uploads/${secret}/${encodeURIComponent(filename)}`;
      const embeddable = EMBEDDABLE.test(filename);
      const alt = embeddable ? filename.replace(/\.[^.]*$/, '') : filename;
      return {
        markdown: `${embeddable ? '!' : ''}[${escapeLinkText(alt)}](${url})`,
        url,
        fullUrl: pathToFileURL(file).href,
        alt,
      };
    });

  const addNote = async (
    project: ForgeProjectRef,
    issueIid: number,
    input: { body: string; internal: boolean; author?: string | undefined },
  ): Promise<ForgeNote> => {
    const what = `add a note to issue #${issueIid} of ${project.path}`;
    await requireIssue(project, issueIid, what);
    return guard(what, async () => {
      const dir = notesDir(project, issueIid);
      const taken = await listNumbers(dir, NOTE_FILE);
      const id = await claimNumber(dir, (taken.at(-1) ?? 0) + 1, (n) => `${n}.md`);
      const data = {
        id,
        internal: input.internal,
        created_at: clock.now().toISOString(),
        ...(input.author === undefined ? {} : { author: input.author }),
      };
      await writeAtomic(join(dir, `${id}.md`), formatFrontMatter(data, input.body));
      return { id, body: input.body, internal: input.internal };
    });
  };

  const getIssue = async (project: ForgeProjectRef, issueIid: number): Promise<ForgeIssue | undefined> =>
    (await guard(`read issue #${issueIid} of ${project.path}`, () => readIssue(project, issueIid)))?.issue;

  const setState = async (
    project: ForgeProjectRef,
    issueIid: number,
    state: 'opened' | 'closed',
  ): Promise<void> => {
    const what = `${state === 'opened' ? 'reopen' : 'close'} issue #${issueIid} of ${project.path}`;
    const stored = await requireIssue(project, issueIid, what);
    if (stored.issue.state === state) return;
    await guard(what, () =>
      writeAtomic(
        stored.file,
        formatFrontMatter({ ...stored.data, state, updated_at: clock.now().toISOString() }, stored.body),
      ),
    );
  };

  const reopenIssue = (project: ForgeProjectRef, issueIid: number): Promise<void> =>
    setState(project, issueIid, 'opened');

  const readNotes = async (project: ForgeProjectRef, issueIid: number): Promise<FileNoteView[]> => {
    const dir = notesDir(project, issueIid);
    const notes: FileNoteView[] = [];
    for (const id of await listNumbers(dir, NOTE_FILE)) {
      const text = await readIfExists(join(dir, `${id}.md`));
      const doc = text === undefined ? undefined : parseFrontMatter(text);
      if (doc === undefined) continue;
      const author = doc.data['author'];
      notes.push({
        id,
        body: doc.body,
        internal: doc.data['internal'] === true,
        createdAt: String(doc.data['created_at'] ?? ''),
        ...(typeof author === 'string' ? { author } : {}),
      });
    }
    return notes;
  };

  const listIssues = async (project: ForgeProjectRef): Promise<FileIssueView[]> =>
    guard(`list the issues of ${project.path}`, async () => {
      const views: FileIssueView[] = [];
      for (const iid of (await listNumbers(issuesDir(project), ISSUE_FILE)).reverse()) {
        const stored = await readIssue(project, iid);
        if (stored !== undefined) views.push(issueView(stored));
      }
      return views;
    });

  const readThread = async (project: ForgeProjectRef, issueIid: number): Promise<FileThread | undefined> =>
    guard(`read issue #${issueIid} of ${project.path}`, async () => {
      const stored = await readIssue(project, issueIid);
      if (stored === undefined) return undefined;
      return {
        issue: issueView(stored),
        description: stored.body,
        notes: await readNotes(project, issueIid),
      };
    });

  const uploadPath = (project: ForgeProjectRef, url: string): string | undefined => {
    const match = /^\.\.\/uploads\/([0-9a-f]{32})\/([^/]+)$/.exec(url);
    if (!match) return undefined;
    let name: string;
    try {
      name = decodeURIComponent(match[2] ?? '');
    } catch {
      return undefined;
    }
    if (name !== safeFilename(name)) return undefined;
    return join(projectDir(project), 'uploads', match[1] ?? '', name);
  };

  const findIssueByMarker = async (
    project: ForgeProjectRef,
    marker: string,
  ): Promise<ForgeIssue | undefined> =>
    guard(`search ${project.path} for a delivery marker`, async () => {
      // Newest first: a marker being recovered belongs to a recent issue.
      const iids = (await listNumbers(issuesDir(project), ISSUE_FILE)).reverse();
      for (const iid of iids) {
        const stored = await readIssue(project, iid);
        if (stored?.body.includes(marker) === true) return stored.issue;
      }
      return undefined;
    });

  const findNoteByMarker = async (
    project: ForgeProjectRef,
    issueIid: number,
    marker: string,
  ): Promise<ForgeNote | undefined> =>
    guard(`search the notes of issue #${issueIid} for a delivery marker`, async () => {
      const dir = notesDir(project, issueIid);
      const ids = (await listNumbers(dir, NOTE_FILE)).reverse();
      for (const id of ids) {
        const text = await readIfExists(join(dir, `${id}.md`));
        const doc = text === undefined ? undefined : parseFrontMatter(text);
        if (doc?.body.includes(marker) === true) {
          return { id, body: doc.body, internal: doc.data['internal'] === true };
        }
      }
      return undefined;
    });

  const readRepoFile = async (project: ForgeProjectRef, path: string): Promise<string | undefined> => {
    const repo = join(projectDir(project), 'repo');
    const file = resolve(repo, path);
    // The path comes from config; it must still never leave the project's repo folder.
    if (path.includes('\0') || !file.startsWith(repo + sep)) {
      throw new PermanentError(
        'forge_invalid_request',
        `The repository path ${JSON.stringify(path)} leaves ${repo}: use a path inside the repository.`,
      );
    }
    return guard(`read ${path} from ${repo}`, async () => {
      try {
        return await readFile(file, 'utf8');
      } catch (error) {
        if (isCode(error, 'ENOENT') || isCode(error, 'EISDIR') || isCode(error, 'ENOTDIR')) return undefined;
        throw error;
      }
    });
  };

  return {
    kind: 'file',
    root,
    createIssue,
    uploadFile,
    addNote,
    getIssue,
    reopenIssue,
    setState,
    listIssues,
    readThread,
    uploadPath,
    findIssueByMarker,
    findNoteByMarker,
    readRepoFile,
  };
};

interface StoredIssue {
  file: string;
  data: Record<string, unknown>;
  body: string;
  issue: ForgeIssue;
}

const toIssue = (iid: number, file: string, data: Record<string, unknown>): ForgeIssue => ({
  iid,
  // The file forge has no instance-wide ids; the iid is unique within the project.
  id: iid,
  title: typeof data['title'] === 'string' ? data['title'] : '',
  state: data['state'] === 'closed' ? 'closed' : 'opened',
  webUrl: pathToFileURL(file).href,
  confidential: data['confidential'] === true,
  labels: stringList(data['labels']),
  assignees: stringList(data['assignees']),
});

const issueView = (stored: StoredIssue): FileIssueView => ({
  ...stored.issue,
  createdAt: String(stored.data['created_at'] ?? ''),
  updatedAt: String(stored.data['updated_at'] ?? ''),
});

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

const readIfExists = async (file: string): Promise<string | undefined> => {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
};

const isCode = (error: unknown, code: string): boolean =>
  typeof error === 'object' && error !== null && 'code' in error && error.code === code;

/**
 * File system faults are the folder's, not the mail's: a read-only or unwritable forge folder, a
 * full disk (adapters/local/fs-faults.ts) is `forge_file_access`, transient, so the mail is
 * retried and dead-lettered with its error, never quarantined as if it were at fault; anything
 * else the file system says is `forge_unavailable`, transient too.
 */
const guard = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PermanentError || error instanceof TransientError) throw error;
    if (isFsFault(error)) {
      throw fsFault(
        error,
        'forge_file_access',
        what,
        'Check that the forge folder is writable by this user and the disk has room, then redrive the mail.',
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new TransientError('forge_unavailable', `Could not ${what}: ${message}.`, { cause: error });
  }
};

/** Project paths become folders: each segment must be a plain name, as GitLab's paths are. */
const checkedProjectPath = (path: string): string[] => {
  const segments = path.split('/');
  const ok = segments.every((s) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s) && !s.endsWith('.'));
  if (!ok || segments.length === 0) {
    throw new PermanentError(
      'forge_not_found',
      `${JSON.stringify(path)} is not a project path the file forge can store: check projects[].path in the config (e.g. acme/game).`,
    );
  }
  return segments;
};

const checkedIid = (iid: number): number => {
  if (!Number.isSafeInteger(iid) || iid <= 0) {
    throw new PermanentError('forge_invalid_request', `An issue iid must be a positive integer, not ${iid}.`);
  }
  return iid;
};

/** A name that is one plain file in one folder on any OS, its extension kept. */
export const safeFilename = (name: string): string => {
  const base = name.split(/[/\\]/).pop() ?? '';
  let clean = base
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/[<>:"|?*]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (Buffer.byteLength(clean) > 200) {
    const ext = /\.[A-Za-z0-9]{1,10}$/.exec(clean)?.[0] ?? '';
    let stem = clean.slice(0, clean.length - ext.length);
    while (Buffer.byteLength(stem + ext) > 200) stem = Array.from(stem).slice(0, -1).join('');
    clean = stem + ext;
  }
  return clean === '' ? 'file' : clean;
};

const escapeLinkText = (text: string): string => text.replace(/[[\]\\]/g, '\\$&');

/** For tests and the CLI: where an issue of a project lives under a root. */
export const fileForgeIssuePath = (root: string, projectPath: string, iid: number): string =>
  join(resolve(root), ...checkedProjectPath(projectPath), 'issues', `${checkedIid(iid)}.md`);
