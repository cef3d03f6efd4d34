import { randomBytes } from 'node:crypto';
import { Marked, type Tokens } from 'marked';
import { isTransient } from '../errors.ts';
import type { Forge, Logger } from '../ports.ts';
import { MAX_TEMPLATE_BYTES, type OutboundKind, TEMPLATE_DIR } from './constants.ts';

/**
 * The three email templates, as GitLab Service Desk has them (gitlab-service-desk.md §5.2): a
 * project may override each with `.gitlab/service_desk_templates/<name>.md` in its repository;
 * otherwise Postdesk's defaults below are used. Placeholders are GitLab's, matched by GitLab's own
 * pattern `%{\s*NAME\s*}` (spaces inside the braces allowed).
 *
 * Two trust levels meet in one mail. The template is written by the project's maintainers (same
 * trust as the repository), so its Markdown may carry HTML. `NOTE_TEXT` and `ISSUE_DESCRIPTION`
 * hold what anyone who can comment (or a customer) wrote: their raw HTML is escaped and their links
 * limited to http(s) and mailto. Each value is substituted exactly once: a value that itself
 * contains `%{...}` is never expanded again.
 */

export const PlaceholderName = [
  'ISSUE_ID',
  'ISSUE_PATH',
  'ISSUE_URL',
  'NOTE_TEXT',
  'ISSUE_DESCRIPTION',
  'UNSUBSCRIBE_URL',
  'SYSTEM_HEADER',
  'SYSTEM_FOOTER',
  'ADDITIONAL_TEXT',
] as const;
export type PlaceholderName = (typeof PlaceholderName)[number];

/** Values for every placeholder; an unused one is the empty string. */
export type PlaceholderValues = Record<PlaceholderName, string>;

/** Placeholders whose value is untrusted Markdown, rendered on its own with HTML escaped. */
const MARKDOWN_VALUES: ReadonlySet<PlaceholderName> = new Set(['NOTE_TEXT', 'ISSUE_DESCRIPTION']);

/** GitLab: `/%\{\s*NAME\s*\}/`. Any name is matched here; unknown names are left as written. */
const PLACEHOLDER = /%\{\s*([A-Za-z_]+)\s*\}/g;

const isPlaceholderName = (name: string): name is PlaceholderName =>
  (PlaceholderName as readonly string[]).includes(name);

/**
 * Postdesk's default templates, in the spirit of GitLab's: short, say what happened and what the
 * customer can do (reply to this mail), and never show the forge URL (customers have no account).
 */
export const DEFAULT_TEMPLATES: Readonly<Record<OutboundKind, string>> = {
  thank_you: `%{SYSTEM_HEADER}

Thank you for your support request! We are tracking it as ticket **%{ISSUE_ID}** and will get back to you as soon as we can.

To add anything, simply reply to this email. Your reply is added to the same ticket.

%{ADDITIONAL_TEXT}

---

You are receiving this email because you contacted our support desk. [Unsubscribe](%{UNSUBSCRIBE_URL}) from emails about this ticket.

%{SYSTEM_FOOTER}
`,
  new_note: `%{SYSTEM_HEADER}

%{NOTE_TEXT}

%{ADDITIONAL_TEXT}

---

Reply to this email to answer; your reply is added to ticket %{ISSUE_ID}. [Unsubscribe](%{UNSUBSCRIBE_URL}) from emails about this ticket.

%{SYSTEM_FOOTER}
`,
  new_participant: `%{SYSTEM_HEADER}

You have been added to the support ticket **%{ISSUE_ID}**. You will receive the team's answers on it by email.

To take part in the conversation, simply reply to this email.

%{ADDITIONAL_TEXT}

---

[Unsubscribe](%{UNSUBSCRIBE_URL}) from emails about this ticket.

%{SYSTEM_FOOTER}
`,
};

export interface LoadedTemplate {
  name: OutboundKind;
  markdown: string;
  /** `repository` when the project's own file was used. */
  source: 'repository' | 'default';
}

/** The repository path of a template, e.g. `.gitlab/service_desk_templates/thank_you.md`. */
export const templatePath = (name: OutboundKind): string => `${TEMPLATE_DIR}/${name}.md`;

/**
 * The project's template when its repository has one, Postdesk's default otherwise. A forge outage
 * (TransientError) propagates so the mail is retried with the right template; any other failure to
 * read (no access, an oversized or empty file) falls back to the default with a warning, because a
 * customer should get a plain mail rather than none.
 */
export const loadTemplate = async (
  forge: Pick<Forge, 'readRepoFile'>,
  projectPath: string,
  name: OutboundKind,
  logger?: Logger,
): Promise<LoadedTemplate> => {
  const path = templatePath(name);
  let content: string | undefined;
  try {
    content = await forge.readRepoFile({ path: projectPath }, path);
  } catch (error) {
    if (isTransient(error)) throw error;
    logger?.warn('could not read the email template; using the default', {
      project: projectPath,
      path,
      error: error instanceof Error ? error.message : String(error),
    });
    content = undefined;
  }
  if (
    content !== undefined &&
    content.trim() !== '' &&
    Buffer.byteLength(content, 'utf8') <= MAX_TEMPLATE_BYTES
  ) {
    return { name, markdown: content, source: 'repository' };
  }
  if (content !== undefined && content.trim() !== '') {
    logger?.warn('the email template is larger than the limit; using the default', {
      project: projectPath,
      path,
      limitBytes: MAX_TEMPLATE_BYTES,
    });
  }
  return { name, markdown: DEFAULT_TEMPLATES[name], source: 'default' };
};

/**
 * Replaces every known placeholder once, in a single left-to-right pass, with `valueFor(name)`.
 * Unknown placeholders are kept as written (a typo stays visible in the mail instead of vanishing).
 */
