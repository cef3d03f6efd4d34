import type { ParseRejectReason } from './limits.ts';

/**
 * Internal to the parse stage: thrown inside the streaming pipeline to end it early, and turned
 * into a `stop(outcome, reason, message)` value by `parseMail`. Never escapes the module. Built
 * only by the rules in limits.ts, which decide the outcome with the reason code.
 */
export class MailRejectedError extends Error {
  readonly reason: ParseRejectReason;
  readonly outcome: 'rejected' | 'quarantined';
  readonly detail: Record<string, unknown> | undefined;
  constructor(
    reason: ParseRejectReason,
    outcome: 'rejected' | 'quarantined',
    message: string,
    detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'MailRejectedError';
    this.reason = reason;
    this.outcome = outcome;
    this.detail = detail;
  }
}

/** A failure of the raw mail's own stream, as opposed to anything the parser decided. */
export class RawReadError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'RawReadError';
  }
}

/** Ends an attachment re-read once the wanted attachment has been streamed: not a failure. */
export class WalkDoneError extends Error {
  constructor() {
    super('walk finished early');
    this.name = 'WalkDoneError';
  }
}
