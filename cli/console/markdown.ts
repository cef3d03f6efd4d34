import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/**
 * Markdown from the forge (issue descriptions and notes, which carry the customer's own words) as
 * HTML the console can show: rendered with marked, then sanitised with sanitize-html to an allow
 * list. No script, no event-handler attribute, no style, no SVG, no iframe survives; links keep
 * http, https and mailto only; images show only when they are the ticket's own uploads (an image
 * from anywhere else would let the sender see when the page is read).
 */

const marked = new Marked({ gfm: true, breaks: true, async: false });

const ALLOWED_TAGS = [
  'p',
  'br',
  'hr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'strong',
  'b',
  'em',
  'i',
  'del',
  's',
  'code',
  'pre',
  'blockquote',
  'ul',
  'ol',
  'li',
  'a',
  'img',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'details',
  'summary',
  'input',
];

/**
 * @param resolveUpload the console URL of an upload link (`../uploads/<id>/<name>`), or undefined
 *   when the link is not one of this ticket's uploads.
 */
export const renderMarkdown = (text: string, resolveUpload: (url: string) => string | undefined): string => {
  const html = marked.parse(text, { async: false });
  return sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ['href', 'title', 'rel'],
      img: ['src', 'alt', 'title'],
      th: ['align'],
      td: ['align'],
      // GFM task lists: a disabled checkbox, nothing else.
      input: ['type', 'checked', 'disabled'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: [] },
    allowProtocolRelative: false,
    transformTags: {
      a: (_tag, attribs) => {
        const local = resolveUpload(attribs['href'] ?? '');
        return {
          tagName: 'a',
          attribs: {
            ...(attribs['title'] === undefined ? {} : { title: attribs['title'] }),
            href: local ?? attribs['href'] ?? '',
            rel: 'noopener noreferrer nofollow',
          },
        };
      },
      img: (_tag, attribs) => {
        const local = resolveUpload(attribs['src'] ?? '');
        if (local === undefined) {
          return {
            tagName: 'em',
            attribs: {},
            text: `[image not shown: ${attribs['alt'] || 'not an upload of this ticket'}]`,
          };
        }
        // An SVG can carry script: offered as a download, never embedded.
        if (/\.svg$/i.test(local)) {
          return {
            tagName: 'a',
            attribs: { href: local, rel: 'noopener noreferrer nofollow' },
            text: attribs['alt'] || 'image',
          };
        }
        return { tagName: 'img', attribs: { src: local, alt: attribs['alt'] ?? '' } };
      },
      input: (_tag, attribs) =>
        attribs['type'] === 'checkbox'
          ? {
              tagName: 'input',
              attribs: { type: 'checkbox', disabled: '', ...('checked' in attribs ? { checked: '' } : {}) },
            }
          : { tagName: 'em', attribs: {}, text: '' },
    },
  });
};
