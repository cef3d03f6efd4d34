import { localPart } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/** Role accounts that send delivery reports (RFC 5321 §4.5.1 postmaster, the sendmail-era daemon). */
const DAEMON_LOCAL_PARTS = new Set(['mailer-daemon', 'postmaster']);

/**
 * From is `MAILER-DAEMON@…` or `postmaster@…`, in any case: the sender of a bounce (FreeScout's
 * third bounce check; SES's own DSNs come from `MAILER-DAEMON@amazonses.com`).
 */
export const mailerDaemonSender: ClassifyRule<'mailer_daemon_sender'> = {
  reason: 'mailer_daemon_sender',
  kind: 'bounce',
  test(mail) {
    const daemon = mail.from.find((box) => DAEMON_LOCAL_PARTS.has(localPart(box.address)));
    return daemon ? `From=${daemon.address}` : undefined;
  },
};
