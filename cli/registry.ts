import type { Command } from './io.ts';

/** Every `postdesk` subcommand, in the order `--help` lists them. One file per command under commands/. */
export const commands: Command[] = [];
