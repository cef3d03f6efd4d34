import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { PermanentError } from '../../core/errors.ts';
import { DEMO_CONFIG_TEXT } from '../demo-config.ts';
import { type Command, type CommandIo, configPath, writeJson, writeLine } from '../io.ts';

const usage = `Usage: postdesk init [--config FILE] [--json]

Writes a commented postdesk.config.yaml: the demo desk (domain desk.localhost, project demo/support
with key demo, the file forge), ready to edit. It never overwrites a file that exists.

  --config FILE        where to write (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --json               {"written": PATH} on stdout`;

export const initCommand: Command = {
  name: 'init',
  summary: 'write a commented postdesk.config.yaml to start from (never overwrites)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
    });
    const path = configPath(values.config, io);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      // `wx`: an existing config (or one written a moment ago by someone else) is left alone.
      handle = await open(path, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new PermanentError(
          'config_exists',
          `${path} exists; init never overwrites it (edit it, or pass --config NEW-FILE)`,
        );
      }
      throw error;
    }
    try {
      await handle.writeFile(DEMO_CONFIG_TEXT);
    } finally {
      await handle.close();
    }
    if (values.json) writeJson(io.stdout, { written: path });
    else {
      writeLine(io.stdout, `wrote ${path}: the demo desk, commented. Edit it, then \`npm start\`.`);
    }
    return 0;
  },
};
