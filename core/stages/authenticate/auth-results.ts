import type { ParsedMail, ReceiptVerdicts } from '../../model.ts';

/** The authserv-id SES writes on the `Authentication-Results` header it prepends (aws-ses-inbound §1.2). */
export const SES_AUTHSERV_ID = 'amazonses.com';

/**
 * The authserv-id of an `Authentication-Results` value (RFC 8601 §2.2): the first token, after
 * comments are dropped, lowercased (it is a domain name). Linear: one pass per regex, no nesting.
 */
export const authservId = (value: string): string =>
  (
    value
      .replace(/\([^()]*\)/g, ' ')
      .trim()
      .split(/[\s;]+/)[0] ?? ''
  ).toLowerCase();

export interface AuthResultsCount {
  /** Headers nobody may rely on: every one but SES's own. */
  ignored: number;
  /** Of those, how many claim to be SES's (`amazonses.com`) without being the topmost one: forgeries. */
  spoofedSes: number;
}

/**
 * Counts the `Authentication-Results` headers the stage ignores. Only one can be trusted: the
 * topmost, with authserv-id `amazonses.com`, and only when the verdicts came from SES, because SES
 * prepends its header above everything the sender wrote (aws-ses-inbound §1.2). RFC 8601 §5 asks
 * receivers to remove forged ones; AWS does not say SES does, so a sender can put an
 * `amazonses.com; dkim=pass` header lower down, and one without SES in front (local mode) can put
 * it on top. The stage never reads any of them: verdicts come from the receipt; this count is
 * there for the trace, so a forgery attempt is visible.
 */
export const countIgnoredAuthResults = (
  mail: ParsedMail,
  source: ReceiptVerdicts['source'],
): AuthResultsCount => {
  const values = mail.headers.get('authentication-results') ?? [];
  const [top] = values;
  const trustedTop = source === 'ses' && top !== undefined && authservId(top) === SES_AUTHSERV_ID;
  const untrusted = trustedTop ? values.slice(1) : values;
  return {
    ignored: untrusted.length,
    spoofedSes: untrusted.filter((value) => authservId(value) === SES_AUTHSERV_ID).length,
  };
};
