import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { OutboundMailer } from '../../core/outbound/notify.ts';
import { awsErrorShape, toPostdeskError } from './errors.ts';

/**
 * The Mailer port on SES v2 `SendEmail` with raw content (`Content: { Raw: { Data } }`): the only
 * form that lets us set In-Reply-To, References, List-Unsubscribe and our loop header ourselves
 * (Simple and Template content forbid or rewrite them; SES `header-fields.html`).
 *
 * SES replaces our Message-ID with its own and returns the new id bare (`0102018f...-000000`). The
 * header the customer's client sees, and copies into In-Reply-To, is that id at an SES domain:
 * `<id>@email.amazonses.com` in us-east-1 and `<id>@<region>.amazonses.com` in the other regions
 * (the form reported by SES users and fixed in SES client libraries, e.g. drewblas/aws-ses#68 and
 * Mnexa-AI/e2a#498; AWS documents only that the header is overridden, not its domain). Since the
 * domain is not a documented contract, `messageIdForms` returns every plausible form and the
 * notifier indexes them all, plus our own id, which SES leaves in References.
 */

export interface SesMailerOptions {
  client: SESv2Client;
  /** The region SES sends from (the client's), e.g. `eu-west-1`; decides the Message-ID domain. */
  region: string;
  /** A configuration set whose event destination publishes bounces and complaints. */
  configurationSetName?: string | undefined;
}

/** Throttling and quota names that a later attempt can get past (SES v2 `SendEmail` errors). */
const RETRY_LATER = new Set([
  'TooManyRequestsException',
  'LimitExceededException',
  'SendingPausedException',
  'AccountSuspendedException',
]);

/** The header forms under which SES mail with this id can be referred to, the likeliest first. */
export const sesMessageIdForms = (messageId: string, region: string): string[] => {
  const bare = messageId.trim().replace(/^<|>$/g, '');
  if (bare.includes('@')) return [bare];
  const regional = `${bare}@${region}.amazonses.com`;
  const global = `${bare}@email.amazonses.com`;
  return region === 'us-east-1' ? [global, regional, bare] : [regional, global, bare];
};

export class SesMailer implements OutboundMailer {
  readonly #client: SESv2Client;
  readonly #region: string;
  readonly #configurationSetName: string | undefined;

  constructor(options: SesMailerOptions) {
    this.#client = options.client;
    this.#region = options.region;
    this.#configurationSetName = options.configurationSetName;
  }

  async sendRaw(input: { from: string; to: string[]; raw: Buffer }): Promise<{ messageId: string }> {
    let messageId: string | undefined;
    try {
      const output = await this.#client.send(
        new SendEmailCommand({
          FromEmailAddress: input.from,
          Destination: { ToAddresses: input.to },
          Content: { Raw: { Data: new Uint8Array(input.raw) } },
          ...(this.#configurationSetName ? { ConfigurationSetName: this.#configurationSetName } : {}),
        }),
      );
      messageId = output.MessageId;
    } catch (error) {
      const shape = awsErrorShape(error);
      if (RETRY_LATER.has(shape.name)) {
        throw new TransientError(
          'ses_throttled',
          `SES refused to send for now (${shape.name}: ${shape.message}); will retry`,
          {
            cause: error,
          },
        );
      }
      throw toPostdeskError(
        error,
        `sending mail with SES from ${input.from}`,
        'check that the desk domain is a verified SES identity in this region, that the account is out of the SES sandbox (or the recipient verified), and that the function may call ses:SendEmail',
        { transient: 'ses_unavailable', permanent: 'ses_rejected' },
      );
    }
    if (!messageId)
      throw new PermanentError('ses_no_message_id', 'SES accepted the mail but returned no MessageId');
    return { messageId };
  }

  messageIdForms(messageId: string): string[] {
    return sesMessageIdForms(messageId, this.#region);
  }
}
