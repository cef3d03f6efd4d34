import { explainCommand } from './commands/explain.ts';
import { ingestCommand } from './commands/ingest.ts';
import { secretCommand } from './commands/secret.ts';
import type { Command } from './io.ts';

/** Every `postdesk` subcommand, in the order `--help` lists them. One file per command under commands/. */
export const commands: Command[] = [explainCommand, ingestCommand, secretCommand];
