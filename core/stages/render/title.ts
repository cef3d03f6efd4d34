import { MAX_TITLE_CHARS, NO_SUBJECT } from './constants.ts';
import { BIDI_CONTROLS, cleanText } from './text-clean.ts';

const LINE_BREAKS_AND_TABS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
const SPACE_RUNS = / {2,}/g;

/**
 * A mention in the title would notify: GitLab declares `attr_mentionable :title, pipeline:
 * :single_line` (app/models/concerns/issuable.rb), and that pipeline has no Markdown step, so a
 * backslash would not stop `UserReferenceFilter` (`(?<!\w)@name`). The `@` of a would-be mention
 * becomes U+FF20 FULLWIDTH COMMERCIAL AT, which no reference pattern matches; addresses such as
 * `jane@example.com` (the `@` follows a word character) are left alone.
 */
const TITLE_MENTION = /(?<![A-Za-z0-9_])@(?=[A-Za-z0-9_])/g;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Cuts to at most `max` code points, at a grapheme boundary so no emoji or accent is split. */
const capCodePoints = (text: string, max: number): string => {
  const head = Array.from(text.slice(0, max * 2 + 2)).slice(0, max + 1);
  if (head.length <= max) return head.join('');
  let out = '';
  let count = 0;
  for (const { segment } of segmenter.segment(head.join(''))) {
    const size = Array.from(segment).length;
    if (count + size > max) break;
    out += segment;
    count += size;
  }
  return out.trimEnd();
};

/**
 * The issue title: the decoded subject with line breaks and tabs folded to one space, control and
 * bidi-override characters removed, capped at GitLab's 255 characters, `(no subject)` when empty.
 * `Re:`/`Fwd:` prefixes are kept, as GitLab keeps them.
 */
export const renderTitle = (subject: string | undefined): string => {
  const folded = cleanText(subject ?? '')
    .replace(BIDI_CONTROLS, '')
    .replace(LINE_BREAKS_AND_TABS, ' ')
    .replace(SPACE_RUNS, ' ')
    .trim();
  if (folded === '') return NO_SUBJECT;
  return capCodePoints(folded.replace(TITLE_MENTION, '\uFF20'), MAX_TITLE_CHARS);
};
