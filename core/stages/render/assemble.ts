import type { AttachmentMeta } from '../../model.ts';
import { type UploadList, uploadTarget } from './attachments.ts';
import { ORIGINAL_FILENAME, QUOTED_SUMMARY, TEMPLATE_SEPARATOR } from './constants.ts';
import { cutAtCodePoint, type FinalLine, finalize, finalizeLines, fitLines } from './markdown/finalize.ts';
import { cleanText } from './text-clean.ts';

/**
 * Puts a description or a note together and keeps it under the forge's limit.
 *
 * Layout: the `**From:**` line, the body, (the truncation notice), the attachment links, then
 * for a note the quoted part in a collapsed `<details>`, or for an issue the project template.
 * When too long, the least useful part gives way first: the quoted part, then the body. The
 * header, the links and the template are never cut (the template's quick actions must run
 * whole), and a cut never leaves a code fence open.
 */
export interface Sections {
  /** Marked Markdown (one line). */
  header: string;
  /** Marked Markdown. */
  body: string;
  /** Marked Markdown: quoted part of a reply, `''` for none. */
  quoted: string;
  /** Raw template text (issue only): appended as is, its quick actions run. */
  template: string | undefined;
}

export interface Assembled {
  text: string;
  truncated: boolean;
}

const details = (quoted: string): string =>
  `<details><summary>${QUOTED_SUMMARY}</summary>\n\n${quoted}\n\n</details>`;

const notice = (originalPosition: number | undefined): string =>
  originalPosition === undefined
    ? '**Truncated — the mail is longer than the forge accepts; the rest is not shown.**'
    : `**Truncated — the full mail is attached as [${ORIGINAL_FILENAME}](${uploadTarget(originalPosition)}).**`;

const join = (blocks: readonly string[]): string =>
  blocks.filter((block) => block.trim() !== '').join('\n\n');

/**
 * GitLab appends the template with `"  \n"` (`service_desk_handler.rb`). We add a blank line as
 * well: a template line that follows a list item or a table row directly would belong to it, and
 * GitLab only runs quick actions found in top-level paragraphs.
 */
const withTemplate = (head: string, template: string | undefined): string => {
  const text = template === undefined ? '' : cleanText(template);
  if (text.trim() === '') return head;
  return head === '' ? text : `${head}${TEMPLATE_SEPARATOR}\n${text}`;
};

const textOf = (lines: readonly FinalLine[]): string => lines.map((line) => line.text).join('\n');

export const assemble = (
  sections: Sections,
  uploads: UploadList,
  maxChars: number,
  original: AttachmentMeta | undefined,
): Assembled => {
  const header = finalize(sections.header);
  const bodyLines = finalizeLines(sections.body);
  const quotedLines = finalizeLines(sections.quoted);
  const build = (body: string, quoted: string, truncation: string): string =>
    withTemplate(
      join([
        header,
        body,
        truncation,
        finalize(uploads.listMarkdown()),
        quoted === '' ? '' : details(quoted),
      ]),
      sections.template,
    );

  const body = textOf(bodyLines);
  const quoted = textOf(quotedLines);
  const full = build(body, quoted, '');
  if (full.length <= maxChars) return { text: full, truncated: false };

  const originalPosition = original === undefined ? undefined : uploads.addOriginal(original);
  const truncation = finalize(notice(originalPosition));
  let room = maxChars - build('', '', truncation).length;
  let keptBody = '';
  let keptQuoted = '';
  if (body.length + 2 <= room) {
    keptBody = body;
    room -= body.length + 2;
    // The quoted part only if a useful amount of it fits.
    const quotedRoom = room - details('').length - 2;
    if (quoted !== '' && quotedRoom >= 200) keptQuoted = fitLines(quotedLines, quotedRoom).text;
  } else if (room > 2) {
    keptBody = fitLines(bodyLines, room - 2).text;
  }
  const text = build(keptBody, keptQuoted, truncation);
  return { text: cutAtCodePoint(text, maxChars), truncated: true };
};
