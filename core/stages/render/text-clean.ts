/**
 * Cleaning applied to every string that comes from the mail before render looks at it.
 *
 * - Line ends become LF.
 * - C0 and C1 control characters go, except tab and line feed: NUL in particular is rejected by
 *   PostgreSQL text columns (GitLab answers 500), and the others only garble the page.
 * - Unicode noncharacters (U+FDD0..U+FDEF, U+FFFE, U+FFFF) go: render uses the first range as its
 *   own markers (constants.ts `Marker`), so customer text must never carry one.
 * - A lone surrogate (invalid UTF-16, e.g. from a broken decoder) becomes U+FFFD, so the JSON sent
 *   to the forge is valid UTF-8.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFDD0-\uFDEF\uFFFE\uFFFF]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LINE_ENDS = /\r\n?/g;

export const cleanText = (text: string): string =>
  text.replace(LINE_ENDS, '\n').replace(CONTROL, '').replace(LONE_SURROGATE, '\uFFFD');

/**
 * Bidirectional embedding, override and isolate controls. A right-to-left override makes
 * `invoice\u202Efdp.exe` display as `invoiceexe.pdf`; nothing a title or a file name needs.
 */
export const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** The bidi marks too (LRM, RLM, ALM), plus zero-width characters: removed from file names only. */
export const INVISIBLE_IN_NAMES = /[\u202A-\u202E\u2066-\u2069\u200B-\u200F\u061C\u2060\uFEFF\u180E]/g;
