/**
 * Caps, detail codes and internal markers of the render stage. A reader who sees `html_too_deep`
 * in a decision trace's detail finds the rule by searching for it here; the stage's reason codes
 * live with the rules that emit them (body.ts, note.ts, failure.ts).
 */

/** Verdict of every draft that rendered. */
export const RENDERED = 'rendered';

/** Why text/plain was not used although the mail has one. */
export const TextRejected = {
  blank: 'text_blank',
  /** GitLab's sanity check (`reply_parser.rb`): the "text" is a MIME structure that leaked. */
  mimeLeak: 'text_mime_leak',
  /** "View this email in your browser" and friends: a stub that points at the HTML. */
  stub: 'text_stub',
  /** The text part holds the HTML's own markup. */
  markup: 'text_is_markup',
  /** The HTML shows inline images (cid:) that a text body would only list at the end. */
  inlineImages: 'html_has_inline_images',
} as const;
export type TextRejected = (typeof TextRejected)[keyof typeof TextRejected];

/** Why the HTML was not converted. */
export const HtmlRejected = {
  tooLarge: 'html_too_large',
  tooDeep: 'html_too_deep',
  converterFailed: 'html_converter_failed',
  /** The conversion left nothing to read (everything hidden, or images only). */
  empty: 'html_empty',
} as const;
export type HtmlRejected = (typeof HtmlRejected)[keyof typeof HtmlRejected];

/**
 * Longest HTML body converted, in characters. Real mail, even heavy newsletters, stays well under
 * it; the hostile fixtures `htmllargecallstack.eml` (570 kB) and `outofmemory.eml` (1.1 MB) are
 * above it and fall back to text. Turndown's cost is O(size × depth), see docs/RENDER.md.
 */
export const MAX_HTML_CHARS = 400_000;

/**
 * Deepest element nesting converted (estimated from the tags, see `html/depth.ts`). Turndown
 * recurses per element and overflows the stack near 2,000 levels, and its blank-node checks make it
 * quadratic in depth (1,000 empty levels take 0.3 s); real mail nests a few dozen levels.
 */
export const MAX_HTML_DEPTH = 200;

/** GitLab's title limit (`Issuable` validates `title` at 255 characters). */
export const MAX_TITLE_CHARS = 255;

/** Longest upload file name, in UTF-8 bytes (255 is the usual file-system limit; leave room). */
export const MAX_FILENAME_BYTES = 200;

/** Title used when the subject is absent or blank, as GitLab does. */
export const NO_SUBJECT = '(no subject)';

/** Summary of the collapsed block that keeps the trimmed part of a reply. */
export const QUOTED_SUMMARY = 'Quoted text';

/** GitLab's separator between the description and the template (`service_desk_handler.rb`). */
export const TEMPLATE_SEPARATOR = '  \n';

/** File name of the raw mail attached when the description had to be truncated. */
export const ORIGINAL_FILENAME = 'original.eml';

/**
 * Internal markers used while rendering, resolved by `markdown/finalize.ts` before anything leaves
 * the stage. They are Unicode noncharacters (U+FDD0..U+FDEF, "permanently reserved for internal
 * use"), so no legitimate mail contains them; `cleanText` strips them from every customer string
 * first, which is what makes them trustworthy.
 */
export const Marker = {
  /** Stands for a backslash escape we added (resolved to `\`, or dropped inside a redacted quick action). */
  escape: '\uFDD0',
  /** Prefixes a line of code (fence or content): never a quick action, never trimmed as a quote. */
  verbatim: '\uFDD1',
  /** `\uFDD2<n>\uFDD3` is our own link target to upload `<n>`; resolved to `postdesk-upload://<n>`. */
  uploadOpen: '\uFDD2',
  uploadClose: '\uFDD3',
  /** Where the quoted part of an HTML reply begins (a Gmail/Outlook/Thunderbird quote element). */
  quoteSplit: '\uFDD4',
  /** Delimit a data-table cell and row while the table rule assembles a GFM table. */
  cellOpen: '\uFDD5',
  cellClose: '\uFDD6',
  rowOpen: '\uFDD7',
  rowClose: '\uFDD8',
} as const;
