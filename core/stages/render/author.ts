import type { ProjectConfig } from '../../config/schema.ts';
import type { Mailbox, ParsedMail } from '../../model.ts';
import { escapeInline } from './markdown/escape.ts';
import { BIDI_CONTROLS, cleanText } from './text-clean.ts';

/** The customer, as GitLab's `external_author`: Reply-To, else From, else Sender. */
export const senderOf = (mail: ParsedMail): Mailbox | undefined =>
  mail.replyTo[0] ?? mail.from[0] ?? mail.sender;

const ADDRESS_LIKE = /[^\s<>()"'@,;]{1,256}@[^\s<>()"'@,;]{1,256}/g;
const NO_NAME = '(name not given)';

/**
 * The first line of every description and note: `**From:** Jane Doe`. The address is shown only
 * when the project allows it (`show_sender_address`, off by default: an issue may be seen by
 * more people than the customer chose to write to); a display name that is itself an address
 * (`"jane@example.com" <jane@example.com>`) is redacted the same way.
 */
export const authorLine = (mail: ParsedMail, project: ProjectConfig, automated = false): string => {
  const sender = senderOf(mail);
  const show = project.show_sender_address;
  let name = cleanText(sender?.name ?? '')
    .replace(BIDI_CONTROLS, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (!show) {
    name = name
      .replace(ADDRESS_LIKE, '')
      .replace(/[<(]\s*[>)]|(["'])\s*\1/g, '')
      .replace(/\s+/g, ' ')
      .trim();
  }
  const address = cleanText(sender?.address ?? '').trim();
  const parts: string[] = [];
  if (name !== '') parts.push(escapeInline(name, { urls: false }));
  if (show && address !== '')
    parts.push(escapeInline(name === '' ? address : `<${address}>`, { urls: false }));
  if (parts.length === 0) parts.push(NO_NAME);
  return `**From:** ${parts.join(' ')}${automated ? ' (automated message)' : ''}`;
};
