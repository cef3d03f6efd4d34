import type TurndownService from 'turndown';
import { linkMarkdown, type UploadList } from '../attachments.ts';
import { Marker } from '../constants.ts';
import { codeSpan, defuseUploadScheme, escapeInline, unmark } from '../markdown/escape.ts';
import { fencedBlock } from '../markdown/fence.ts';
import {
  attribute,
  classesOf,
  closest,
  type DomElement,
  elementChildren,
  isElement,
  isHidden,
  isTrackingPixel,
} from './dom.ts';
import { dataCell, dataRow, dataTable, TableKinds } from './tables.ts';

/** What the rules of one conversion share. */
export interface RuleContext {
  /** `reply`: mark where the quoted part starts (`Marker.quoteSplit`); `issue`: keep everything. */
  mode: 'issue' | 'reply';
  uploads: UploadList;
}

interface EmailRule {
  filter: string[] | ((node: DomElement) => boolean);
  replacement: (content: string, node: DomElement) => string;
}

/** Elements whose content a reader never sees (or that we do not render), dropped whole. */
const DROPPED = new Set([
  'SCRIPT',
  'STYLE',
  'HEAD',
  'TITLE',
  'META',
  'LINK',
  'BASE',
  'NOSCRIPT',
  'TEMPLATE',
  'XML',
  'IFRAME',
  'FRAME',
  'OBJECT',
  'EMBED',
  'SVG',
  'MATH',
  'CANVAS',
  'AUDIO',
  'VIDEO',
  'MAP',
  'SELECT',
  'TEXTAREA',
]);

/** Link schemes kept; anything else (javascript:, data:, file:, cid:, relative) keeps its text only. */
const LINK_SCHEMES = new Set(['http', 'https', 'mailto', 'ftp']);

/**
 * Elements where a client's quoted message starts (peers: Chatwoot, FreeScout, talon): Gmail
 * `gmail_quote`, Thunderbird `moz-cite-prefix`, Apple Mail `<blockquote type="cite">`, Yahoo
 * `yahoo_quoted`, Proton `protonmail_quote`, Outlook `divRplyFwdMsg` / `appendonsend` /
 * `OLK_SRC_BODY_SECTION`, Hotmail `<hr id="stopSpelling">`.
 */
const QUOTE_CLASSES = new Set([
  'gmail_quote',
  'gmail_quote_container',
  'moz-cite-prefix',
  'yahoo_quoted',
  'protonmail_quote',
  'outlookmessageheader',
]);
const QUOTE_IDS =
  /^(?:x_)?(?:divrplyfwdmsg|appendonsend|olk_src_body_section|stopspelling|yahoo_quoted\w*)$/i;

const isQuoteMarker = (node: DomElement): boolean =>
  (node.nodeName === 'BLOCKQUOTE' && attribute(node, 'type').toLowerCase() === 'cite') ||
  classesOf(node).some((name) => QUOTE_CLASSES.has(name)) ||
  QUOTE_IDS.test(attribute(node, 'id'));

/** A URL as a Markdown link destination: nothing in it can end the link or the table cell early. */
export const linkDestination = (url: string): string =>
  defuseUploadScheme(
    url.replace(/[\s<>()\\|]/g, (char) =>
      Array.from(Buffer.from(char, 'utf8'))
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join(''),
    ),
  );

/** Our own autolinks inside a link label become text again: a link cannot hold another. */
const AUTOLINK = /<((?:https?|ftp):\/\/[^<>\s]*)>/gi;
const unAutolink = (label: string): string =>
  label.replace(AUTOLINK, (_whole, url: string) => escapeInline(url, { urls: false }));

const oneLine = (text: string): string =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');

const altText = (image: DomElement): string => oneLine(attribute(image, 'alt') || attribute(image, 'title'));

const linkRule = (): EmailRule => ({
  filter: (node) => node.nodeName === 'A',
  replacement: (content, node) => {
    const href = attribute(node, 'href').trim();
    const scheme = /^([a-z][a-z0-9+.-]{0,20}):/i.exec(href)?.[1]?.toLowerCase();
    if (scheme === undefined || !LINK_SCHEMES.has(scheme)) return content;
    if (isBlockContent(content)) {
      // A link around blocks: keep the blocks, and the address after them.
      return `\n\n${content.trim()}\n\n${/[\s<>]/.test(href) ? linkDestination(href) : `<${defuseUploadScheme(href)}>`}\n\n`;
    }
    const label = unAutolink(oneLine(content));
    if (label === '') return '';
    const shown = unmark(label);
    if (scheme === 'mailto' && `mailto:${shown}` === href) return label;
    if (shown === href && !/[\s<>]/.test(href)) return `<${defuseUploadScheme(href)}>`;
    return `[${label}](${linkDestination(href)})`;
  },
});

const imageRule = (context: RuleContext): EmailRule => ({
  filter: ['img'],
  replacement: (_content, node) => {
    if (isHidden(node) || isTrackingPixel(node)) return '';
    const source = attribute(node, 'src').trim();
    const alt = altText(node);
    const altOnly = alt === '' ? '' : escapeInline(alt, { urls: false });
    if (/^cid:/i.test(source)) {
      const entry = context.uploads.findCid(source.slice(4));
      if (entry === undefined) return altOnly;
      context.uploads.markInline(entry);
      return linkMarkdown(entry, alt === '' ? undefined : alt);
    }
    // Remote images become links, not images: showing one would tell the sender (or a tracker)
    // when and from where each agent opened the issue.
    if (/^https?:\/\//i.test(source)) {
      if (closest(node, 'A') !== undefined) return altOnly;
      return `[${escapeInline(alt === '' ? 'image' : alt, { urls: false })}](${linkDestination(source)})`;
    }
    return altOnly;
  },
});

