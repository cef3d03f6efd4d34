import { MAX_ATTACHMENT_BYTES } from './constants.ts';

/**
 * Note uploads as real attachments (GitLab's `uploads_as_attachments`, gitlab-service-desk.md §5.2,
 * since 16.6): every `/uploads/<secret>/<file>` linked in the note is fetched; when they total at
 * most 10 MB they are attached and their links rewritten to say so, otherwise every link stays a
 * link (GitLab's all-or-nothing rule, so a customer never gets half the files silently).
 */

export interface FetchedUpload {
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * Fetches the bytes of one upload, given its absolute URL. Returns undefined when it cannot be had
 * (gone, too large, not an upload of this forge); throws TransientError on an outage. Injected:
 * GitLab's implementation lives in the notify function's wiring, local mode's reads the file forge.
 */
export type FetchUpload = (url: string) => Promise<FetchedUpload | undefined>;

export interface EmbeddedUploads {
  /** The note with the links of attached files rewritten (unchanged when nothing was attached). */
  markdown: string;
  attachments: FetchedUpload[];
  /** Why uploads stayed links, when some did. */
  reason?: 'over_limit' | 'unavailable' | undefined;
}

/**
 * `[text](target)` or `![alt](target)` where the target is a GitLab upload: relative
 * (`/uploads/<secret>/<name>`) or absolute (`https://host/group/project/uploads/<secret>/<name>`).
 * The secret is hex (32 characters in current GitLab).
 */
const UPLOAD_LINK =
  /(!?)\[([^\]\n]{0,500})\]\(((?:https?:\/\/[^\s()]*?)?\/uploads\/[0-9a-f]{16,64}\/[^\s()]{1,500})\)/g;

const absoluteUrl = (target: string, projectWebUrl: string | undefined): string | undefined => {
  if (/^https?:\/\//i.test(target)) return target;
  if (!projectWebUrl) return undefined;
  return `${projectWebUrl.replace(/\/+$/, '')}${target}`;
};

/** Names as they appear in a link (`my%20file.pdf`) decoded, for display. */
const displayName = (target: string): string => {
  const last = target.split('/').pop() ?? target;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
};

/** Markdown-escapes a file name for the rewritten text. */
const escapeMarkdown = (text: string): string => text.replace(/([\\`*_[\]<>#|~])/g, '\\$1');

export const embedUploads = async (
  markdown: string,
  options: { fetchUpload: FetchUpload; projectWebUrl?: string | undefined; limitBytes?: number | undefined },
): Promise<EmbeddedUploads> => {
  const limit = options.limitBytes ?? MAX_ATTACHMENT_BYTES;
  const targets = [...new Set([...markdown.matchAll(UPLOAD_LINK)].map((match) => match[3] ?? ''))].filter(
    (target) => target !== '',
  );
  if (targets.length === 0) return { markdown, attachments: [] };

  const fetched = new Map<string, FetchedUpload>();
  let total = 0;
  for (const target of targets) {
    const url = absoluteUrl(target, options.projectWebUrl);
    if (!url) return { markdown, attachments: [], reason: 'unavailable' };
    const upload = await options.fetchUpload(url);
    if (!upload) return { markdown, attachments: [], reason: 'unavailable' };
    total += upload.content.length;
    // Stop fetching as soon as the total is over: the rest would be thrown away.
    if (total > limit) return { markdown, attachments: [], reason: 'over_limit' };
    fetched.set(target, upload);
  }

  const rewritten = markdown.replace(UPLOAD_LINK, (whole, _bang: string, _text: string, target: string) => {
    const upload = fetched.get(target);
    if (!upload) return whole;
    return `**${escapeMarkdown(upload.filename || displayName(target))}** (attached)`;
  });
  return { markdown: rewritten, attachments: [...fetched.values()] };
};
