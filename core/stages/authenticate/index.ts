import type { AuthenticationPolicy } from '../../config/schema.ts';
import type { ParsedMail, ReceiptVerdicts, VerdictStatus } from '../../model.ts';
import { pass, type StageResult, stop } from '../../trace.ts';
import type { AuthAssessment, Stage } from '../contracts.ts';
import { countIgnoredAuthResults } from './auth-results.ts';

export { authservId, countIgnoredAuthResults, SES_AUTHSERV_ID } from './auth-results.ts';

/** The verdicts a policy can require, most serious first: the first failure names the outcome. */
const VERDICTS = ['virus', 'spam', 'dmarc', 'dkim', 'spf'] as const;
type VerdictName = (typeof VERDICTS)[number];

/** Verdicts a passing ARC chain from a trusted forwarder stands in for: forwarding breaks them. */
const ARC_RESCUABLE: ReadonlySet<VerdictName> = new Set(['dkim', 'dmarc']);

/** Every reason code the authenticate stage (and the per-project `policy` stage) emits. */
export type AuthenticateReason =
  | 'policy_satisfied'
  | 'arc_rescued'
  | 'virus_detected'
  | 'spam_detected'
  | 'dmarc_failed'
  | 'dkim_failed'
  | 'spf_failed'
  | 'virus_unverified'
  | 'spam_unverified'
  | 'dmarc_unverified'
  | 'dkim_unverified'
  | 'spf_unverified'
  | 'dmarc_policy_reject'
  | 'dmarc_policy_quarantine';

/**
 * The reason code for a required verdict that is not PASS. `FAIL` is a finding (`dkim_failed`,
 * `spam_detected`); any other status (GRAY, PROCESSING_FAILED, DISABLED, NONE) means nobody could
 * say, which a requirement does not accept either, but a person reading the trace should see the
 * difference: `spf_unverified` is "no SPF record" or "scan off", not "forged".
 */
const NOT_PASSED: {
  readonly [name in VerdictName]: { fail: AuthenticateReason; other: AuthenticateReason };
} = {
  virus: { fail: 'virus_detected', other: 'virus_unverified' },
  spam: { fail: 'spam_detected', other: 'spam_unverified' },
  dmarc: { fail: 'dmarc_failed', other: 'dmarc_unverified' },
  dkim: { fail: 'dkim_failed', other: 'dkim_unverified' },
  spf: { fail: 'spf_failed', other: 'spf_unverified' },
};

const reasonFor = (name: VerdictName, status: VerdictStatus): AuthenticateReason =>
  status === 'FAIL' ? NOT_PASSED[name].fail : NOT_PASSED[name].other;

/** The sender domain's published DMARC policy that quarantines a DMARC failure. */
const DMARC_POLICY: { readonly [policy in 'reject' | 'quarantine']: AuthenticateReason } = {
  reject: 'dmarc_policy_reject',
  quarantine: 'dmarc_policy_quarantine',
};

const origin = (source: ReceiptVerdicts['source']): string =>
  source === 'ses' ? 'the SES receipt' : source === 'local' ? 'the local check' : 'no receiving server';

/**
 * Applies an authentication policy to the receiving server's verdicts. Verdicts come only from the
 * SES receipt or from local computation (`adapters/local/verdicts.ts`), never from headers in the
 * mail, which a sender can write (aws-ses-inbound §1.2). Order of decisions:
 *
 * 1. virus FAIL: quarantined (`virus_detected`), whatever the policy.
 * 2. a required verdict that is not PASS, unless rescued: `on_fail: drop` ends the mail as
 *    dropped, `quarantine` as quarantined, `label` passes it with the verdict in `failed` (the
 *    pipeline adds `fail_label`). `failed` therefore lists required verdicts only.
 * 3. DMARC FAIL where the sender's domain publishes `p=reject`/`quarantine` and the policy honours
 *    it: quarantined (`dmarc_policy_reject`, `dmarc_policy_quarantine`). Quarantine, not drop, even
 *    for `reject`: a wrongly rejected forward can then still be released.
 *
 * ARC rescue: a DKIM or DMARC failure is forgiven only when the ARC chain passed AND its newest
 * sealer is in `trusted_forwarders` (mailauth does not do this on its own; helpdesk-peers §8.3).
 * SPF is not rescued: the policy names DKIM and DMARC only.
 */
