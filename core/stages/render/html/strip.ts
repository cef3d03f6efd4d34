/**
 * HTML to plain text without a DOM: the fallback when the HTML is too large or too deep to
 * convert and the mail has no text/plain. Linear: every search moves forward with `indexOf`.
 */

/** Elements whose content is never text for a reader. */
const RAW_TEXT_ELEMENTS = ['script', 'style', 'head', 'title', 'xml', 'noscript', 'template'];
/** Tags after which the text continues on a new line. */
const LINE_BREAKING =
  /^\/?(?:br|p|div|tr|li|h[1-6]|table|blockquote|pre|hr|section|article|header|footer|ul|ol)\b/i;

const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', '\u00A0'],
]);

const decodeEntities = (text: string): string =>
  text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, body: string) => {
    if (body.startsWith('#')) {
      const code =
        body[1] === 'x' || body[1] === 'X' ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
        ? String.fromCodePoint(code)
        : whole;
    }
    return NAMED_ENTITIES.get(body.toLowerCase()) ?? whole;
  });

export const stripHtml = (html: string): string => {
  const lower = html.toLowerCase();
  let out = '';
  let index = 0;
  while (index < html.length) {
    const open = html.indexOf('<', index);
    if (open === -1) {
      out += html.slice(index);
      break;
    }
    out += html.slice(index, open);
    if (lower.startsWith('<!--', open)) {
      const end = html.indexOf('-->', open + 4);
      index = end === -1 ? html.length : end + 3;
      continue;
    }
    const close = html.indexOf('>', open + 1);
    if (close === -1) {
      out += html.slice(open);
      break;
    }
    const tag = html.slice(open + 1, close);
    const name = /^[a-z][a-z0-9:-]*/i.exec(tag)?.[0]?.toLowerCase();
    if (name !== undefined && RAW_TEXT_ELEMENTS.includes(name)) {
      const end = lower.indexOf(`</${name}`, close + 1);
      const after = end === -1 ? -1 : html.indexOf('>', end);
      if (after !== -1) {
        index = after + 1;
        continue;
      }
      // Never closed: a browser would hide the rest, but this is the last resort for showing
      // the mail at all, so only code (script, style) is dropped to the end.
      if (name === 'script' || name === 'style') break;
    }
    if (LINE_BREAKING.test(tag)) out += '\n';
    index = close + 1;
  }
  // Per line `trimEnd`, not a `[ \t]+\n` regex, which backtracks quadratically on long runs.
  return decodeEntities(out)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
};
