/**
 * Reason codes of the parse stage. Each one names the rule that ended the mail, so a reader who
 * sees `mime_too_deep` in a decision trace finds the rule by searching for it.
 */
export const ParseReason = {
  /** The mail is larger than `limits.max_raw_bytes` (known up front or counted while streaming). */
  rawTooLarge: 'raw_too_large',
  /** One MIME header block (the top-level one or a part's) is larger than `limits.max_header_bytes`. */
  headerTooLarge: 'header_too_large',
  /** MIME parts are nested deeper than `limits.max_mime_depth`. */
  mimeTooDeep: 'mime_too_deep',
  /** The mail has more MIME parts than `limits.max_parts`. */
  tooManyParts: 'too_many_parts',
  /** Two or more `From` headers (RFC 5322 §3.6 allows one). */
  duplicateFrom: 'duplicate_from',
  /** Two or more `Subject` headers (RFC 5322 §3.6 allows one). */
  duplicateSubject: 'duplicate_subject',
  /** Zero bytes, or only white space. */
  emptyMail: 'empty_mail',
  /** Not a mail at all: binary data, or text without a header block. */
  unparseable: 'unparseable',
} as const;
export type ParseReason = (typeof ParseReason)[keyof typeof ParseReason];

/** Verdict and reason of a mail that parsed. */
export const PARSED = 'parsed';

/** Bytes looked at before deciding whether the input starts like a mail (RFC 5322 line limit + CRLF). */
export const SNIFF_BYTES = 1000;

/** Config keys named in the messages, as a person writes them in `postdesk.config.yaml`. */
export const LimitKey = {
  max_raw_bytes: 'limits.max_raw_bytes',
  max_header_bytes: 'limits.max_header_bytes',
  max_mime_depth: 'limits.max_mime_depth',
  max_parts: 'limits.max_parts',
} as const;
