import type { UploadList } from './attachments.ts';
import { TextRejected } from './constants.ts';

/**
 * Which part of the mail becomes the body. text/plain first, as GitLab's ReplyParser does, unless
 * it is missing or degenerate; then the HTML.
 */
export type BodyChoice =
  | { kind: 'text'; text: string }
  | { kind: 'html'; html: string; text: string | undefined; textRejected: TextRejected | undefined }
  | { kind: 'none' };

/** Stubs that only point at the HTML version. Checked on short texts only. */
const STUB =
  /\b(?:(?:view|read|see|open|display)\s+(?:this|the)\s+(?:e-?mail|message|newsletter)\s+(?:online|in\s+(?:your|a|the)\s+(?:web\s+)?browser)|view\s+(?:it\s+)?(?:online|in\s+(?:your|a)\s+(?:web\s+)?browser)|(?:html|rich[- ]text)\s+(?:version|e-?mail|message|format)|does(?:n't| not)\s+support\s+html|html[- ]compatible|this\s+is\s+an?\s+html\s+(?:e-?mail|message)|to\s+view\s+this\s+(?:e-?mail|message)|im\s+browser\s+(?:anzeigen|ansehen|öffnen)|version\s+en\s+ligne|ver\s+(?:en\s+el|este\s+correo\s+en\s+(?:el|tu|su))\s+navegador)\b/i;
const STUB_MAX_CHARS = 600;
/** GitLab's sanity check (`lib/gitlab/email/reply_parser.rb`): MIME that leaked into the text. */
const MIME_LEAK = /Content-Type:|multipart\/alternative/;
const TAG = /<\/?[a-z][a-z0-9]*\b[^<>]{0,1000}>/gi;
const CID_REFERENCE = /\bcid:([^"'\s>)]{1,500})/gi;

/** The text part is the HTML's markup (some senders put the same HTML in both parts). */
const isMarkup = (text: string): boolean => {
  // A sample is enough to tell, and keeps the check cheap on a hostile megabyte.
  const trimmed = text.trim().slice(0, 20_000);
  if (!trimmed.startsWith('<')) return false;
  let tags = 0;
  let tagChars = 0;
  for (const match of trimmed.matchAll(TAG)) {
    tags++;
    tagChars += match[0].length;
  }
  return tags >= 3 && tagChars >= trimmed.length * 0.2;
};

/** Does the HTML show an attachment in place (`<img src="cid:…">`) that a text body could not? */
const showsInlineImages = (html: string, uploads: UploadList): boolean => {
  for (const match of html.matchAll(CID_REFERENCE)) {
    if (uploads.findCid(match[1] ?? '') !== undefined) return true;
  }
  return false;
};

const textProblem = (
  text: string,
  html: string | undefined,
  uploads: UploadList,
): TextRejected | undefined => {
  const trimmed = text.trim();
  if (trimmed === '') return TextRejected.blank;
  if (html === undefined) return undefined;
  if (MIME_LEAK.test(text)) return TextRejected.mimeLeak;
  if (trimmed.length <= STUB_MAX_CHARS && STUB.test(trimmed)) return TextRejected.stub;
  if (isMarkup(trimmed)) return TextRejected.markup;
  // Our addition to GitLab's rule: a text part cannot show inline images where the sender put
  // them (and is often only a shortened copy of the HTML, nodemailer.eml for one).
  if (showsInlineImages(html, uploads)) return TextRejected.inlineImages;
  return undefined;
};

export const chooseBody = (
  text: string | undefined,
  html: string | undefined,
  uploads: UploadList,
): BodyChoice => {
  const usableHtml = html !== undefined && html.trim() !== '' ? html : undefined;
  if (text !== undefined) {
    const problem = textProblem(text, usableHtml, uploads);
    if (problem === undefined) return { kind: 'text', text };
    if (usableHtml !== undefined) return { kind: 'html', html: usableHtml, text, textRejected: problem };
    if (problem !== TextRejected.blank) return { kind: 'text', text };
  }
  if (usableHtml !== undefined)
    return { kind: 'html', html: usableHtml, text: undefined, textRejected: undefined };
  return { kind: 'none' };
};
