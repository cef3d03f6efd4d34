import { parseConfig } from '../core/config/parse.ts';
import type { DeskConfig } from '../core/config/schema.ts';

/**
 * The built-in demo desk, used by the local commands when no config file exists and none is named:
 * mail to `support+demo@desk.localhost` becomes an issue of `demo/support` in the file forge.
 * `postdesk init` writes this same text as `postdesk.config.yaml`, so a desk made with init starts
 * exactly as the demo did. It is checked by the same schema as any config file (`.localhost` is
 * reserved, RFC 6761 section 6.3). The README's "Configure a project" lists every key.
 */
export const DEMO_CONFIG_TEXT = `# Postdesk desk config. Every key is listed in the README, "Configure a project".

# domain: the desk's mail domain (its MX record points at SES when deployed).
domain: desk.localhost
# mailbox: the local part; a project is reached at <mailbox>+<key>@<domain>.
mailbox: support

# forge: where tickets live. "file" keeps issues and notes as Markdown in .postdesk/forge/.
# For GitLab:  forge: { kind: gitlab, url: https://gitlab.example.com }
# and write the bot's token with \`postdesk secret edit\` (forge_token).
forge: { kind: file }
# bot_username: the GitLab user the desk acts as (its own comments are never mailed out).
# bot_username: support-bot

# authentication: the verdicts a mail must pass. The default requires spam and virus verdicts,
# which the local desk cannot compute (no scanner): they count as unavailable here, not failed.
# authentication: { require: [spam, virus, dmarc], on_fail: quarantine }

projects:
  # path: the forge project; key: the "+key" of its address (support+demo@desk.localhost).
  - path: demo/support
    key: demo
    # labels: [support]            # on every new ticket
    # confidential: true           # tickets are confidential, as GitLab's
    # reopen_on_reply: false       # a customer reply reopens a closed ticket
    # participants_from_cc: false  # Cc'd addresses become participants
    # outgoing_name: Postdesk Support
`;

export const DEMO_CONFIG_NAME = '(built-in demo desk)';

export const demoConfig = (): DeskConfig => parseConfig(DEMO_CONFIG_TEXT, DEMO_CONFIG_NAME);
