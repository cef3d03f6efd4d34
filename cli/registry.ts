import { doctorCommand } from './commands/doctor.ts';
import { explainCommand } from './commands/explain.ts';
import { ingestCommand } from './commands/ingest.ts';
import { initCommand } from './commands/init.ts';
import { quarantineCommand } from './commands/quarantine.ts';
import { redriveCommand } from './commands/redrive.ts';
import { replyCommand } from './commands/reply.ts';
import { secretCommand } from './commands/secret.ts';
import { serveCommand } from './commands/serve.ts';
import type { Command } from './io.ts';

/** Every `postdesk` subcommand, in the order `--help` lists them. One file per command under commands/. */
export const commands: Command[] = [
  initCommand,
  explainCommand,
  ingestCommand,
  secretCommand,
  serveCommand,
  replyCommand,
  quarantineCommand,
  redriveCommand,
  doctorCommand,
];
