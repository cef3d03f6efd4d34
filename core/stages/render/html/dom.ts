/**
 * The little of the DOM the converter rules use, typed structurally (turndown hands rules the
 * nodes of its own parser, domino; the project's `lib` has no DOM types on purpose).
 */
export interface DomNode {
  readonly nodeType: number;
  readonly nodeName: string;
  readonly parentNode: DomNode | null;
  readonly childNodes: ArrayLike<DomNode>;
  readonly textContent: string | null;
  readonly nextSibling: DomNode | null;
  readonly previousSibling: DomNode | null;
}

export interface DomElement extends DomNode {
  getAttribute(name: string): string | null;
  getElementsByTagName(name: string): ArrayLike<DomElement>;
}

export const ELEMENT_NODE = 1;

export const isElement = (node: DomNode | null | undefined): node is DomElement =>
  node !== null && node !== undefined && node.nodeType === ELEMENT_NODE && 'getAttribute' in node;

export const attribute = (node: DomNode, name: string): string =>
  isElement(node) ? (node.getAttribute(name) ?? '') : '';

/** Lowercased class names and id of an element, for marker lookups. */
export const classesOf = (node: DomNode): string[] =>
  attribute(node, 'class').toLowerCase().split(/\s+/).filter(Boolean);

/** Inline style declarations, lowercased, `!important` dropped. Later declarations win. */
export const styleOf = (node: DomNode): Map<string, string> => {
  const declarations = new Map<string, string>();
  const style = attribute(node, 'style');
  if (style === '') return declarations;
  for (const part of style.split(';')) {
    const colon = part.indexOf(':');
    if (colon === -1) continue;
    const name = part.slice(0, colon).trim().toLowerCase();
    const value = part
      .slice(colon + 1)
      .replace(/!\s*important/i, '')
      .trim()
      .toLowerCase();
    if (name !== '') declarations.set(name, value);
  }
  return declarations;
};

/** A CSS length or number that is zero: `0`, `0px`, `0.0em`, `0%`. */
export const isZeroLength = (value: string | undefined): boolean =>
  value !== undefined &&
  /^[+-]?0*\.?0*(?:px|pt|em|rem|%|ex|ch|vh|vw|cm|mm|in)?$/.test(value) &&
  /0/.test(value);

/** A width or height (attribute or inline style) of at most one pixel: a tracking pixel's size. */
const isTinySize = (attributeValue: string, styleValue: string | undefined): boolean => {
  const fromAttribute = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:px)?\s*$/i.exec(attributeValue);
  if (fromAttribute && Number(fromAttribute[1]) <= 1) return true;
  const fromStyle = styleValue === undefined ? null : /^([0-9]+(?:\.[0-9]+)?)px$/.exec(styleValue);
  return fromStyle !== null && Number(fromStyle[1]) <= 1;
};

/** Class or id names that marketing templates give the hidden preview text. */
const PREHEADER_NAME = /preheader|preview-?text|previewtext|hidden-?preview/i;

/**
 * Hidden from the reader in a mail client, so not shown in the issue either: `display:none`,
 * `visibility:hidden`, `opacity:0`, `max-height:0` / `max-width:0` (the preheader trick),
 * `mso-hide:all`, a zero size with `overflow:hidden`, the `hidden` attribute, a preheader class,
 * and `font-size:0` unless a descendant sets its own font size (responsive templates put
 * `font-size:0` on wrappers to remove the gaps between inline blocks, and the text inside is real).
 */
export const isHidden = (node: DomElement): boolean => {
  if (node.getAttribute('hidden') !== null) return true;
  if (PREHEADER_NAME.test(attribute(node, 'class')) || PREHEADER_NAME.test(attribute(node, 'id')))
    return true;
  const style = styleOf(node);
  if (style.size === 0) return false;
  if (style.get('display') === 'none') return true;
  const visibility = style.get('visibility');
  if (visibility === 'hidden' || visibility === 'collapse') return true;
  if (style.get('mso-hide') === 'all') return true;
  if (isZeroLength(style.get('opacity'))) return true;
  if (isZeroLength(style.get('max-height')) || isZeroLength(style.get('max-width'))) return true;
  const clipped = style.get('overflow') === 'hidden';
  if (clipped && (isZeroLength(style.get('height')) || isZeroLength(style.get('width')))) return true;
  if (isZeroLength(style.get('font-size'))) {
    const inner = node.getElementsByTagName('*');
    for (let index = 0; index < inner.length; index++) {
      const child = inner[index];
      if (child && /font-size\s*:\s*[1-9]/i.test(child.getAttribute('style') ?? '')) return false;
    }
    return true;
  }
  return false;
};

/** A 1×1 (or smaller) image: a tracking pixel. */
export const isTrackingPixel = (image: DomElement): boolean => {
  const style = styleOf(image);
  return (
    isTinySize(attribute(image, 'width'), style.get('width')) ||
    isTinySize(attribute(image, 'height'), style.get('height'))
  );
};

/** The nearest enclosing element with this node name (uppercase), if any. */
export const closest = (node: DomNode, name: string): DomElement | undefined => {
  for (let current = node.parentNode; current !== null; current = current.parentNode) {
    if (current.nodeName === name && isElement(current)) return current;
  }
  return undefined;
};

/** Element children, in order. */
export const elementChildren = (node: DomNode): DomElement[] => {
  const out: DomElement[] = [];
  for (let index = 0; index < node.childNodes.length; index++) {
    const child = node.childNodes[index];
    if (isElement(child)) out.push(child);
  }
  return out;
};
