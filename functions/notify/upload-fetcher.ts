import { TransientError } from '../../core/errors.ts';
import type { FetchedUpload, FetchUpload } from '../../core/outbound/attachments.ts';
import { MAX_ATTACHMENT_BYTES } from '../../core/outbound/constants.ts';

/**
 * `fetchUpload` for GitLab: the bytes of a note upload through the REST API (`GET
 * /projects/:id/uploads/:secret/:filename`, GitLab 17.4 and later), with the bot token. Uploads of
 * confidential and private projects need authentication, and the web route does not take a token.
 *
 * Only URLs on the forge's own origin are fetched (the token is never sent anywhere else), only
 * `/uploads/<hex secret>/<name>` paths, and never more than the attachment limit: a larger file, a
 * 404, or an older GitLab without the endpoint leaves the upload as a link. A timeout or a 5xx is a
 * TransientError (the mail is retried).
 */

export interface GitLabUploadFetcherOptions {
  /** The instance URL from the config (`forge.url`). */
  url: string;
  token: () => Promise<string>;
  /** @default MAX_ATTACHMENT_BYTES */
  maxBytes?: number | undefined;
  /** @default 15000 */
  timeoutMs?: number | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
}

/** After the instance root: `/<group>/<project>/uploads/<secret>/<name>` or `/-/project/<id>/uploads/<secret>/<name>`. */
const UPLOAD_PATH = /^\/(?:-\/project\/(\d+)|(.+?))\/uploads\/([0-9a-f]{16,64})\/([^/]+)$/;

export const createGitLabUploadFetcher = (options: GitLabUploadFetcherOptions): FetchUpload => {
  const base = new URL(options.url);
  const root = base.pathname.replace(/\/+$/, '');
  const maxBytes = options.maxBytes ?? MAX_ATTACHMENT_BYTES;
  const doFetch = options.fetch ?? fetch;

  return async function fetchUpload(url: string): Promise<FetchedUpload | undefined> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return undefined;
    }
    if (target.origin !== base.origin) return undefined;
    if (!target.pathname.startsWith(`${root}/`)) return undefined;
    const match = UPLOAD_PATH.exec(target.pathname.slice(root.length));
    if (!match) return undefined;
    const [, numericId, projectPath, secret = '', name = ''] = match;
    let project: string;
    try {
      project = numericId ?? encodeURIComponent(decodeURIComponent(projectPath ?? ''));
    } catch {
      return undefined;
    }
    const api = `${base.origin}${root}/api/v4/projects/${project}/uploads/${secret}/${name}`;

    let response: Response;
    try {
      response = await doFetch(api, {
        headers: { 'PRIVATE-TOKEN': await options.token() },
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      throw new TransientError('upload_fetch_failed', `fetching a note upload failed (${String(error)})`, {
        cause: error,
      });
    }
    if (response.status >= 500 || response.status === 429) {
      throw new TransientError(
        'upload_fetch_failed',
        `fetching a note upload: GitLab answered ${response.status}`,
      );
    }
    if (!response.ok || !response.body) return undefined;
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body.cancel();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += chunk.length;
      if (size > maxBytes) return undefined;
      chunks.push(Buffer.from(chunk));
    }
    let filename = name;
    try {
      filename = decodeURIComponent(name);
    } catch {
      // keep the name as written
    }
    return {
      filename,
      contentType:
        (response.headers.get('content-type') ?? 'application/octet-stream').split(';')[0]?.trim() ||
        'application/octet-stream',
      content: Buffer.concat(chunks),
    };
  };
};
