import { parseArgs } from 'node:util';
import { isFileForge } from '../../adapters/forges/file/index.ts';
import { ensureLocalSecret } from '../../adapters/local/secret-file.ts';
import { PermanentError } from '../../core/errors.ts';
import {
  type Command,
  type CommandIo,
  dataDir,
  isTty,
  loadConfigOrDemo,
  readAll,
  writeJson,
  writeLine,
} from '../io.ts';
import { openLocalRuntime } from '../local-runtime.ts';
import { DEFAULT_TEAM_AUTHOR, parseTicketRef, teamReply } from '../local-team.ts';

const usage = `Usage: postdesk reply <project>#<iid> [--message TEXT] [--internal] [--close | --reopen] [--json]

Answers a ticket of the local file forge as the team does on GitLab: the note is written to
.postdesk/forge/, then the desk's webhook gets the Note Hook GitLab would send, and the customer's
mail is composed into .postdesk/outbox/ (an internal note is never mailed). The text comes from
--message or from standard input, in Markdown.

  <project>#<iid>      the ticket: the project's path or key, e.g. demo/support#1 or demo#1
  --message TEXT       the answer (default: read standard input)
  --internal           an internal note: seen by the team, never mailed to the customer
  --close              close the ticket after the answer (a customer reply reopens it only where
                       the project has reopen_on_reply)
  --reopen             reopen a closed ticket before the answer
  --author NAME        the team member's username (default ${DEFAULT_TEAM_AUTHOR})
  --config FILE        the desk config (default ./postdesk.config.yaml; none: the demo desk)
  --data-dir DIR       local state (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --json               {"project","iid","noteId","queued","state"} on stdout

Examples:
  postdesk reply demo#1 --message "Thanks, fixed in 1.2.3."
  echo "Looking into it." | postdesk reply demo/support#1 --internal`;

export const replyCommand: Command = {
  name: 'reply',
  summary: 'answer a ticket of the local file forge as the team (mail to .postdesk/outbox/)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        message: { type: 'string', short: 'm' },
        internal: { type: 'boolean', default: false },
        close: { type: 'boolean', default: false },
        reopen: { type: 'boolean', default: false },
        author: { type: 'string' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) {
      writeLine(io.stderr, `postdesk reply: name one ticket, e.g. demo#1\n\n${usage}`);
      return 2;
    }
    if (values.close && values.reopen) {
      writeLine(io.stderr, 'postdesk reply: --close and --reopen cannot go together');
      return 2;
    }
    const ticket = parseTicketRef(positionals[0] ?? '');
    let message = values.message;
    if (message === undefined && !values.close && !values.reopen) {
      if (isTty(io.stdin)) writeLine(io.stderr, 'Type the answer (Markdown); end with Ctrl-D.');
      message = await readAll(io.stdin);
    }
    const { config } = await loadConfigOrDemo(values.config, io);
    const directory = dataDir(values['data-dir'], io);
    await ensureLocalSecret({ dataDir: directory, env: io.env });
    const runtime = await openLocalRuntime({ config, dataDir: directory, env: io.env, forge: 'file' });
    const forge = runtime.desk.deps.forge;
    if (!isFileForge(forge)) {
      throw new PermanentError('forge_not_file', 'postdesk reply answers on the local file forge only');
    }
    const result = await teamReply(
      { config, forge, secrets: runtime.desk.secrets, handleWebhook: runtime.handleWebhook },
      {
        project: ticket.project,
        iid: ticket.iid,
        message: message ?? '',
        internal: values.internal,
        state: values.close ? 'close' : values.reopen ? 'reopen' : undefined,
        author: values.author,
      },
    );
    if (values.json) {
      writeJson(io.stdout, result);
      return 0;
    }
    const ref = `${result.project}#${result.iid}`;
    const parts: string[] = [];
    if (result.noteId !== undefined) {
      parts.push(
        `${values.internal ? 'internal note' : 'note'} ${result.noteId} on ${ref}`,
        result.queued > 0
          ? `${result.queued} mail${result.queued === 1 ? '' : 's'} to the customer in ${runtime.outboxDir}`
          : `no mail (${result.ignored ?? 'nothing to send'})`,
      );
    }
    if (values.close || values.reopen)
      parts.push(`${ref} is ${result.state === 'closed' ? 'closed' : 'open'}`);
    writeLine(io.stdout, parts.join('; '));
    return 0;
  },
};
