import { domainToASCII } from 'node:url';
import type { Mailbox, ReceiptVerdicts } from '../../model.ts';
import { type StageResult, stop } from '../../trace.ts';

/**
 * The DMARC verdict is about the sender identity, or about nobody. DMARC checks one domain, the
 * RFC5322.From domain (RFC 7489 §3.1, §6.6.1); a verdict source that read the From differently
 * from Postdesk (a group whose one mailbox outside it was checked, a second From header only one
 * side saw) has vouched for a mailbox that is not the one the issue names. When the source says
 * which domain it evaluated (`verdicts.dmarcDomain`: the local check does, SES does not) and that
 * domain is not the identity's, the mail is held for a person: `dmarc_identity_mismatch`.
 *
 * Domains are compared as DNS compares them: case-insensitively, and an internationalised name by
 * its A-label (`例え.jp` is `xn--r8jz45g.jp`, RFC 5891 §4.4), as mailauth looks it up.
 */

/** The code of this rule, written here literally. */
export type DmarcIdentityReason = 'dmarc_identity_mismatch';

/** Characters a URL parser would read as something else than a host name. */
const NOT_HOST = /[\s/\\?#@:[\]%]/;

/**
 * A domain as DNS looks it up: lowercase A-labels, no trailing dot. Anything that is no host name
 * stays as written (lowercased), so two different strings never normalise to the same domain.
 */
export const dnsDomain = (domain: string): string => {
  const trimmed = domain.trim().replace(/\.$/, '').toLowerCase();
  if (NOT_HOST.test(trimmed)) return trimmed;
  return domainToASCII(trimmed) || trimmed;
};

export const requireDmarcOnIdentity = (
  identity: Mailbox,
  verdicts: Pick<ReceiptVerdicts, 'dmarcDomain'>,
): StageResult<never, DmarcIdentityReason> | undefined => {
  if (verdicts.dmarcDomain === undefined) return undefined;
  const identityDomain = dnsDomain(identity.address.slice(identity.address.lastIndexOf('@') + 1));
  const evaluated = dnsDomain(verdicts.dmarcDomain);
  if (evaluated === identityDomain) return undefined;
  return stop(
    'quarantined',
    'dmarc_identity_mismatch',
    `DMARC was evaluated on ${JSON.stringify(evaluated.slice(0, 255))}, not on the From domain ` +
      `${JSON.stringify(identityDomain.slice(0, 255))}: the verdict vouches for another mailbox than the one ` +
      'this mail would be attributed to, so it is attributed to nobody',
    { dmarcDomain: evaluated.slice(0, 255), fromDomain: identityDomain.slice(0, 255) },
  );
};
