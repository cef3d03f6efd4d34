import * as z from 'zod';
import { isAddrSpec } from '../address.ts';

/**
 * `postdesk.config.yaml`: one strict schema, checked at synth and at run time. Unknown keys are
 * rejected (a typo must not silently disable a policy). Defaults here are the documented ones.
 */

const hostname = z.string().regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, {
  message: 'must be a domain name such as desk.example.com',
});

const emailAddress = z.string().refine(isAddrSpec, {
  message: 'must be an email address such as help@example.com',
});

const verdictName = z.enum(['spf', 'dkim', 'dmarc', 'spam', 'virus']);

export const AuthenticationPolicySchema = z.strictObject({
  /** Verdicts that must be PASS for a mail to be accepted. @default ['spam', 'virus'] */
  require: z.array(verdictName).default(['spam', 'virus']),
  /** What a failed required verdict does. @default 'quarantine' */
  on_fail: z.enum(['drop', 'quarantine', 'label']).default('quarantine'),
  /** Label added when `on_fail: label`. @default 'postdesk::unverified' */
  fail_label: z.string().min(1).default('postdesk::unverified'),
  /** Follow the sender domain's published DMARC policy (reject/quarantine) when DMARC fails. @default true */
  honour_dmarc_policy: z.boolean().default(true),
  /** ARC sealers whose passing chain rescues a forwarded mail that fails DKIM/DMARC. @default [] */
  trusted_forwarders: z.array(hostname).default([]),
});

export const TemplateSchema = z.union([
  z.strictObject({ inline: z.string().min(1) }),
  z.strictObject({ path: z.string().min(1) }),
]);

export const ProjectSchema = z.strictObject({
  /** Full path in the forge, e.g. `acme/game`. */
  path: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, {
    message: 'must be a full project path such as group/project',
  }),
  /** Address key: mail to `<mailbox>+<key>@<domain>` reaches this project. */
  key: z.string().regex(/^[a-z0-9_]+$/, { message: 'must match [a-z0-9_]+ (lowercase letters, digits, _)' }),
  /** Numeric forge id, to accept GitLab's `incoming+<slug>-<id>-issue-@` form. */
  id: z.number().int().positive().optional(),
  /** Extra addresses that route to this project (e.g. help@acme.com forwarded to the desk). */
  aliases: z.array(emailAddress).default([]),
  /** Labels put on every new issue. */
  labels: z.array(z.string().min(1)).default([]),
  /** New issues are confidential. @default true */
  confidential: z.boolean().default(true),
  /** Description template appended to every new issue (quick actions in it run, as in GitLab). */
  template: TemplateSchema.optional(),
  /** Add Cc'd addresses as external participants, as GitLab's setting. @default false */
  participants_from_cc: z.boolean().default(false),
  /** Reopen a closed issue when the customer replies. @default false */
  reopen_on_reply: z.boolean().default(false),
  /** Display name on outbound mail. @default 'Postdesk Support' */
  outgoing_name: z.string().min(1).max(255).default('Postdesk Support'),
  /** Show the sender's address in the issue body (only safe for confidential issues). @default false */
  show_sender_address: z.boolean().default(false),
  /** Mail from `Precedence: bulk` / mailing lists creates an issue instead of being dropped. @default false */
  accept_bulk: z.boolean().default(false),
  /** What a reply from someone who is not a participant does. @default 'quarantine' */
  strangers: z.enum(['quarantine', 'drop', 'internal_note']).default('quarantine'),
  notifications: z
    .strictObject({
      thank_you: z.boolean().default(true),
      new_note: z.boolean().default(true),
      new_participant: z.boolean().default(true),
    })
    .prefault({}),
  authentication: AuthenticationPolicySchema.optional(),
});

export const LimitsSchema = z.strictObject({
  /** Largest raw mail accepted, bytes. SES's own ceiling is 40 MB. @default 41943040 */
  max_raw_bytes: z
    .number()
    .int()
    .positive()
    .default(40 * 1024 * 1024),
  /** Largest header block, bytes. @default 262144 */
  max_header_bytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /**
   * Most lines in the top header block (folded lines counted one by one). Checked on the raw bytes
   * before any header parser runs: mailauth's is superlinear in continuation lines. @default 5000
   */
  max_header_lines: z.number().int().positive().default(5000),
  /** Deepest MIME nesting. @default 20 */
  max_mime_depth: z.number().int().positive().default(20),
  /** Most MIME parts in one mail. @default 500 */
  max_parts: z.number().int().positive().default(500),
  /** Longest issue description, characters (GitLab allows 1,048,576). @default 1000000 */
  max_description_chars: z.number().int().positive().default(1_000_000),
});

export const RateLimitsSchema = z.strictObject({
  /** Inbound comments per ticket in sliding windows (Zammad's defaults), `seconds: count`. */
  per_ticket: z
    .record(z.string().regex(/^\d+$/), z.number().int().positive())
    .default({ '10': 10, '60': 25, '600': 100 }),
  /** Inbound mails per sender (From), across tickets. */
  per_sender: z
    .record(z.string().regex(/^\d+$/), z.number().int().positive())
    .default({ '60': 20, '3600': 200 }),
  /** Inbound mails per desk. */
  per_desk: z
    .record(z.string().regex(/^\d+$/), z.number().int().positive())
    .default({ '10': 30, '600': 360 }),
  /** Thank-you mails to one address within 3 hours, whatever the subject (FreeScout). @default 2 */
  thank_you_per_sender: z.number().int().nonnegative().default(2),
  /**
   * Automatic mails (thank-you, new participant) the whole desk sends in any hour: anyone can put
   * any address in From, so this bounds the mail the desk can be made to send to strangers.
   * @default 200
   */
  automatic_per_hour: z.number().int().nonnegative().default(200),
  /** Outbound mails per desk per day; over it, an internal note instead (GitLab). @default 1000 */
  outbound_per_day: z.number().int().nonnegative().default(1000),
});

export const ForgeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('gitlab'),
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  }),
  z.strictObject({ kind: z.literal('file') }),
]);

export const ConfigSchema = z.strictObject({
  /** The desk's mail domain, e.g. desk.example.com (MX points at SES). */
  domain: hostname,
  /** Local part before `+key`. @default 'support' */
  mailbox: z
    .string()
    .regex(/^[a-z0-9._-]+$/i, { message: 'must be a plain local part such as support' })
    .default('support'),
  forge: ForgeSchema,
  /** The forge user name of the desk's bot (its own notes are never emailed). */
  bot_username: z.string().min(1).optional(),
  /** Public URL of the desk's unsubscribe endpoint. */
  public_url: z.url().optional(),
  authentication: AuthenticationPolicySchema.prefault({}),
  limits: LimitsSchema.prefault({}),
  rate_limits: RateLimitsSchema.prefault({}),
  projects: z.array(ProjectSchema).min(1, { message: 'list at least one project' }),
});

export type DeskConfig = z.output<typeof ConfigSchema>;
export type ProjectConfig = z.output<typeof ProjectSchema>;
export type AuthenticationPolicy = z.output<typeof AuthenticationPolicySchema>;
export type Limits = z.output<typeof LimitsSchema>;
