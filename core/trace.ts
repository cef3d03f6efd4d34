/**
 * The decision trace: one structured record per mail, stage by stage, with a reason code for every
 * verdict and one final outcome. It is logged as JSON, stored with quarantined mail and printed by
 * `postdesk explain`. It never holds a secret, and holds the sender's address only in `mail.from`.
 */

export const Outcome = ['issue', 'note', 'dropped', 'quarantined', 'rejected'] as const;
export type Outcome = (typeof Outcome)[number];

export const StageName = [
  'load',
  'parse',
  'authenticate',
  'classify',
  'route',
  'policy',
  'thread',
  'limit',
  'render',
  'deliver',
] as const;
export type StageName = (typeof StageName)[number];

/**
 * A stage either passes its value on, or ends the mail (or one of its routes) with an outcome. `R`
 * is the stage's union of reason codes (e.g. `AuthenticateReason`; all of them: core/reasons.ts).
 */
export type StageResult<T, R extends string = string> =
  | { ok: true; value: T; verdict: string; reason: R; detail?: Record<string, unknown> | undefined }
  | {
      ok: false;
      outcome: Exclude<Outcome, 'issue' | 'note'>;
      reason: R;
      /** A sentence for a person: what happened and, where it helps, what to do. */
      message: string;
      detail?: Record<string, unknown> | undefined;
    };

export const pass = <T, R extends string>(
  value: T,
  verdict: string,
  reason: R,
  detail?: Record<string, unknown>,
): StageResult<T, R> => ({ ok: true, value, verdict, reason, ...(detail ? { detail } : {}) });

export const stop = <R extends string>(
  outcome: Exclude<Outcome, 'issue' | 'note'>,
  reason: R,
  message: string,
  detail?: Record<string, unknown>,
): StageResult<never, R> => ({ ok: false, outcome, reason, message, ...(detail ? { detail } : {}) });

export interface StageRecord {
  stage: StageName;
  /** Set for the stages that run once per routed project. */
  project?: string | undefined;
  verdict: string;
  reason: string;
  message?: string | undefined;
  detail?: Record<string, unknown> | undefined;
  ms: number;
}

export interface UploadSummary {
  filename: string;
  contentType: string;
  size: number;
  inline: boolean;
}

/** What the pipeline did (or, in a dry run, would do) for one routed project. */
export interface DeliveryRecord {
  project: string;
  outcome: Outcome;
  reason: string;
  message?: string | undefined;
  issue?:
    | {
        iid?: number | undefined;
        url?: string | undefined;
        title: string;
        description: string;
        labels: string[];
        confidential: boolean;
        uploads: UploadSummary[];
      }
    | undefined;
  note?:
    | {
        issueIid: number;
        id?: number | undefined;
        body: string;
        internal: boolean;
        uploads: UploadSummary[];
        reopened?: boolean | undefined;
      }
    | undefined;
}

export interface DecisionTrace {
  mailId: string;
  receivedAt: string;
  mail: {
    messageId?: string | undefined;
    from?: string | undefined;
    subject?: string | undefined;
    size?: number | undefined;
  };
  outcome: Outcome;
  reason: string;
  message: string;
  /** Every route found; `route` is the first, kept for quick reading. */
  routes: { project: string; address: string; via: string }[];
  route?: { project: string; address: string; via: string } | undefined;
  stages: StageRecord[];
  deliveries: DeliveryRecord[];
  /** True when nothing was written and no forge was called (`postdesk explain`). */
  dryRun: boolean;
}

/** Combines per-route outcomes into the mail's outcome: the most productive one wins. */
export const combineOutcomes = (outcomes: readonly Outcome[]): Outcome => {
  const order: Outcome[] = ['issue', 'note', 'quarantined', 'rejected', 'dropped'];
  for (const candidate of order) if (outcomes.includes(candidate)) return candidate;
  return 'dropped';
};
