import type { Readable } from 'node:stream';
import type {
  CreateIssueInput,
  Forge,
  ForgeIssue,
  ForgeNote,
  ForgeProjectRef,
  ForgeUpload,
  UploadInput,
} from '../../core/ports.ts';

/**
 * An in-memory Forge for stage tests. It records every call (so a test asserts what was asked of
 * the forge), keeps issues, notes and uploads per project, answers the marker searches truthfully
 * (by substring, as the GitLab adapter does after its search), and can inject a fault before or
 * after any call:
 *
 * - `throw` before: the call does nothing and rejects (a 5xx, a 401);
 * - `throw` after: the call takes effect, then rejects (a timeout after the forge committed);
 * - `crash` after: the call takes effect and never settles, like a process that died right after
 *   the forge answered; nothing after it runs, no `catch`, no `finally`.
 */

export type ForgeMethod = Exclude<keyof Forge, 'kind'>;

export interface ForgeCall {
  method: ForgeMethod;
  project: string;
  /** The arguments after the project, uploads with their content read to a string. */
  args: unknown[];
}

export interface StoredUpload {
  project: string;
  filename: string;
  contentType: string;
  size: number | undefined;
  content: Buffer;
  upload: ForgeUpload;
}

export interface Fault {
  method: ForgeMethod;
  when: 'before' | 'after';
  /** `throw` rejects with `error`; `crash` never settles (only `after`). */
  mode: 'throw' | 'crash';
  error?: Error | undefined;
  /** Which call of `method` (1-based) faults. @default the next one */
  nth?: number | undefined;
}

interface MemoryIssue extends ForgeIssue {
  project: string;
  description: string;
  notes: ForgeNote[];
}

export interface MemoryForge extends Forge {
  readonly calls: ForgeCall[];
  readonly uploads: StoredUpload[];
  /** Issues of a project, in creation order. */
  issues(project: string): MemoryIssue[];
  /** Notes of an issue, in creation order. */
  notes(project: string, iid: number): ForgeNote[];
  /** Adds an issue directly (no call recorded), e.g. a ticket made earlier. */
  seedIssue(project: string, fields?: Partial<Omit<MemoryIssue, 'project' | 'notes'>>): MemoryIssue;
  /** Arms a fault; it fires once. */
  inject(fault: Fault): void;
  /** Calls of one method. */
  callsOf(method: ForgeMethod): ForgeCall[];
  /** Most uploads that were in flight at the same time. */
  readonly maxConcurrentUploads: number;
  /** Milliseconds each upload waits before reading its stream (to observe concurrency). @default 0 */
  uploadDelayMs: number;
  files: Map<string, string>;
}

const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
};

const IMAGE = /^image\//;