export const authenticateMail = (
  mail: ParsedMail,
  verdicts: ReceiptVerdicts,
  policy: AuthenticationPolicy,
): StageResult<AuthAssessment, AuthenticateReason> => {
  const authResults = countIgnoredAuthResults(mail, verdicts.source);
  const sealer = verdicts.arc?.sealer?.toLowerCase();
  const arcTrusted =
    verdicts.arc?.result === 'pass' &&
    sealer !== undefined &&
    policy.trusted_forwarders.some((forwarder) => forwarder.toLowerCase() === sealer);

  const failures: { name: VerdictName; status: VerdictStatus; reason: AuthenticateReason }[] = [];
  const rescued = new Set<VerdictName>();
  for (const name of VERDICTS) {
    if (!policy.require.includes(name) || verdicts[name] === 'PASS') continue;
    if (ARC_RESCUABLE.has(name) && arcTrusted) rescued.add(name);
    else failures.push({ name, status: verdicts[name], reason: reasonFor(name, verdicts[name]) });
  }

  let dmarcPolicy: 'reject' | 'quarantine' | undefined;
  if (
    verdicts.dmarc === 'FAIL' &&
    policy.honour_dmarc_policy &&
    (verdicts.dmarcPolicy === 'reject' || verdicts.dmarcPolicy === 'quarantine')
  ) {
    if (arcTrusted) rescued.add('dmarc');
    else dmarcPolicy = verdicts.dmarcPolicy;
  }

  const assessment: AuthAssessment = {
    verdicts,
    failed: failures.map((failure) => failure.name),
    rescuedByArc: rescued.size > 0,
    ignoredAuthResults: authResults.ignored,
  };
  const detail: Record<string, unknown> = {
    source: verdicts.source,
    verdicts: {
      spf: verdicts.spf,
      dkim: verdicts.dkim,
      dmarc: verdicts.dmarc,
      spam: verdicts.spam,
      virus: verdicts.virus,
    },
    ...(verdicts.dmarcPolicy === undefined ? {} : { dmarcPolicy: verdicts.dmarcPolicy }),
    ...(verdicts.arc === undefined ? {} : { arc: verdicts.arc }),
    ...(failures.length > 0
      ? { failed: failures.map((failure) => `${failure.name}=${failure.status}`) }
      : {}),
    ...(rescued.size > 0 ? { rescuedByArc: [...rescued] } : {}),
    ...(authResults.ignored > 0 ? { ignoredAuthResults: authResults.ignored } : {}),
    ...(authResults.spoofedSes > 0 ? { spoofedSesAuthResults: authResults.spoofedSes } : {}),
  };

  if (verdicts.virus === 'FAIL') {
    return stop(
      'quarantined',
      'virus_detected',
      `The virus scan of ${origin(verdicts.source)} failed this mail; it is quarantined and never delivered. ` +
        'Release it only after checking its attachments by other means.',
      detail,
    );
  }

  const [first] = failures;
  if (first && policy.on_fail !== 'label') {
    const list = failures.map((failure) => `${failure.name} ${failure.status}`).join(', ');
    return stop(
      policy.on_fail === 'drop' ? 'dropped' : 'quarantined',
      first.reason,
      `Required check${failures.length > 1 ? 's' : ''} not passed (${list}, from ${origin(verdicts.source)}); ` +
        `the policy says on_fail: ${policy.on_fail}.` +
        (first.status === 'DISABLED' ? ` ${first.name} scanning is off where the mail was received.` : ''),
      detail,
    );
  }

  if (dmarcPolicy) {
    return stop(
      'quarantined',
      DMARC_POLICY[dmarcPolicy],
      `DMARC failed and the sender's domain publishes p=${dmarcPolicy}; the mail is quarantined instead of ` +
        'delivered. If it was forwarded by a list or a mail provider, add that forwarder to ' +
        'authentication.trusted_forwarders so its ARC seal can vouch for it.',
      detail,
    );
  }

  if (first) return pass(assessment, 'unverified', first.reason, { ...detail, label: policy.fail_label });
  return pass(assessment, 'authenticated', rescued.size > 0 ? 'arc_rescued' : 'policy_satisfied', detail);
};

/** The authenticate stage: `authenticateMail` with the policy the caller chose (desk-wide or the project's). */
export const authenticateStage: Stage<
  { mail: ParsedMail; verdicts: ReceiptVerdicts; policy: AuthenticationPolicy },
  AuthAssessment,
  AuthenticateReason,
  never
> = async (input) => authenticateMail(input.mail, input.verdicts, input.policy);
