import type { ParsedMail } from '../../model.ts';
import type { MailClass } from '../contracts.ts';

/** What classify knows about the desk, beyond the mail itself. */
export interface ClassifyContext {
  /** The desk's mail domain, e.g. `desk.example.com`. */
  domain: string;
  /** True for any address the desk receives at (see `core/desk-addresses.ts`). */
  isDeskAddress(address: string): boolean;
  /** The header our outbound mail carries; its presence means our own mail came back. */
  loopHeader: 'x-postdesk-loop';
}

/**
 * One classification rule: one signal, one reason code, one file. `test` returns the evidence that
 * made it fire (`Auto-Submitted=auto-replied`), or undefined. Rules only read; they never throw on
 * odd input, because every header is sender-controlled.
 */
export interface ClassifyRule<R extends string = string> {
  /** The rule's reason code, a literal type written in the rule's own file. */
  reason: R;
  kind: Exclude<MailClass, 'human'>;
  test(mail: ParsedMail, context: ClassifyContext): string | undefined;
}
