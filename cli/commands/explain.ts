import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { PermanentError } from '../../core/errors.ts';
import { planOnlyExecutor } from '../../core/execute.ts';
import { type InboundMail, NO_RECEIPT_VERDICTS } from '../../core/model.ts';
import { processMail } from '../../core/pipeline.ts';
import { type Clock, type Forge, type RawMailStore, silentLogger, systemClock } from '../../core/ports.ts';
import { objectStoreState } from '../../core/state/index.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { formatTrace } from '../format-trace.ts';
import {
  type Command,
  type CommandIo,
  dataDir,
  type loadConfigFile,
  loadConfigOrDemo,
  writeJson,
  writeLine,
} from '../io.ts';
import { readLocalSecretQuietly, readOnlyLocalState } from '../local-state.ts';

const usage = `Usage: postdesk explain FILE.eml [FILE.eml...] [--config FILE] [--recipient ADDR]... [--json]

Prints the decision trace for a mail: what each stage decided and why, and the issue or comment it
would make. A dry run: nothing is written and no forge is called.

  --config FILE      the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --recipient ADDR   an envelope recipient (RCPT TO), as SES would give it; repeat for several.
                     Without it the recipients are read from the headers, as GitLab does.
  --data-dir DIR     local state to read tickets from for replies (default ./.postdesk)
  --json             one JSON object per mail

Exit code: 0 when a trace was produced (whatever the outcome), 1 when a file cannot be read,
3 when the config is invalid.`;

/** A forge that must never be reached: explain is a dry run. */
const unreachableForge: Forge = new Proxy({} as Forge, {
  get(_target, property) {
    if (property === 'kind') return 'none';
    return () => {
      throw new Error(`explain is a dry run but the pipeline called forge.${String(property)}`);
    };
  },
});

const singleFileStore = (path: string): RawMailStore => ({
  open: async () => createReadStream(path),
  size: async () => (await stat(path)).size,
});

export const explainMail = async (
  file: string,
  options: {
    config: Awaited<ReturnType<typeof loadConfigFile>>;
    recipients: string[];
    dataDir: string;
    /** @default systemClock (tests fix it, so a trace's `receivedAt` is the same every run) */
    clock?: Clock | undefined;
  },
): Promise<DecisionTrace> => {
  const clock = options.clock ?? systemClock;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PermanentError(
      'file_unreadable',
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot be read (${code ?? 'error'})`,
    );
  }
  const mail: InboundMail = {
    id: `explain-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`,
    rawKey: file,
    envelope: { recipients: options.recipients, mailFrom: undefined },
    verdicts: NO_RECEIPT_VERDICTS,
    receivedAt: clock.now(),
  };
  const store = readOnlyLocalState(options.dataDir);
  return processMail(mail, {
    config: options.config,
    rawStore: singleFileStore(file),
    // Only read: the plan-only executor writes nothing, and the store refuses writes anyway.
    state: objectStoreState(store, { clock }),
    forge: unreachableForge,
    secrets: await readLocalSecretQuietly(options.dataDir),
    clock,
    logger: silentLogger,
    executor: planOnlyExecutor(),
  });
};

export const explainCommand: Command = {
  name: 'explain',
  summary: 'print the decision trace for a mail file (a dry run)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        recipient: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length === 0) {
      writeLine(io.stderr, `postdesk explain: name at least one .eml file\n\n${usage}`);
      return 2;
    }
    const { config } = await loadConfigOrDemo(values.config, io);
    let exitCode = 0;
    for (const file of positionals) {
      try {
        const trace = await explainMail(file, {
          config,
          recipients: values.recipient ?? [],
          dataDir: dataDir(values['data-dir'], io),
        });
        if (values.json) {
          // The first route's issue or note at the top level, so a script reads `issue.title` directly.
          const first = trace.deliveries[0];
          writeJson(io.stdout, { file, ...trace, issue: first?.issue, note: first?.note });
        } else writeLine(io.stdout, formatTrace(basename(file), trace));
      } catch (error) {
        if (!(error instanceof PermanentError) || error.code !== 'file_unreadable') throw error;
        if (values.json) writeJson(io.stderr, { file, error: error.code, message: error.message });
        else writeLine(io.stderr, `postdesk explain: ${error.message}`);
        exitCode = 1;
      }
    }
    return exitCode;
  },
};
