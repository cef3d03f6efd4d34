import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FileForge } from '../../adapters/forges/file/index.ts';
import type { LocalHttpResponse } from '../../adapters/local/webhook-server.ts';
import type { DeskConfig, ProjectConfig } from '../../core/config/schema.ts';
import { errorMessage, PermanentError } from '../../core/errors.ts';
import { tokensMatch, type WebhookRequest } from '../../core/outbound/webhook.ts';
import type { QuarantineEntry } from '../../core/state/quarantine.ts';
import { normalizeMessageId, type TicketStore } from '../../core/state/tickets.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import type { QueueEntry } from '../local-queue.ts';
import type { TeamReplyInput, TeamReplyResult } from '../local-team.ts';
import { listTraces, traceTouches } from '../local-traces.ts';
import { type Html, page } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import { readOutbox } from './outbox.ts';
import {
  dlqPage,
  mailPage,
  messagePage,
  quarantinePage,
  replyBox,
  type ThreadItem,
  type TicketRow,
  ticketPage,
  ticketsPage,
} from './pages.ts';

/**
 * The local desk's console: the tickets, one ticket's whole conversation (the issue, its notes, and
 * the mail the customer received), the decision trace of every mail, the team's reply box, and
 * quarantine and dead letters, served on the local webhook listener (http://127.0.0.1:8025/).
 *
 * It serves GET pages and POSTs under `/-/`; everything else is the webhook's. Because the customer's
 * text is hostile and the listener is reachable by any page the browser has open, every response
 * carries a strict Content-Security-Policy (scripts from the console's own file only, no inline
 * script), every request must name the console's own host in `Host` (a DNS-rebinding page names its
 * own), and every POST must carry the console's CSRF token and, when the browser sends one, the
 * console's own Origin.
 */

/** The console reads the same plain requests as the webhook, on the same listener. */
export type ConsoleRequest = WebhookRequest;
export type ConsoleResponse = LocalHttpResponse;

export interface ConsoleDeps {
  config: DeskConfig;
  /** The file forge; undefined when the desk delivers to GitLab (the console then shows mail only). */
  forge: FileForge | undefined;
  tickets: TicketStore;
  dataDir: string;
  outboxDir: string;
  /**
   * `host:port` values the console answers to; read per request (the port is known after listen).
   * None: the desk listens beyond loopback, and the console is off.
   */
  allowedHosts: () => readonly string[];
  reply: (input: TeamReplyInput) => Promise<TeamReplyResult>;
  listQuarantine: () => Promise<QuarantineEntry[]>;
  release: (id: string) => Promise<{ result: string; message: string }>;
  listDead: () => Promise<QueueEntry[]>;
  redrive: (id: string) => Promise<boolean>;
  /** @default 32 random bytes per start */
  csrfToken?: string | undefined;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the console's own forms.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

const respond = (
  status: number,
  body: string | Buffer,
  type: string,
  extra: Record<string, string> = {},
): ConsoleResponse => ({ status, headers: { ...SECURITY_HEADERS, 'content-type': type, ...extra }, body });

const htmlResponse = (status: number, body: string): ConsoleResponse =>
  respond(status, body, 'text/html; charset=utf-8');

const redirect = (to: string): ConsoleResponse =>
  respond(303, '', 'text/plain; charset=utf-8', { location: to });

const ASSETS_DIR = new URL('./assets/', import.meta.url);
const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/** Image types shown inline; anything else (SVG included: it can carry script) is a download. */
const INLINE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** Pages answered by the console; anything else goes to the webhook. */
export const isConsoleRequest = (request: Omit<ConsoleRequest, 'body'>): boolean => {
  if (request.path.startsWith('/unsubscribe/')) return false;
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  return request.method === 'POST' && request.path.startsWith('/-/');
};

/** A fingerprint of what the console shows: names and times of the files under the data folder. */
const stateVersion = async (dataDir: string): Promise<string> => {
  const hash = createHash('sha256');
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8 || seen > 20_000) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      seen += 1;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, depth + 1);
      else if (!entry.name.startsWith('.')) {
        const info = await stat(path).catch(() => undefined);
        hash.update(`${path}\0${info?.mtimeMs ?? 0}\0${info?.size ?? 0}\n`);
      }
    }
  };
  for (const part of ['forge', 'outbox', 'traces', 'dlq', join('state', 'quarantine')]) {
    await walk(join(dataDir, part), 0);
  }
  return hash.digest('hex').slice(0, 16);
};

