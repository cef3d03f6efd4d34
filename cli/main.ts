import { ConfigError, PostdeskError } from '../core/errors.ts';
import { type Command, type CommandIo, processIo, writeLine } from './io.ts';
import { commands } from './registry.ts';

const help = (): string =>
  [
    'postdesk: a service desk for code forges (customer email <-> forge issues)',
    '',
    'Usage: postdesk <command> [options]   (postdesk <command> --help for details)',
    '',
    ...commands.map((command) => `  ${command.name.padEnd(12)} ${command.summary}`),
    '',
    'Every command takes --json for output a program can read.',
  ].join('\n');

export const main = async (argv: string[], io: CommandIo = processIo()): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    writeLine(io.stdout, help());
    return name === undefined ? 2 : 0;
  }
  const command: Command | undefined = commands.find((candidate) => candidate.name === name);
  if (!command) {
    writeLine(io.stderr, `postdesk: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PostdeskError) {
      const json = rest.includes('--json');
      if (json) writeLine(io.stderr, JSON.stringify({ error: error.code, message: error.message }));
      else writeLine(io.stderr, `postdesk ${name}: ${error.message}`);
      return error instanceof ConfigError ? 3 : 1;
    }
    if (
      error instanceof TypeError &&
      (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      writeLine(io.stderr, `postdesk ${name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    throw error;
  }
};
