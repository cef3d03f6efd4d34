/**
 * The numbers and names of the outbound half, in one place so a reader sees every knob first.
 */

/** The three GitLab Service Desk emails (gitlab-service-desk.md §5.1). */
export const OutboundKind = ['thank_you', 'new_note', 'new_participant'] as const;
export type OutboundKind = (typeof OutboundKind)[number];

/**
 * Our loop header, on every mail Postdesk sends. The inbound classifier's `own_loop_header` rule
 * drops any mail that carries it (core/stages/classify/rules/own-loop-header.ts), so a notification
 * that an autoresponder or a forward rule sends back never becomes a comment.
 */
export const LOOP_HEADER = 'X-Postdesk-Loop';

/** Where a project keeps its email templates, as in GitLab (`.gitlab/service_desk_templates/<name>.md`). */
export const TEMPLATE_DIR = '.gitlab/service_desk_templates';

/** A repository template above this size is ignored (default used, warning logged). */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

/** GitLab's rule: note uploads are attached when their total is at most 10 MB, else left as links. */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Thank-you cap window: FreeScout's "2 in 3 hours" (helpdesk-peers.md §11.6). */
export const THANK_YOU_WINDOW_SECONDS = 3 * 60 * 60;

/** The desk-wide cap on automatic mail counts in this window (`rate_limits.automatic_per_hour`). */
export const AUTOMATIC_WINDOW_SECONDS = 60 * 60;

/** The outbound desk limit's window (`rate_limits.outbound_per_day`). */
export const OUTBOUND_WINDOW_SECONDS = 24 * 60 * 60;

/** At most one "not sent because of the limit" internal note per issue in this window (GitLab throttles it too). */
export const SUPPRESSION_NOTICE_WINDOW_SECONDS = 24 * 60 * 60;

/** Largest webhook body accepted (GitLab's note payloads are a few kB; a 1 MB note is the forge's own cap). */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/**
 * A queued job above this size is stored in the state bucket and the queue carries a pointer
 * (SQS messages are at most 256 KiB).
 */
export const MAX_INLINE_JOB_BYTES = 200 * 1024;

/** How many previous outbound ids go into References (RFC 5322 §3.6.4 allows trimming the middle). */
export const MAX_REFERENCES = 12;

/**
 * Senders that never get an automatic mail (Zammad's regex, FreeScout #3670; helpdesk-peers.md
 * §11.1): role and robot accounts that cannot read it and may answer it.
 */
export const NO_AUTO_MAIL_SENDER =
  /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|abuse|root|bounces?|notifications?)(?:[+-][^@]*)?@/i;
