/**
 * String-level checks and fixes on an HTML body before it reaches the DOM converter. All linear:
 * they run on hostile input before any cap could help.
 */

/** Void elements and elements whose end tag is optional: they do not deepen the tree we count. */
const NON_NESTING = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
  'p',
  'li',
  'dt',
  'dd',
  'tr',
  'td',
  'th',
  'option',
  'optgroup',
  'thead',
  'tbody',
  'tfoot',
  'colgroup',
  'caption',
  'rb',
  'rt',
  'rtc',
  'rp',
  'html',
  'head',
  'body',
]);

const isNameChar = (code: number): boolean =>
  (code >= 97 && code <= 122) ||
  (code >= 65 && code <= 90) ||
  (code >= 48 && code <= 57) ||
  code === 45 ||
  code === 58;

/**
 * The deepest element nesting the markup asks for: open tags minus close tags, ignoring void and
 * optional-end elements. An estimate (the HTML parser also closes and reopens elements), but it
 * never under-counts a tower of `<div>`s, which is what overflows the converter's recursion.
 * One pass: each `<` jumps to the next `>`, and a `<` with no `>` after it ends the scan.
 */
export const estimateDepth = (html: string): number => {
  let depth = 0;
  let deepest = 0;
  let index = html.indexOf('<');
  while (index !== -1) {
    const close = html.indexOf('>', index + 1);
    if (close === -1) break;
    let start = index + 1;
    const closing = html.charCodeAt(start) === 47;
    if (closing) start++;
    let end = start;
    while (end < close && isNameChar(html.charCodeAt(end))) end++;
    if (end > start) {
      const name = html.slice(start, end).toLowerCase();
      const selfClosing = html.charCodeAt(close - 1) === 47;
      if (!NON_NESTING.has(name) && !selfClosing) {
        if (closing) {
          if (depth > 0) depth--;
        } else {
          depth++;
          if (depth > deepest) deepest = depth;
        }
      }
    }
    index = html.indexOf('<', close + 1);
  }
  return deepest;
};

/** Longest run of white space kept; longer runs are cut to this many characters. */
const MAX_WHITESPACE_RUN = 64;
const WHITESPACE_RUN = /(?:[ \t\r\n\f\u00A0]|&nbsp;|&#160;|&#xa0;){65,}/gi;

/**
 * Shortens runs of white space (and `&nbsp;`) longer than 64 characters. Turndown's
 * white-space handling backtracks quadratically on long runs (50,000 spaces in a `<pre>` take
 * 2 s, 100,000 take 14 s; measured with turndown 7.2.5), and no real mail needs such a run.
 */
export const shortenWhitespaceRuns = (html: string): string =>
  html.replace(WHITESPACE_RUN, (run) => {
    const plain = run.replace(/&nbsp;|&#160;|&#xa0;/gi, '\u00A0');
    return plain.slice(0, MAX_WHITESPACE_RUN);
  });
