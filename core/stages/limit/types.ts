import type { DeskConfig, ProjectConfig } from '../../config/schema.ts';
import type { ParsedMail } from '../../model.ts';
import type { Classification, ThreadDecision } from '../contracts.ts';

/** What a limit rule may look at: the mail after threading, for one routed project. */
export interface LimitInput {
  /** The pipeline's mail id: a mail is counted once per rule, however often it is retried. */
  mailId: string;
  mail: ParsedMail;
  classification: Classification;
  project: ProjectConfig;
  thread: ThreadDecision;
  rateLimits: DeskConfig['rate_limits'];
  isDeskAddress: (address: string) => boolean;
  /**
   * Per-sender windows, `seconds: count`.
   * @default `rate_limits.per_sender` from the config
   */
  perSenderWindows?: Readonly<Record<string, number>> | undefined;
}

/** One inbound limit: what it counts (its key), in which windows, and the reason code when full. */
export interface InboundLimitRule<R extends string = string> {
  /** The rule's reason code, a literal type written in the rule's own file. */
  readonly reason: R;
  readonly scope: string;
  /** The counter key, or undefined when the rule does not apply to this mail. */
  key(input: LimitInput): string | undefined;
  windows(input: LimitInput): Readonly<Record<string, number>>;
  /** A sentence for a person: what was counted, e.g. `comments on acme/game#4`. */
  describe(input: LimitInput): string;
  /** The config key that sets the windows, for the message. */
  readonly setting: string;
}