export const createConsole = (deps: ConsoleDeps) => {
  const csrf = deps.csrfToken ?? randomBytes(32).toString('base64url');

  const projectByKey = (key: string): ProjectConfig | undefined =>
    deps.config.projects.find((project) => project.key === key);

  const refOf = (project: ProjectConfig) => ({
    path: project.path,
    ...(project.id === undefined ? {} : { id: project.id }),
  });

  const render = async (title: string, live: Html, after?: Html): Promise<ConsoleResponse> =>
    htmlResponse(200, page({ title, live, after, version: await stateVersion(deps.dataDir) }));

  const ticketRows = async (project: ProjectConfig): Promise<TicketRow[]> => {
    if (!deps.forge) return [];
    const rows: TicketRow[] = [];
    for (const issue of await deps.forge.listIssues(refOf(project))) {
      const [thread, record] = await Promise.all([
        deps.forge.readThread(refOf(project), issue.iid),
        deps.tickets.get(project.path, issue.iid),
      ]);
      const times = [issue.updatedAt, ...(thread?.notes.map((note) => note.createdAt) ?? [])].sort();
      rows.push({
        issue,
        customers: record?.participants ?? [],
        lastActivity: times.at(-1) ?? issue.updatedAt,
      });
    }
    return rows;
  };

  const index = async (): Promise<ConsoleResponse> => {
    const projects = await Promise.all(
      deps.config.projects.map(async (project) => ({ project, rows: await ticketRows(project) })),
    );
    const note =
      deps.forge === undefined
        ? 'This desk delivers to GitLab: tickets are there. Mail, quarantine and dead letters are here.'
        : undefined;
    return render('Tickets', ticketsPage(projects, note));
  };

  const ticket = async (project: ProjectConfig, iid: number): Promise<ConsoleResponse> => {
    const thread = deps.forge ? await deps.forge.readThread(refOf(project), iid) : undefined;
    if (!thread || !deps.forge) return notFound();
    const forge = deps.forge;
    const record = await deps.tickets.get(project.path, iid);
    const base = `/tickets/${encodeURIComponent(project.key)}/${iid}/files/`;
    const resolveUpload = (url: string): string | undefined =>
      forge.uploadPath(refOf(project), url) === undefined
        ? undefined
        : base + url.slice('../uploads/'.length);
    const sentIds = new Set((record?.outboundMessageIds ?? []).map(normalizeMessageId));
    const sent = (await readOutbox(deps.outboxDir)).filter(
      (mail) => mail.messageId !== undefined && sentIds.has(normalizeMessageId(mail.messageId)),
    );
    const items: ThreadItem[] = [
      {
        kind: 'description',
        at: thread.issue.createdAt,
        html: renderMarkdown(thread.description, resolveUpload),
      },
      ...thread.notes.map(
        (note): ThreadItem => ({
          kind: 'note',
          at: note.createdAt,
          id: note.id,
          internal: note.internal,
          author: note.author,
          html: renderMarkdown(note.body, resolveUpload),
        }),
      ),
      ...sent.map((mail): ThreadItem => ({ kind: 'sent', at: mail.date.toISOString(), mail })),
    ];
    // By time (sent mail to the millisecond, from its outbox name); at the same moment the forge's
    // order comes first and sent mail after what it answers.
    const ordered = items
      .map((item, position) => ({ item, position }))
      .sort(
        (a, b) =>
          a.item.at.localeCompare(b.item.at) ||
          Number(a.item.kind === 'sent') - Number(b.item.kind === 'sent') ||
          a.position - b.position,
      )
      .map(({ item }) => item);
    const traces = (await listTraces(deps.dataDir)).filter((trace) => traceTouches(trace, project.path, iid));
    return render(
      `${project.path}#${iid}`,
      ticketPage(project, thread, record?.participants ?? [], ordered, traces),
      replyBox(project, iid, thread.issue.state, csrf),
    );
  };

  const upload = async (project: ProjectConfig, id: string, name: string): Promise<ConsoleResponse> => {
    const path = deps.forge?.uploadPath(refOf(project), `../uploads/${id}/${name}`);
    if (path === undefined) return notFound();
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch {
      return notFound();
    }
    const filename = decodeURIComponent(name);
    const inline = INLINE_TYPES[extname(filename).toLowerCase()];
    return respond(200, content, inline ?? 'application/octet-stream', {
      'content-disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(filename)}`,
      // Even opened directly, an upload runs nothing.
      'content-security-policy': "default-src 'none'; sandbox",
    });
  };

  const asset = async (name: string): Promise<ConsoleResponse> => {
    const type = ASSETS[name];
    if (type === undefined) return notFound();
    return respond(200, await readFile(new URL(name, ASSETS_DIR)), type, { 'cache-control': 'no-cache' });
  };

  const notFound = (): ConsoleResponse =>
    htmlResponse(
      404,
      page({
        title: 'Not found',
        live: messagePage('Not found', 'There is nothing here.', '/'),
        version: '',
      }),
    );

  const refuse = (status: number, text: string): ConsoleResponse =>
    respond(status, `${text}\n`, 'text/plain; charset=utf-8');

  /** The POST form fields, after the CSRF token and the Origin are checked; undefined when refused. */
  const formOf = (request: ConsoleRequest): URLSearchParams | undefined => {
    const origin = request.headers['origin'];
    if (origin !== undefined && !deps.allowedHosts().some((host) => origin === `http://${host}`))
      return undefined;
    const form = new URLSearchParams(request.body.toString('utf8'));
    const given = form.get('csrf');
    if (given === null || !tokensMatch(given, csrf)) return undefined;
    return form;
  };

  const post = async (request: ConsoleRequest): Promise<ConsoleResponse> => {
    const form = formOf(request);
    if (!form)
      return refuse(
        403,
        'refused: this form did not come from the console (CSRF token or Origin missing or wrong)',
      );
    const replyPath = /^\/-\/reply\/([a-z0-9_]+)\/(\d+)$/.exec(request.path);
    if (replyPath) {
      const project = projectByKey(replyPath[1] ?? '');
      const iid = Number(replyPath[2]);
      if (!project) return notFound();
      const state = form.get('state');
      await deps.reply({
        project: project.path,
        iid,
        message: form.get('message') ?? '',
        internal: form.get('visibility') === 'internal',
        state: state === 'close' || state === 'reopen' ? state : undefined,
      });
      return redirect(`/tickets/${encodeURIComponent(project.key)}/${iid}`);
    }
    const release = /^\/-\/quarantine\/([A-Za-z0-9_][A-Za-z0-9._-]{0,199})\/release$/.exec(request.path);
    if (release) {
      const result = await deps.release(release[1] ?? '');
      return render('Released', messagePage(`Release: ${result.result}`, result.message, '/quarantine'));
    }
    const redrive = /^\/-\/dlq\/([A-Za-z0-9_][A-Za-z0-9._-]{0,199})\/redrive$/.exec(request.path);
    if (redrive) {
      const moved = await deps.redrive(redrive[1] ?? '');
      return moved ? redirect('/dlq') : notFound();
    }
    return notFound();
  };

  const get = async (path: string): Promise<ConsoleResponse> => {
    if (path === '/') return index();
    if (path === '/-/version') {
      return respond(200, JSON.stringify({ version: await stateVersion(deps.dataDir) }), 'application/json');
    }
    const assetPath = /^\/assets\/([a-z.]+)$/.exec(path);
    if (assetPath) return asset(assetPath[1] ?? '');
    if (path === '/mail') {
      const traces: DecisionTrace[] = (await listTraces(deps.dataDir)).reverse();
      return render('Mail', mailPage(traces));
    }
    if (path === '/quarantine')
      return render('Quarantine', quarantinePage(await deps.listQuarantine(), csrf));
    if (path === '/dlq') return render('Dead letters', dlqPage(await deps.listDead(), csrf));
    const ticketPath = /^\/tickets\/([a-z0-9_]+)\/(\d+)(?:\/files\/([0-9a-f]{32})\/([^/]+))?$/.exec(path);
    if (ticketPath) {
      const project = projectByKey(ticketPath[1] ?? '');
      const iid = Number(ticketPath[2]);
      if (!project || !Number.isSafeInteger(iid) || iid <= 0) return notFound();
      if (ticketPath[3] !== undefined) return upload(project, ticketPath[3], ticketPath[4] ?? '');
      return ticket(project, iid);
    }
    return notFound();
  };

  /** The console's answer, or undefined when the request is the webhook's. */
  const handle = async (request: ConsoleRequest): Promise<ConsoleResponse | undefined> => {
    if (!isConsoleRequest(request)) return undefined;
    if (deps.allowedHosts().length === 0) {
      return refuse(403, 'the console is served only when the desk listens on loopback (--host 127.0.0.1)');
    }
    const host = request.headers['host'];
    if (host === undefined || !deps.allowedHosts().includes(host.toLowerCase())) {
      return refuse(
        421,
        `refused: the console answers only at http://${deps.allowedHosts()[0] ?? '127.0.0.1'}/ (Host ${JSON.stringify(host ?? '')} is not it)`,
      );
    }
    try {
      const response = request.method === 'POST' ? await post(request) : await get(request.path);
      return request.method === 'HEAD' ? { ...response, body: '' } : response;
    } catch (error) {
      if (error instanceof PermanentError) {
        return htmlResponse(
          400,
          page({
            title: 'Refused',
            live: messagePage('That did not work', errorMessage(error), '/'),
            version: '',
          }),
        );
      }
      throw error;
    }
  };

  return { handle, csrfToken: csrf };
};
