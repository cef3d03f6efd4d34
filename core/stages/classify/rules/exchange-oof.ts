import { evidence, firstHeader } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * Exchange's out-of-office reply: `X-Auto-Response-Suppress` lists `All` **and** the message carries
 * `X-MS-Exchange-Inbox-Rules-Loop` (Zammad `out_of_office_check`). The suppress header alone is
 * also set on ordinary Outlook mail (meeting responses, GitLab's own notifications) and is not an
 * out-of-office signal; see `suppressesAutoResponse` for what it does mean.
 */
export const exchangeOof: ClassifyRule<'exchange_oof'> = {
  reason: 'exchange_oof',
  kind: 'out_of_office',
  test(mail) {
    const suppress = firstHeader(mail, 'x-auto-response-suppress');
    const loop = firstHeader(mail, 'x-ms-exchange-inbox-rules-loop');
    if (suppress === undefined || loop === undefined) return undefined;
    const values = suppress.split(/[\s,]+/).map((token) => token.toLowerCase());
    return values.includes('all')
      ? `${evidence('X-Auto-Response-Suppress', suppress)}; ${evidence('X-MS-Exchange-Inbox-Rules-Loop', loop)}`
      : undefined;
  },
};
