import type { Readable } from 'node:stream';

/** A mailbox as parsed from a header: `address` is as written, `normalized` is lowercased. */
export interface Mailbox {
  name: string;
  address: string;
}

/**
 * The parsed message: everything the stages read. Headers keep every occurrence in order, keyed by
 * lowercased name, with values decoded to strings (RFC 2047 words left as written, so rules see the
 * raw value). Attachments carry metadata only; their content is re-read from the raw mail on demand
 * (`open`), so no attachment is ever held whole in memory.
 */
export interface ParsedMail {
  /** Lowercased header name -> every raw value, in order of appearance. */
  headers: ReadonlyMap<string, readonly string[]>;
  from: Mailbox[];
  replyTo: Mailbox[];
  sender: Mailbox | undefined;
  to: Mailbox[];
  cc: Mailbox[];
  /** Decoded subject (encoded words resolved), or undefined when absent. */
  subject: string | undefined;
  /** Message-ID without angle brackets. */
  messageId: string | undefined;
  /** Every id in In-Reply-To, without angle brackets. */
  inReplyTo: string[];
  /** Every id in References, split on whitespace and commas, without angle brackets. */
  references: string[];
  date: Date | undefined;
  /** The top-level content type, lowercased without parameters, e.g. `multipart/report`. */
  contentType: string;
  /** Parameters of the top-level content type, lowercased keys (e.g. `report-type`, `protocol`). */
  contentTypeParams: Readonly<Record<string, string>>;
  /** Decoded text/plain body (all inline text parts joined), undefined when none. */
  text: string | undefined;
  /** Decoded text/html body, undefined when none. */
  html: string | undefined;
  attachments: AttachmentMeta[];
  /** Size of the raw message in bytes. */
  size: number;
  /** Headers whose raw bytes could not be decoded cleanly; rules may mention them. */
  warnings: string[];
}

export interface AttachmentMeta {
  /** 0-based position among the message's attachments, stable across re-reads of the same raw mail. */
  index: number;
  /** Decoded file name as the sender gave it (unsafe: sanitise before use). */
  filename: string | undefined;
  contentType: string;
  /** Content-ID without angle brackets, when present. */
  contentId: string | undefined;
  disposition: 'attachment' | 'inline' | undefined;
  /** Decoded size in bytes. */
  size: number;
  /** True for parts of a multipart/related (inline images). */
  related: boolean;
  /** Re-reads the raw mail and streams this attachment's decoded content. */
  open(): Promise<Readable>;
}

/** What the receiving MTA learned outside the message: SES receipt, or the local SMTP session. */
export interface Envelope {
  /** RCPT TO addresses (include Bcc). Empty when unknown, e.g. a bare .eml file. */
  recipients: string[];
  /** MAIL FROM, `''` for the null sender. */
  mailFrom: string | undefined;
  /** Client IP and HELO, when known (local mode). */
  remoteIp?: string;
  helo?: string;
}

export const VerdictStatus = ['PASS', 'FAIL', 'GRAY', 'PROCESSING_FAILED', 'DISABLED', 'NONE'] as const;
export type VerdictStatus = (typeof VerdictStatus)[number];

/** Verdicts from the receiving MTA (SES receipt JSON), never from headers a sender wrote. */
export interface ReceiptVerdicts {
  spf: VerdictStatus;
  dkim: VerdictStatus;
  dmarc: VerdictStatus;
  spam: VerdictStatus;
  virus: VerdictStatus;
  /** SES gives this only when DMARC fails: `none`, `quarantine` or `reject`. */
  dmarcPolicy?: 'none' | 'quarantine' | 'reject' | undefined;
  /**
   * The RFC5322.From domain the DMARC verdict was evaluated on, when the verdict source says so
   * (the local check: the From mailbox mailauth read). Undefined for SES, whose receipt names no
   * domain: SES evaluates DMARC on the mail's own From header. The policy stage quarantines a
   * mail whose sender identity has another domain (`dmarc_identity_mismatch`).
   */
  dmarcDomain?: string | undefined;
  /** ARC chain result, when computed locally (SES gives none). */
  arc?: { result: 'pass' | 'fail' | 'none'; sealer?: string | undefined } | undefined;
  /** Where the verdicts came from. */
  source: 'ses' | 'local' | 'none';
}

/** A mail with no receipt (a bare .eml file): nothing was verified, and the trace says so. */
export const NO_RECEIPT_VERDICTS: ReceiptVerdicts = Object.freeze({
  spf: 'NONE',
  dkim: 'NONE',
  dmarc: 'NONE',
  spam: 'NONE',
  virus: 'NONE',
  source: 'none',
});

/** One mail as it enters the pipeline. */
export interface InboundMail {
  /** SES message id, or the local store key. */
  id: string;
  /** Key of the raw mail in the raw mail store. */
  rawKey: string;
  envelope: Envelope;
  verdicts: ReceiptVerdicts;
  receivedAt: Date;
}