const preRule = (): EmailRule => ({
  filter: ['pre'],
  replacement: (_content, node) => {
    const code = node.textContent ?? '';
    if (code.trim() === '') return '';
    const inner = elementChildren(node).find((child) => child.nodeName === 'CODE');
    const language =
      /language-([A-Za-z0-9_+-]{1,32})/.exec(inner ? attribute(inner, 'class') : '')?.[1] ?? '';
    return `\n\n${fencedBlock(code, language)}\n\n`;
  },
});

/** Inline code holds its text literally (markup inside, even a `<pre>`, is flattened). */
const inlineCodeRule = (): EmailRule => ({
  filter: (node) => node.nodeName === 'CODE' && node.parentNode?.nodeName !== 'PRE',
  replacement: (content, node) => {
    const text = (node.textContent ?? '').replace(/\r\n|\r|\n/g, ' ');
    return text.trim() === '' ? content : codeSpan(text);
  },
});

/**
 * `**bold**` and `_italic_` with the white space and line breaks at their edges moved outside:
 * `<b><br>text</b>` would otherwise give `**  \ntext**`, which no Markdown reads as bold.
 */
const emphasisRule = (names: string[], delimiter: string): EmailRule => ({
  filter: names,
  replacement: (content) => {
    const inner = content.trim();
    if (inner === '') return content;
    // Emphasis is inline: around blocks (paragraphs, code) it would decorate a fence line. The
    // blocks stay blocks (turndown trims an inline element's content when it has white space at
    // its edges, which would glue a fence to the text before it).
    if (isBlockContent(inner)) return `\n\n${inner}\n\n`;
    const lead = content.slice(0, content.length - content.trimStart().length);
    const trail = content.slice(content.trimEnd().length);
    return `${lead}${delimiter}${inner}${delimiter}${trail}`;
  },
});

/** Content that holds blocks (a blank line, or one of our code lines): no inline wrapper around it. */
const isBlockContent = (content: string): boolean =>
  content.includes('\n\n') || content.includes(Marker.verbatim);

const tableRules = (kinds: TableKinds): [string, EmailRule][] => [
  ['postdeskTableColumns', { filter: ['colgroup', 'col'], replacement: () => '' }],
  [
    'postdeskTableCaption',
    {
      filter: ['caption'],
      replacement: (content, node) => (kinds.around(node) === 'data' ? '' : `\n\n${content}\n\n`),
    },
  ],
  ['postdeskTableSection', { filter: ['thead', 'tbody', 'tfoot'], replacement: (content) => content }],
  [
    'postdeskTableCell',
    {
      filter: ['td', 'th'],
      replacement: (content, node) =>
        kinds.around(node) === 'data' ? dataCell(content, node) : `\n\n${content}\n\n`,
    },
  ],
  [
    'postdeskTableRow',
    {
      filter: ['tr'],
      replacement: (content, node) =>
        kinds.around(node) === 'data' ? dataRow(content) : `\n\n${content}\n\n`,
    },
  ],
  [
    'postdeskTable',
    {
      filter: ['table'],
      replacement: (content, node) => {
        if (kinds.of(node) !== 'data') return `\n\n${content}\n\n`;
        const caption = elementChildren(node).find((child) => child.nodeName === 'CAPTION');
        const title = caption ? escapeInline(oneLine(caption.textContent ?? ''), { urls: false }) : '';
        return dataTable(content, title);
      },
    },
  ],
];

/**
 * Adds the mail rules to a turndown service. Turndown tries the rule added last first, so the
 * order below goes from the most specific element rules to the catch-alls that must win: a
 * hidden element is dropped whatever it is.
 */
export const addEmailRules = (service: TurndownService, context: RuleContext): void => {
  const add = (name: string, rule: EmailRule): void => {
    service.addRule(name, rule as unknown as TurndownService.Rule);
  };
  add('postdeskStrikethrough', emphasisRule(['del', 's', 'strike'], '~~'));
  add('postdeskStrong', emphasisRule(['strong', 'b'], '**'));
  add('postdeskEmphasis', emphasisRule(['em', 'i'], '_'));
  add('postdeskInlineCode', inlineCodeRule());
  add('postdeskPre', preRule());
  add('postdeskLink', linkRule());
  // An empty list item would print a bare `-` under the line before it: Markdown reads that as a
  // setext heading underline (CommonMark 4.3), turning the customer's text into a heading.
  add('postdeskEmptyListItem', {
    filter: (node) =>
      node.nodeName === 'LI' &&
      (node.textContent ?? '').trim() === '' &&
      node.getElementsByTagName('img').length === 0,
    replacement: () => '',
  });
  add('postdeskImage', imageRule(context));
  for (const [name, rule] of tableRules(new TableKinds())) add(name, rule);
  if (context.mode === 'reply') {
    add('postdeskQuoteSplit', {
      filter: isQuoteMarker,
      replacement: (content) => `\n\n${Marker.quoteSplit}\n\n${content}\n\n`,
    });
  }
  add('postdeskDropped', {
    filter: (node) =>
      DROPPED.has(node.nodeName.toUpperCase()) ||
      (node.nodeName === 'INPUT' && attribute(node, 'type').toLowerCase() !== 'checkbox'),
    replacement: () => '',
  });
  add('postdeskHidden', { filter: (node) => isElement(node) && isHidden(node), replacement: () => '' });
};
