/** HTML text and attribute escaping, and the console's page frame. */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for an element's content or a quoted attribute value. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** A template tag that escapes every interpolated value unless it is `Html` (already safe). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const html = (strings: TemplateStringsArray, ...values: unknown[]): Html => {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += renderValue(value) + (strings[index + 1] ?? '');
  });
  return new Html(out);
};

const renderValue = (value: unknown): string => {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(renderValue).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
};

/** Marks trusted HTML (sanitised Markdown) for `html`. */
export const raw = (value: string): Html => new Html(value);

export interface PageOptions {
  title: string;
  /** The live part of the page: replaced in place when the desk's state changes. */
  live: Html;
  /** Parts that stay while the live part is refreshed (the reply box). */
  after?: Html | undefined;
  version: string;
}

export const page = (options: PageOptions): string =>
  html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${options.title} · Postdesk</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
</head><body data-version="${options.version}">
<header><a class="brand" href="/">Postdesk</a>
<nav><a href="/">Tickets</a> <a href="/mail">Mail</a> <a href="/quarantine">Quarantine</a> <a href="/dlq">Dead letters</a></nav>
</header>
<main><div id="live">${options.live}</div>${options.after}</main>
</body></html>
`.value;
