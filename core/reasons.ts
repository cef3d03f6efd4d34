import type { DmarcIdentityReason } from './stages/authenticate/dmarc-identity.ts';
import type { AuthenticateReason } from './stages/authenticate/index.ts';
import type { SenderIdentityReason } from './stages/authenticate/sender-identity.ts';
import type { ClassifyReason } from './stages/classify/index.ts';
import type { DeliverReason } from './stages/deliver/reasons.ts';
import type { LimitReason } from './stages/limit/index.ts';
import type { ParseReason } from './stages/parse/index.ts';
import type { RenderReason } from './stages/render/index.ts';
import type { RouteReason } from './stages/route/index.ts';
import type { ThreadReason } from './stages/thread/index.ts';

/**
 * Every reason code a decision trace can carry (`reason` of a stage record, a delivery or the
 * mail), collected from the unions each stage exports next to its rules. A reason code is the name
 * of the rule that decided, so searching the source for it (quoted) finds the rule; the README's
 * reason table lists them all (both checked by test/core/reason-codes.test.ts).
 *
 * Not in here: error codes (`forge_unauthorized`, `state_corrupt`, ...). A PermanentError's code
 * becomes the reason of a quarantined mail, but those are the adapters' vocabulary, not a rule's.
 */
export type ReasonCode =
  | PipelineReason
  | ParseReason
  | AuthenticateReason
  | SenderIdentityReason
  | DmarcIdentityReason
  | ClassifyReason
  | RouteReason
  | ThreadReason
  | LimitReason
  | RenderReason
  | Exclude<DeliverReason, 'delivery_in_progress'>;

/**
 * The pipeline's own codes: `loaded` (the load stage) and `internal_error` (a bug, quarantined) in
 * core/pipeline.ts, `dry_run` (the deliver stage of `postdesk explain`) in core/execute.ts, and
 * `error` (a delivery that threw) and `no_delivery` (no route delivered anything) in
 * core/trace-recorder.ts.
 */
export type PipelineReason = 'loaded' | 'dry_run' | 'error' | 'no_delivery' | 'internal_error';

/** One key per reason code: `satisfies` fails to compile on a missing or an unknown one. */
const CODES = {
  loaded: true,
  dry_run: true,
  error: true,
  no_delivery: true,
  internal_error: true,
  parsed: true,
  raw_too_large: true,
  header_too_large: true,
  mime_too_deep: true,
  too_many_parts: true,
  duplicate_from: true,
  duplicate_subject: true,
  empty_mail: true,
  unparseable: true,
  sender_identified: true,
  from_invalid: true,
  from_missing: true,
  dmarc_identity_mismatch: true,
  policy_satisfied: true,
  arc_rescued: true,
  virus_detected: true,
  spam_detected: true,
  dmarc_failed: true,
  dkim_failed: true,
  spf_failed: true,
  virus_unverified: true,
  spam_unverified: true,
  dmarc_unverified: true,
  dkim_unverified: true,
  spf_unverified: true,
  dmarc_policy_reject: true,
  dmarc_policy_quarantine: true,
  human: true,
  own_loop_header: true,
  own_address_sender: true,
  own_message_id: true,
  null_return_path: true,
  mailer_daemon_sender: true,
  delivery_status_report: true,
  failed_recipients_header: true,
  auto_submitted_vacation: true,
  exchange_oof: true,
  ooo_subject: true,
  auto_submitted: true,
  x_autoreply: true,
  x_autorespond: true,
  x_auto_generated: true,
  precedence_auto_reply: true,
  x_loop: true,
  precedence_bulk: true,
  list_id: true,
  list_unsubscribe: true,
  envelope_recipients: true,
  header_recipients: true,
  no_route: true,
  new_ticket: true,
  reply_token: true,
  in_reply_to: true,
  references: true,
  automated_on_ticket: true,
  reply_from_stranger: true,
  reply_token_invalid: true,
  reply_key_missing: true,
  reply_token_participant_mismatch: true,
  within_limits: true,
  rate_limit_per_ticket: true,
  rate_limit_per_sender: true,
  rate_limit_per_desk: true,
  text_body: true,
  html_body: true,
  html_fallback_text: true,
  html_fallback_stripped: true,
  empty_body: true,
  empty_reply: true,
  render_failed: true,
  issue_created: true,
  note_added: true,
  duplicate_delivery: true,
  recovered_by_marker: true,
} as const satisfies Record<ReasonCode, true>;

/** Every reason code, at run time. */
export const REASON_CODES: readonly ReasonCode[] = Object.keys(CODES) as ReasonCode[];

export const isReasonCode = (value: string): value is ReasonCode => Object.hasOwn(CODES, value);
