import { parse, stringify } from 'yaml';

/**
 * Markdown with YAML front matter, the format of the file forge's issues and notes:
 *
 *     ---
 *     title: Printer on fire
 *     state: opened
 *     ---
 *     The body, as Markdown.
 *
 * People may edit these files by hand (close an issue by writing `state: closed`), so reading is
 * lenient: a file without front matter, or still empty while it is being created, reads as
 * undefined rather than throwing.
 */
export interface FrontMatterDocument {
  data: Record<string, unknown>;
  body: string;
}

export const formatFrontMatter = (data: Record<string, unknown>, body: string): string =>
  `---\n${stringify(data, { lineWidth: 0 })}---\n${body}`;

export const parseFrontMatter = (text: string): FrontMatterDocument | undefined => {
  const match = /^---\r?\n(?:([\s\S]*?)\r?\n)?---[ \t]*(?:\r?\n|$)/.exec(text);
  if (match === null) return undefined;
  let data: unknown;
  try {
    // The core schema: no custom tags, no prototype-polluting merge keys.
    data = parse(match[1] ?? '', { schema: 'core', merge: false, maxAliasCount: 0 });
  } catch {
    return undefined;
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) return undefined;
  return { data: data as Record<string, unknown>, body: text.slice(match[0].length) };
};
