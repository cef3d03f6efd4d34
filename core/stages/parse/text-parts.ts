import { decodeBytes } from './charset.ts';
import type { TextPart } from './mime-walk.ts';

/**
 * RFC 3676 format=flowed: a line ending in a space is soft-wrapped and joins the next line of the
 * same quote depth; `-- ` (the signature separator) never flows; one leading space is
 * space-stuffing. With `DelSp=yes` the trailing space is part of the soft break and is removed.
 * Works on decoded text, so multi-byte characters are never split.
 */
export const unflow = (text: string, delSp: boolean): string => {
  const out: string[] = [];
  let pending: { depth: number; text: string } | undefined;
  const flush = (): void => {
    if (pending === undefined) return;
    out.push(pending.depth === 0 ? pending.text : `${'>'.repeat(pending.depth)} ${pending.text}`);
    pending = undefined;
  };
  for (const line of text.split('\n')) {
    let depth = 0;
    while (line.charAt(depth) === '>') depth++;
    let content = line.slice(depth);
    if (content.startsWith(' ')) content = content.slice(1);
    const soft = content !== '-- ' && content.endsWith(' ');
    if (soft && delSp) content = content.slice(0, -1);
    if (pending !== undefined && pending.depth === depth) {
      pending.text += content;
    } else {
      flush();
      pending = { depth, text: content };
    }
    if (!soft) flush();
  }
  flush();
  return out.join('\n');
};

/** Decodes one text part's bytes to text with LF line ends; charset problems go to `warnings`. */
export const decodeTextPart = (part: TextPart, warnings: string[]): { text: string; repaired: boolean } => {
  const decoded = decodeBytes(part.bytes, part.charset);
  if (decoded.note !== undefined) warnings.push(`part ${part.part} (${part.contentType}): ${decoded.note}`);
  const text = decoded.text.replace(/\r\n/g, '\n');
  return {
    text: part.flowed && part.contentType === 'text/plain' ? unflow(text, part.delSp) : text,
    repaired: decoded.repaired,
  };
};
