import type { ParsedMail } from '../../model.ts';

/** Longest evidence string kept in the trace: header values are sender-controlled and unbounded. */
const EVIDENCE_MAX_CHARS = 100;

/** Every value of a header (name in any case), unfolded and trimmed, in order of appearance. */
export const headerValues = (mail: ParsedMail, name: string): string[] =>
  (mail.headers.get(name.toLowerCase()) ?? []).map((value) => value.replace(/\r?\n[ \t]+/g, ' ').trim());

/** The first (topmost) value of a header, unfolded and trimmed. */
export const firstHeader = (mail: ParsedMail, name: string): string | undefined =>
  headerValues(mail, name)[0];

/** `Header=value` for the trace: control characters removed, whitespace collapsed, length capped. */
export const evidence = (header: string, value: string): string => {
  const clean = value.replace(/[\p{Cc}\p{Bidi_Control}]+/gu, ' ').replace(/\s+/g, ' ');
  const capped = clean.length > EVIDENCE_MAX_CHARS ? `${clean.slice(0, EVIDENCE_MAX_CHARS)}…` : clean;
  return `${header}=${capped.trim()}`;
};

/** The local part of an address, lowercased, without a `+tag`; empty when there is no `@`. */
export const localPart = (address: string): string => {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '';
  const local = address.slice(0, at).toLowerCase();
  const plus = local.indexOf('+');
  return plus === -1 ? local : local.slice(0, plus);
};
