import type { ProjectConfig } from '../../config/schema.ts';
import type { Mailbox, ParsedMail } from '../../model.ts';
import { senderIdentity } from '../authenticate/sender-identity.ts';
import { escapeInline } from './markdown/escape.ts';
import { BIDI_CONTROLS, cleanText } from './text-clean.ts';

/**
 * The customer: the mail's one sender identity (the From mailbox DMARC evaluated), never Reply-To
 * or Sender, though GitLab's `external_author` takes Reply-To first (reference
 * gitlab-service-desk.md §2.3): a Reply-To or Sender is text anyone can write, and naming it as the
 * author would let a stranger sign a note with a customer's name.
 */
export const senderOf = (mail: Pick<ParsedMail, 'headers'>): Mailbox | undefined => {
  const identity = senderIdentity(mail.headers.get('from') ?? []);
  return identity.ok ? identity.mailbox : undefined;
};

const ADDRESS_LIKE = /[^\s<>()"'@,;]{1,256}@[^\s<>()"'@,;]{1,256}/g;
const NO_NAME = '(name not given)';

/**
 * The first line of every description and note: `**From:** Jane Doe`. The address is shown only
 * when the project allows it (`show_sender_address`, off by default: an issue may be seen by
 * more people than the customer chose to write to); a display name that is itself the address
 * (`"jane@example.com" <jane@example.com>`) is redacted the same way.
 *
 * A display name is never the only evidence of who wrote: a name holding another address
 * (`"ceo@acme.example" <mallory@evil.example>`) loses that address and the real one is shown
 * instead, whatever the setting. Hiding it would leave a reader with a name chosen to mislead;
 * the address is the sender's own choice to put an address in the name, and the one DMARC checked.
 */
export const authorLine = (mail: ParsedMail, project: ProjectConfig, automated = false): string => {
  const sender = senderOf(mail);
  const address = cleanText(sender?.address ?? '').trim();
  let name = cleanText(sender?.name ?? '')
    .replace(BIDI_CONTROLS, '')
    .replace(/\s+/g, ' ')
    .trim();
  const real = address.toLowerCase();
  const spoofed = (name.match(ADDRESS_LIKE) ?? []).some((found) => found.toLowerCase() !== real);
  const show = project.show_sender_address || (spoofed && address !== '');
  name = name
    .replace(ADDRESS_LIKE, (found) => (show && found.toLowerCase() === real ? found : ''))
    .replace(/[<(]\s*[>)]|(["'])\s*\1/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  const parts: string[] = [];
  if (name !== '') parts.push(escapeInline(name, { urls: false }));
  if (show && address !== '')
    parts.push(escapeInline(name === '' ? address : `<${address}>`, { urls: false }));
  if (parts.length === 0) parts.push(NO_NAME);
  return `**From:** ${parts.join(' ')}${automated ? ' (automated message)' : ''}`;
};