export const substitutePlaceholders = (
  template: string,
  valueFor: (name: PlaceholderName) => string,
): string =>
  template.replace(PLACEHOLDER, (whole, name: string) => (isPlaceholderName(name) ? valueFor(name) : whole));

export interface RenderOptions {
  /**
   * Base for relative links in notes (GitLab writes uploads as `/uploads/<secret>/<file>`), usually
   * the project's web URL.
   */
  baseUrl?: string | undefined;
}

export interface RenderedMail {
  html: string;
  text: string;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/**
 * Removes HTML comments, which GitLab renders as nothing: Postdesk's own delivery marker
 * (`<!-- postdesk:pd-... -->`) sits in every description it made. A scan with indexOf, not a
 * regular expression, so thousands of unclosed `<!--` cost linear time.
 */
export const stripHtmlComments = (text: string): string => {
  let out = '';
  let from = 0;
  for (;;) {
    const start = text.indexOf('<!--', from);
    if (start === -1) break;
    const end = text.indexOf('-->', start + 4);
    if (end === -1) break;
    out += text.slice(from, start);
    from = end + 3;
  }
  return out + text.slice(from);
};

/** Only links a mail client can follow safely; relative links are made absolute against the base. */
export const safeHref = (href: string, baseUrl: string | undefined): string | undefined => {
  const trimmed = href.trim();
  if (/^(?:https?:|mailto:)/i.test(trimmed)) return trimmed;
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) return undefined;
  if (!baseUrl) return undefined;
  try {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    // GitLab's upload links (`/uploads/...`) are relative to the project, not the host.
    const resolved = new URL(trimmed.startsWith('/uploads/') ? trimmed.slice(1) : trimmed, base);
    return /^https?:$/.test(resolved.protocol) ? resolved.toString() : undefined;
  } catch {
    return undefined;
  }
};

const linkRenderer = (baseUrl: string | undefined, escapeRawHtml: boolean) =>
  new Marked({
    gfm: true,
    breaks: false,
    renderer: {
      html(token: Tokens.HTML | Tokens.Tag): string {
        return escapeRawHtml ? escapeHtml(token.text) : token.text;
      },
      link(token: Tokens.Link): string {
        const inner = this.parser.parseInline(token.tokens);
        const href = safeHref(token.href, baseUrl);
        if (!href) return inner;
        const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
        return `<a href="${escapeHtml(href)}"${title}>${inner}</a>`;
      },
      image(token: Tokens.Image): string {
        const href = safeHref(token.href, baseUrl);
        if (!href || href.startsWith('mailto:')) return escapeHtml(token.text);
        const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
        return `<img src="${escapeHtml(href)}" alt="${escapeHtml(token.text)}"${title} style="max-width:100%">`;
      },
    },
  });

/** Renders untrusted Markdown (a note, a description) to HTML: raw HTML escaped, links filtered. */
export const renderUntrustedMarkdown = (markdown: string, options: RenderOptions = {}): string =>
  linkRenderer(options.baseUrl, true).parse(markdown, { async: false });

const renderUntrustedInline = (markdown: string, options: RenderOptions): string =>
  linkRenderer(options.baseUrl, true).parseInline(markdown, { async: false });

/**
 * Drops the template lines that use `%{UNSUBSCRIBE_URL}` when there is no unsubscribe URL (no
 * `public_url` configured): a link to nowhere is worse than no link.
 */
const dropEmptyUnsubscribeLines = (template: string, values: PlaceholderValues): string => {
  if (values.UNSUBSCRIBE_URL !== '') return template;
  return template
    .split('\n')
    .filter((line) => !/%\{\s*UNSUBSCRIBE_URL\s*\}/.test(line))
    .join('\n');
};

const wrapDocument = (body: string): string =>
  [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"></head>',
    '<body style="font-family:-apple-system,BlinkMacSystemFont,\'Segoe UI\',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f1f1f">',
    body,
    '</body></html>',
    '',
  ].join('\n');

/**
 * Renders a template with its values to an HTML body and a plain-text alternative.
 *
 * HTML: the template's Markdown is rendered with each untrusted value replaced by a random slot
 * name; each value is rendered on its own (HTML escaped) and put into its slot afterwards, a whole
 * block when the placeholder stood alone in a paragraph, inline otherwise. Text: the template with
 * the values as written (Markdown reads well as text, and a note's HTML is harmless in text/plain).
 */
export const renderTemplate = (
  template: string,
  values: PlaceholderValues,
  options: RenderOptions = {},
): RenderedMail => {
  const source = dropEmptyUnsubscribeLines(template, values);
  const value = (name: PlaceholderName): string =>
    MARKDOWN_VALUES.has(name) ? stripHtmlComments(values[name]).replace(/\s+$/, '') : values[name];

  const text = `${substitutePlaceholders(source, value)
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;

  const nonce = randomBytes(8).toString('hex');
  const slots: string[] = [];
  const withSlots = substitutePlaceholders(source, (name) => {
    if (!MARKDOWN_VALUES.has(name)) return values[name];
    slots.push(value(name));
    return `PDSLOT${nonce}N${slots.length - 1}E`;
  });
  const templateHtml = linkRenderer(options.baseUrl, false).parse(withSlots, { async: false });
  const slot = new RegExp(`<p>PDSLOT${nonce}N(\\d+)E</p>|PDSLOT${nonce}N(\\d+)E`, 'g');
  const html = templateHtml.replace(slot, (_whole, block: string | undefined, inline: string | undefined) => {
    const value = slots[Number(block ?? inline)] ?? '';
    return block !== undefined
      ? renderUntrustedMarkdown(value, options)
      : renderUntrustedInline(value, options);
  });

  return { html: wrapDocument(html.trim()), text };
};