export const createMemoryForge = (options: { baseUrl?: string } = {}): MemoryForge => {
  const baseUrl = options.baseUrl ?? 'https://gitlab.example.com';
  const calls: ForgeCall[] = [];
  const uploads: StoredUpload[] = [];
  const issuesByProject = new Map<string, MemoryIssue[]>();
  const faults: Fault[] = [];
  const counts = new Map<ForgeMethod, number>();
  let nextId = 1000;
  let nextNoteId = 5000;
  let inFlightUploads = 0;
  let maxConcurrentUploads = 0;

  const projectIssues = (project: string): MemoryIssue[] => {
    let list = issuesByProject.get(project);
    if (!list) {
      list = [];
      issuesByProject.set(project, list);
    }
    return list;
  };

  const findIssue = (project: string, iid: number): MemoryIssue | undefined =>
    projectIssues(project).find((issue) => issue.iid === iid);

  const view = (issue: MemoryIssue): ForgeIssue => ({
    iid: issue.iid,
    id: issue.id,
    title: issue.title,
    state: issue.state,
    webUrl: issue.webUrl,
    confidential: issue.confidential,
    labels: [...issue.labels],
    assignees: [...issue.assignees],
  });

  const seedIssue: MemoryForge['seedIssue'] = (project, fields = {}) => {
    const list = projectIssues(project);
    const iid = fields.iid ?? list.length + 1;
    const issue: MemoryIssue = {
      project,
      iid,
      id: fields.id ?? nextId++,
      title: fields.title ?? `issue ${iid}`,
      description: fields.description ?? '',
      state: fields.state ?? 'opened',
      webUrl: fields.webUrl ?? `${baseUrl}/${project}/-/issues/${iid}`,
      confidential: fields.confidential ?? true,
      labels: fields.labels ?? [],
      assignees: fields.assignees ?? [],
      notes: [],
    };
    list.push(issue);
    return issue;
  };

  const missing = (project: string, iid: number): Error =>
    new Error(`memory forge: no issue ${project}#${iid}`);

  /** Runs one call: records it, applies any armed fault, performs `effect`. */
  const run = async <T>(
    method: ForgeMethod,
    project: string,
    args: unknown[],
    effect: () => Promise<T>,
  ): Promise<T> => {
    const nth = (counts.get(method) ?? 0) + 1;
    counts.set(method, nth);
    calls.push({ method, project, args });
    const faultIndex = faults.findIndex(
      (fault) => fault.method === method && (fault.nth === undefined || fault.nth === nth),
    );
    const fault = faultIndex === -1 ? undefined : faults.splice(faultIndex, 1)[0];
    if (fault?.when === 'before') throw fault.error ?? new Error(`injected failure before ${method}`);
    const result = await effect();
    if (fault?.when === 'after') {
      if (fault.mode === 'crash') return new Promise<T>(() => {});
      throw fault.error ?? new Error(`injected failure after ${method}`);
    }
    return result;
  };

  const forge: MemoryForge = {
    kind: 'memory',
    calls,
    uploads,
    files: new Map(),
    uploadDelayMs: 0,
    get maxConcurrentUploads() {
      return maxConcurrentUploads;
    },
    issues: (project) => [...projectIssues(project)],
    notes: (project, iid) => [...(findIssue(project, iid)?.notes ?? [])],
    seedIssue,
    inject: (fault) => {
      faults.push(fault);
    },
    callsOf: (method) => calls.filter((call) => call.method === method),

    createIssue: (project: ForgeProjectRef, input: CreateIssueInput) =>
      run('createIssue', project.path, [input], async () =>
        view(
          seedIssue(project.path, {
            title: input.title,
            description: input.description,
            labels: [...input.labels],
            confidential: input.confidential,
          }),
        ),
      ),

    uploadFile: (project: ForgeProjectRef, input: UploadInput) =>
      run(
        'uploadFile',
        project.path,
        [{ filename: input.filename, contentType: input.contentType, size: input.size }],
        async () => {
          inFlightUploads += 1;
          maxConcurrentUploads = Math.max(maxConcurrentUploads, inFlightUploads);
          try {
            if (forge.uploadDelayMs > 0)
              await new Promise((resolve) => setTimeout(resolve, forge.uploadDelayMs));
            const content = await readAll(input.content);
            const secret = (uploads.length + 1).toString(16).padStart(32, '0');
            const url = `/uploads/${secret}/${input.filename}`;
            const alt = input.filename.replace(/\.[^.]*$/, '');
            const markdown = IMAGE.test(input.contentType)
              ? `![${alt}](${url})`
              : `[${input.filename}](${url})`;
            const upload: ForgeUpload = { markdown, url, fullUrl: `${baseUrl}/-/project/1${url}`, alt };
            uploads.push({
              project: project.path,
              filename: input.filename,
              contentType: input.contentType,
              size: input.size,
              content,
              upload,
            });
            return upload;
          } finally {
            inFlightUploads -= 1;
          }
        },
      ),

    addNote: (project, issueIid, input) =>
      run('addNote', project.path, [issueIid, { ...input }], async () => {
        const issue = findIssue(project.path, issueIid);
        if (!issue) throw missing(project.path, issueIid);
        const note: ForgeNote = { id: nextNoteId++, body: input.body, internal: input.internal };
        issue.notes.push(note);
        return { ...note };
      }),

    getIssue: (project, issueIid) =>
      run('getIssue', project.path, [issueIid], async () => {
        const issue = findIssue(project.path, issueIid);
        return issue ? view(issue) : undefined;
      }),

    reopenIssue: (project, issueIid) =>
      run('reopenIssue', project.path, [issueIid], async () => {
        const issue = findIssue(project.path, issueIid);
        if (!issue) throw missing(project.path, issueIid);
        issue.state = 'opened';
      }),

    findIssueByMarker: (project, marker) =>
      run('findIssueByMarker', project.path, [marker], async () => {
        const issue = projectIssues(project.path).find((candidate) => candidate.description.includes(marker));
        return issue ? view(issue) : undefined;
      }),

    findNoteByMarker: (project, issueIid, marker) =>
      run('findNoteByMarker', project.path, [issueIid, marker], async () => {
        const note = findIssue(project.path, issueIid)?.notes.find((candidate) =>
          candidate.body.includes(marker),
        );
        return note ? { ...note } : undefined;
      }),

    readRepoFile: (project, path) =>
      run('readRepoFile', project.path, [path], async () => forge.files.get(`${project.path}:${path}`)),
  };
  return forge;
};
