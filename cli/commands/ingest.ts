import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage, isTransient } from '../../core/errors.ts';
import { NO_RECEIPT_VERDICTS } from '../../core/model.ts';
import { processMail } from '../../core/pipeline.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import { type Command, type CommandIo, dataDir, loadConfigOrDemo, writeJson, writeLine } from '../io.ts';
import { type ForgeChoice, localMailId, openLocalDesk, rawKeyOf } from '../local-desk.ts';

const usage = `Usage: postdesk ingest FILE.eml [FILE.eml...] [--config FILE] [--recipient ADDR]... [--forge auto|file|gitlab] [--json]

Runs mail files through the whole pipeline, as if they had arrived by SMTP: the raw mail is stored
under .postdesk/mail/, and issues or comments are made in the forge. The same file twice makes one
issue (the ledger remembers it).

  --config FILE      the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --recipient ADDR   an envelope recipient; without it the headers are read, as GitLab does
  --forge KIND       auto (default): GitLab when the config names it and the secret has a
                     forge_token, else the file forge in .postdesk/forge/; or force file/gitlab
  --data-dir DIR     local state (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --json             one JSON line per mail (the decision trace), then a summary line

Exit code: 0 when every mail got a decision, 1 when one could not be read or hit a transient
failure (run the command again: delivered mail is not delivered twice).`;

export const ingestCommand: Command = {
  name: 'ingest',
  summary: 'run .eml files through the pipeline into the forge',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        recipient: { type: 'string', multiple: true },
        forge: { type: 'string', default: 'auto' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length === 0) {
      writeLine(io.stderr, `postdesk ingest: name at least one .eml file\n\n${usage}`);
      return 2;
    }
    const forge = values.forge as ForgeChoice;
    if (!['auto', 'file', 'gitlab'].includes(forge)) {
      writeLine(io.stderr, `postdesk ingest: --forge must be auto, file or gitlab, not "${values.forge}"`);
      return 2;
    }
    const { config } = await loadConfigOrDemo(values.config, io);
    const desk = await openLocalDesk({
      config,
      dataDir: dataDir(values['data-dir'], io),
      env: io.env,
      forge,
    });
    if (!values.json) writeLine(io.stderr, `delivering to ${desk.forgeDescription}`);

    const counts: Record<string, number> = {};
    let failed = 0;
    for (const [index, file] of positionals.entries()) {
      const progress = positionals.length > 1 ? `[${index + 1}/${positionals.length}] ` : '';
      let trace: DecisionTrace;
      try {
        const raw = await readFile(file);
        const id = localMailId(raw);
        if ((await desk.rawStore.size(rawKeyOf(id))) === undefined)
          await desk.rawStore.put(rawKeyOf(id), raw);
        trace = await processMail(
          {
            id,
            rawKey: rawKeyOf(id),
            envelope: { recipients: values.recipient ?? [], mailFrom: undefined },
            verdicts: NO_RECEIPT_VERDICTS,
            receivedAt: desk.deps.clock.now(),
          },
          desk.deps,
        );
      } catch (error) {
        failed += 1;
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        const message = isTransient(error)
          ? `${errorMessage(error)} (transient: run ingest again later)`
          : errorMessage(error);
        if (values.json) writeJson(io.stdout, { file, error: code, message });
        else writeLine(io.stderr, `${progress}${basename(file)}: FAILED ${message}`);
        continue;
      }
      counts[trace.outcome] = (counts[trace.outcome] ?? 0) + 1;
      if (values.json) writeJson(io.stdout, { file, ...trace });
      else writeLine(io.stdout, `${progress}${basename(file)}: ${summarise(trace)}`);
    }
    const summary = { mails: positionals.length, failed, outcomes: counts };
    if (values.json) writeJson(io.stdout, { summary });
    else if (positionals.length > 1) {
      const parts = Object.entries(counts).map(([outcome, count]) => `${count} ${outcome}`);
      writeLine(
        io.stdout,
        `${positionals.length} mails: ${[...parts, ...(failed ? [`${failed} failed`] : [])].join(', ')}`,
      );
    }
    return failed > 0 ? 1 : 0;
  },
};

/** One line per mail: where it went, or why it did not. */
export const summarise = (trace: DecisionTrace): string => {
  const where = trace.deliveries
    .map((record) => {
      if (record.issue?.iid !== undefined) return `${record.project}#${record.issue.iid}`;
      if (record.note) return `${record.project}#${record.note.issueIid}`;
      return record.project;
    })
    .join(', ');
  return `${trace.outcome}${where ? ` ${where}` : ''} (${trace.reason})${
    trace.outcome === 'issue' || trace.outcome === 'note' ? '' : `: ${trace.message}`
  }`;
};
