import type { AttachmentMeta, ParsedMail } from '../../model.ts';
import type { UploadPlan } from '../contracts.ts';
import { Marker, ORIGINAL_FILENAME } from './constants.ts';
import { safeFilename } from './filename.ts';
import { escapeInline } from './markdown/escape.ts';

/**
 * Attachments to upload, planned from metadata only (deliver streams the content later through
 * `AttachmentMeta.open()`; render never reads it).
 *
 * A plan's position in `uploads` is its link target: `postdesk-upload://<position>`, which
 * deliver's `replaceUploadLinks` rewrites to the forge URL.
 */

/** Detached signatures: S/MIME and OpenPGP. Not content, and GitLab drops them too. */
const SIGNATURE_TYPES = new Set(['application/pkcs7-signature', 'application/pgp-signature']);

/**
 * A MIME type for comparison, as GitLab's `AttachmentUploader` compares the `multipart/signed`
 * protocol: lowercased, parameters dropped, an `x-` subtype prefix ignored.
 */
const normaliseType = (type: string): string =>
  (type.split(';')[0] ?? '')
    .trim()
    .toLowerCase()
    .replace(/^([^/]+)\/x-/, '$1/');

const TOKEN = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** The content type sent to the forge: a clean `type/subtype`, or `application/octet-stream`. */
const uploadType = (type: string): string => {
  const bare = (type.split(';')[0] ?? '').trim().toLowerCase();
  return TOKEN.test(bare) ? bare : 'application/octet-stream';
};

export const isSignaturePart = (attachment: AttachmentMeta, mail: ParsedMail): boolean => {
  const type = normaliseType(attachment.contentType);
  if (SIGNATURE_TYPES.has(type)) return true;
  const params = mail.contentTypeParams;
  const protocol =
    mail.contentType === 'multipart/signed' && Object.hasOwn(params, 'protocol')
      ? params['protocol']
      : undefined;
  return protocol !== undefined && normaliseType(protocol) === type;
};

/** Link target placeholder for upload `position` (resolved by `finalize`). */
export const uploadTarget = (position: number): string =>
  `${Marker.uploadOpen}${position}${Marker.uploadClose}`;

/** Keys a Content-ID is known by: as written, percent-decoded (RFC 2392 `cid:` URLs), lowercased. */
const cidKeys = (value: string): string[] => {
  const raw = value.trim().replace(/^<|>$/g, '');
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A malformed escape: match as written.
  }
  return [...new Set([raw, decoded, raw.toLowerCase(), decoded.toLowerCase()])];
};

export interface UploadEntry {
  plan: UploadPlan;
  position: number;
}

/** The uploads of one mail, with lookup by Content-ID for the HTML converter. */
export class UploadList {
  readonly entries: UploadEntry[] = [];
  /** Signature parts left out, for the trace. */
  readonly skippedSignatures: number;
  private readonly byCid = new Map<string, UploadEntry>();
  private originalPosition: number | undefined;

  constructor(mail: ParsedMail) {
    let skipped = 0;
    for (const attachment of mail.attachments) {
      if (isSignaturePart(attachment, mail)) {
        skipped++;
        continue;
      }
      const position = this.entries.length;
      const entry: UploadEntry = {
        position,
        plan: {
          attachment,
          filename: safeFilename(attachment.filename, attachment.contentType, position),
          contentType: uploadType(attachment.contentType),
          inline: false,
        },
      };
      this.entries.push(entry);
      if (attachment.contentId !== undefined) {
        for (const key of cidKeys(attachment.contentId)) if (!this.byCid.has(key)) this.byCid.set(key, entry);
      }
    }
    this.skippedSignatures = skipped;
  }

  /** The upload a `cid:` reference (without the `cid:` scheme) points at, if any. */
  findCid(reference: string): UploadEntry | undefined {
    for (const key of cidKeys(reference)) {
      const entry = this.byCid.get(key);
      if (entry) return entry;
    }
    return undefined;
  }

  /** Shown in place by the body: not listed again after it. */
  markInline(entry: UploadEntry): void {
    entry.plan.inline = true;
  }

  /** Forgets what a failed HTML conversion showed in place, before a text body is used instead. */
  resetInline(): void {
    for (const entry of this.entries) entry.plan.inline = false;
  }

  /** How many uploads the body shows in place. */
  get inlineCount(): number {
    return this.entries.filter((entry) => entry.plan.inline).length;
  }

  /** Adds the raw mail as `original.eml` (when the description was truncated); returns its position. */
  addOriginal(original: AttachmentMeta): number {
    const position = this.entries.length;
    this.originalPosition = position;
    this.entries.push({
      position,
      plan: {
        attachment: original,
        filename: ORIGINAL_FILENAME,
        contentType: 'message/rfc822',
        inline: false,
      },
    });
    return position;
  }

  get plans(): UploadPlan[] {
    return this.entries.map((entry) => entry.plan);
  }

  /**
   * Marked Markdown listing every attachment not shown in place, one per paragraph as GitLab
   * appends them (`"\n\n#{link}"`): `![name](…)` for images, `[name](…)` for the rest.
   */
  listMarkdown(): string {
    return this.entries
      .filter((entry) => !entry.plan.inline && entry.position !== this.originalPosition)
      .map((entry) => linkMarkdown(entry))
      .join('\n\n');
  }
}

/** `[name](target)`, or `![name](target)` for an image; the name is customer text, so escaped. */
export const linkMarkdown = (entry: UploadEntry, label?: string): string => {
  const image = entry.plan.contentType.startsWith('image/');
  const text = escapeInline(label ?? entry.plan.filename, { urls: false });
  return `${image ? '!' : ''}[${text}](${uploadTarget(entry.position)})`;
};
