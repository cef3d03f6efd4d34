/** Bytes looked at before deciding whether the input starts like a mail (RFC 5322 line limit + CRLF). */
export const SNIFF_BYTES = 1000;

/** Config keys named in the messages, as a person writes them in `postdesk.config.yaml`. */
export const LimitKey = {
  max_raw_bytes: 'limits.max_raw_bytes',
  max_header_bytes: 'limits.max_header_bytes',
  max_header_lines: 'limits.max_header_lines',
  max_mime_depth: 'limits.max_mime_depth',
  max_parts: 'limits.max_parts',
} as const;
