import type { DeskConfig, ProjectConfig } from '../config/schema.ts';
import type { AttachmentMeta, ReceiptVerdicts } from '../model.ts';
import type { Clock } from '../ports.ts';
import type { Ledger } from '../state/ledger.ts';
import type { Quarantine } from '../state/quarantine.ts';
import type { RateLimiter } from '../state/rate-limit.ts';
import type { TicketStore } from '../state/tickets.ts';
import type { Outcome, StageResult } from '../trace.ts';
import type { ClassifyReason } from './classify/index.ts';

/**
 * The values stages hand each other. Each stage lives in its own folder under `core/stages/` and
 * returns a `StageResult` (core/trace.ts): a value to pass on, or an outcome with a reason code.
 */

// --- the stage context -------------------------------------------------------------------------

/**
 * What every stage of one mail shares, built once per mail by the pipeline (core/pipeline.ts) from
 * its dependencies: the desk's config and clock, and the state ports (core/state/index.ts,
 * DeskState) the stages read and write. One of each, so a ticket read by thread and written by
 * deliver is the same store on the same clock. Nothing in here defaults to the wall clock.
 */
export interface StageContext {
  readonly config: DeskConfig;
  readonly clock: Clock;
  readonly tickets: TicketStore;
  readonly ledger: Ledger;
  readonly limiter: RateLimiter;
  readonly quarantine: Quarantine;
  /** True for the addresses the desk receives at (a set over every project alias). */
  readonly isDeskAddress: (address: string) => boolean;
}

/**
 * The shape of every stage: its input and the mail's context in, a value or an ending with one of
 * its reason codes `R` out. `K` names the parts of the context the stage reads, so a test hands it
 * only those; the pipeline hands every stage the same whole context.
 */
export type Stage<I, T, R extends string, K extends keyof StageContext = keyof StageContext> = (
  input: I,
  context: Pick<StageContext, K>,
) => Promise<StageResult<T, R>>;

// --- classify ---------------------------------------------------------------------------------

export const MailClass = ['human', 'auto_reply', 'out_of_office', 'bulk', 'bounce', 'own_mail'] as const;
export type MailClass = (typeof MailClass)[number];

export interface Classification {
  kind: MailClass;
  /** Reason code of the rule that decided (`human` when none fired), e.g. `auto_submitted`. */
  reason: ClassifyReason;
  /** Every rule that fired, strongest first, with the header evidence: `auto_submitted: Auto-Submitted=auto-replied`. */
  signals: string[];
}

// --- authenticate ------------------------------------------------------------------------------

export interface AuthAssessment {
  verdicts: ReceiptVerdicts;
  /** Required verdicts (`spf`, `dkim`, `dmarc`, `spam`, `virus`) that did not pass and were not rescued by ARC. */
  failed: string[];
  /** True when a DKIM/DMARC failure was rescued by a passing ARC chain from a trusted forwarder. */
  rescuedByArc: boolean;
  /** `Authentication-Results` headers in the mail that were ignored because SES did not add them. */
  ignoredAuthResults: number;
}

// --- route -------------------------------------------------------------------------------------

export const RouteVia = ['project_key', 'alias', 'gitlab_incoming', 'reply_token'] as const;
export type RouteVia = (typeof RouteVia)[number];

export interface RouteTarget {
  project: ProjectConfig;
  /** The recipient address that matched, lowercased. */
  address: string;
  via: RouteVia;
  /** For `reply_token`: the token from `<mailbox>+r-<token>@<domain>`, not yet verified. */
  replyToken?: string | undefined;
}

// --- thread ------------------------------------------------------------------------------------

export type ThreadDecision =
  | { kind: 'new_ticket' }
  | {
      kind: 'reply';
      issueIid: number;
      via: 'reply_token' | 'in_reply_to' | 'references';
      /** The participant address the reply is attributed to (lowercased). */
      participant: string;
      /** Post as an internal note (automated mail on a ticket, or a stranger under `internal_note`). */
      internal: boolean;
      /** Reopen the issue if it is closed (project setting, and never for automated mail). */
      reopen: boolean;
    };

// --- render ------------------------------------------------------------------------------------

/**
 * An attachment to upload. The description refers to it by the link target
 * `postdesk-upload://<index>`; deliver replaces that with the forge's URL once uploaded. Customer
 * text can never contain that scheme: render neutralises it.
 */
export interface UploadPlan {
  attachment: AttachmentMeta;
  /** Safe file name: no path, no control or bidi characters, length capped, extension kept. */
  filename: string;
  contentType: string;
  /** Shown in place (a referenced `cid:` image) rather than listed under the body. */
  inline: boolean;
}

export const UPLOAD_LINK_SCHEME = 'postdesk-upload://';

export interface IssueDraft {
  title: string;
  description: string;
  labels: string[];
  confidential: boolean;
  uploads: UploadPlan[];
}

export interface NoteDraft {
  body: string;
  internal: boolean;
  uploads: UploadPlan[];
}

// --- plan --------------------------------------------------------------------------------------

/** A new issue to make from the mail (core/plan.ts decides, an executor carries it out). */
export interface IssuePlan {
  kind: 'issue';
  draft: IssueDraft;
}

/** A note to add on an existing issue. */
export interface NotePlan {
  kind: 'note';
  issueIid: number;
  /** How the reply found its issue: the trace's reason for a planned note. */
  via: Extract<ThreadDecision, { kind: 'reply' }>['via'];
  draft: NoteDraft;
  /** An internal note adds nobody to the ticket and never reopens the issue. */
  internal: boolean;
  /** Reopen the issue if it is closed. */
  reopen: boolean;
}

/** The route ends without an issue or note: the outcome, its reason code and a sentence for a person. */
export interface EndingPlan {
  kind: 'ending';
  outcome: Exclude<Outcome, 'issue' | 'note'>;
  reason: string;
  message: string;
}

/** What to do for one routed project. */
export type Plan = IssuePlan | NotePlan | EndingPlan;
/** A plan that makes something on the forge. */
export type DeliverablePlan = IssuePlan | NotePlan;
