import { Marker } from '../constants.ts';
import { attribute, type DomElement, type DomNode, elementChildren, isElement } from './dom.ts';

/**
 * Tables in mail are mostly layout: newsletters and signatures are built from them, and GitLab
 * (and Chatwoot) simply delete every `<table>` before converting, losing real content
 * (helpdesk-peers §9). Here a table is either:
 *
 * - **data**, converted to a GFM table: it has header cells, or it is a regular grid of short
 *   cells (a spreadsheet pasted into Outlook, an order summary);
 * - **layout**, unwrapped: each cell becomes a block of its own, in reading order. That is the
 *   case for `role="presentation"`, nested tables, a single row or column, cells holding block
 *   content (lists, headings, code, quotes, images), irregular grids and long cells.
 */
export type TableKind = 'data' | 'layout';

/** Cells longer than this on average read as prose, not data. */
const MAX_DATA_CELL_CHARS = 200;
const BLOCK_CONTENT = new Set([
  'table',
  'pre',
  'ul',
  'ol',
  'blockquote',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
]);

/** Rows that belong to this table (not to a nested one): direct, or in thead/tbody/tfoot. */
export const ownRows = (table: DomElement): DomElement[] => {
  const rows: DomElement[] = [];
  for (const child of elementChildren(table)) {
    if (child.nodeName === 'TR') rows.push(child);
    else if (child.nodeName === 'THEAD' || child.nodeName === 'TBODY' || child.nodeName === 'TFOOT') {
      for (const row of elementChildren(child)) if (row.nodeName === 'TR') rows.push(row);
    }
  }
  return rows;
};

const cellsOf = (row: DomElement): DomElement[] =>
  elementChildren(row).filter((cell) => cell.nodeName === 'TD' || cell.nodeName === 'TH');

const span = (cell: DomElement): number => {
  const value = Number.parseInt(attribute(cell, 'colspan'), 10);
  return Number.isInteger(value) && value > 1 ? Math.min(value, 50) : 1;
};

const containsAny = (node: DomElement, names: ReadonlySet<string>): boolean => {
  for (const name of names) if (node.getElementsByTagName(name).length > 0) return true;
  return false;
};

export const classifyTable = (table: DomElement): TableKind => {
  const role = attribute(table, 'role').toLowerCase();
  if (role === 'presentation' || role === 'none') return 'layout';
  if (containsAny(table, BLOCK_CONTENT)) return 'layout';
  const rows = ownRows(table);
  if (rows.length < 2) return 'layout';
  const widths = rows.map((row) => cellsOf(row).reduce((total, cell) => total + span(cell), 0));
  const columns = widths.reduce((most, width) => Math.max(most, width), 0);
  if (columns < 2) return 'layout';
  const hasHeader = rows.some((row) => cellsOf(row).some((cell) => cell.nodeName === 'TH'));
  if (hasHeader) return 'data';
  // No header cells: only a regular grid of short, image-free cells is data.
  if (table.getElementsByTagName('img').length > 0) return 'layout';
  const full = widths.filter((width) => width === columns).length;
  if (full < rows.length * 0.8) return 'layout';
  const cells = rows.reduce((total, row) => total + cellsOf(row).length, 0);
  const text = (table.textContent ?? '').trim().length;
  return text / Math.max(1, cells) > MAX_DATA_CELL_CHARS ? 'layout' : 'data';
};

/** The classification of every table met in one conversion, computed once per table. */
export class TableKinds {
  private readonly kinds = new WeakMap<object, TableKind>();

  of(table: DomElement): TableKind {
    let kind = this.kinds.get(table);
    if (kind === undefined) {
      kind = classifyTable(table);
      this.kinds.set(table, kind);
    }
    return kind;
  }

  /** The kind of the table a cell, row or section belongs to (layout when there is none). */
  around(node: DomNode): TableKind {
    for (let current = node.parentNode; current !== null; current = current.parentNode) {
      if (current.nodeName === 'TABLE' && isElement(current)) return this.of(current);
    }
    return 'layout';
  }
}

const { cellOpen, cellClose, rowOpen, rowClose } = Marker;
const ESC = Marker.escape;

/**
 * A data cell as it travels up to its table: its Markdown on one line (line breaks become
 * `<br>`, which GitLab renders in table cells), every `|` escaped so it cannot split the row, and
 * an empty cell after it for each extra column it spans.
 */
export const dataCell = (content: string, cell: DomElement): string => {
  const oneLine = content
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('<br>');
  let escaped = '';
  for (let index = 0; index < oneLine.length; index++) {
    const char = oneLine.charAt(index);
    escaped += char === '|' && oneLine.charAt(index - 1) !== ESC ? `${ESC}|` : char;
  }
  return `${cellOpen}${escaped}${cellClose}${`${cellOpen}${cellClose}`.repeat(span(cell) - 1)}`;
};

export const dataRow = (content: string): string => `${rowOpen}${content}${rowClose}`;

/** Splits `text` on `open … close` pairs and returns the insides, in order. */
const between = (text: string, open: string, close: string): string[] => {
  const out: string[] = [];
  let index = text.indexOf(open);
  while (index !== -1) {
    const end = text.indexOf(close, index + 1);
    if (end === -1) break;
    out.push(text.slice(index + 1, end));
    index = text.indexOf(open, end + 1);
  }
  return out;
};

/** Cells as blocks, for a data table that turned out not to be a grid after all. */
const unwrapMarkers = (content: string): string =>
  content
    .split(new RegExp(`[${cellOpen}${cellClose}${rowOpen}${rowClose}]`))
    .map((piece) => piece.replace(/<br>/g, '\n').trim())
    .filter((piece) => piece !== '')
    .join('\n\n');

/**
 * Assembles a GFM table from the marked rows and cells of `content`. The first row is the
 * header (GFM needs one; mail tables without `<th>` nearly always start with their column names).
 */
export const dataTable = (content: string, caption: string): string => {
  const rows = between(content, rowOpen, rowClose)
    .map((row) => between(row, cellOpen, cellClose))
    .filter((cells) => cells.length > 0);
  const columns = rows.reduce((most, cells) => Math.max(most, cells.length), 0);
  if (rows.length < 2 || columns < 2) return `\n\n${unwrapMarkers(content)}\n\n`;
  const line = (cells: string[]): string =>
    `| ${Array.from({ length: columns }, (_, index) => cells[index] || ' ').join(' | ')} |`;
  const [header = [], ...body] = rows;
  const delimiter = `| ${Array.from({ length: columns }, () => '---').join(' | ')} |`;
  const title = caption === '' ? '' : `${caption}\n\n`;
  return `\n\n${title}${[line(header), delimiter, ...body.map(line)].join('\n')}\n\n`;
};
