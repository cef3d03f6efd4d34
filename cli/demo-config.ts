import { parseConfig } from '../core/config/parse.ts';
import type { DeskConfig } from '../core/config/schema.ts';

/**
 * The built-in demo desk, used by `postdesk serve` when no config file exists and none is named:
 * mail to `support+demo@desk.localhost` becomes an issue of `demo/support` in the file forge.
 * It is checked by the same schema as a config file (`.localhost` is reserved, RFC 6761 section 6.3).
 */
export const DEMO_CONFIG_TEXT = `# Postdesk desk config (the built-in demo desk).
# domain: the desk's mail domain; mail to <mailbox>+<project key>@<domain> reaches a project.
domain: desk.localhost
# mailbox: the local part before "+key".
mailbox: support
# forge: where issues go; "file" keeps them in .postdesk/forge/ (GitLab: { kind: gitlab, url: ... }).
forge: { kind: file }
# authentication.require: verdicts a mail must pass; none locally (nothing scans spam or viruses).
authentication: { require: [] }
# projects: one entry per forge project; key is the "+key" of its address.
projects:
  - path: demo/support
    key: demo
`;

export const DEMO_CONFIG_NAME = '(built-in demo desk)';

export const demoConfig = (): DeskConfig => parseConfig(DEMO_CONFIG_TEXT, DEMO_CONFIG_NAME);
