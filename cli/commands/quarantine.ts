import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFileObjectStore } from '../../adapters/local/object-store.ts';
import { PermanentError } from '../../core/errors.ts';
import { NO_RECEIPT_VERDICTS } from '../../core/model.ts';
import type { PipelineDeps } from '../../core/pipeline.ts';
import { type ObjectStore, systemClock } from '../../core/ports.ts';
import { objectStoreState } from '../../core/state/index.ts';
import type { Quarantine, QuarantineEntry } from '../../core/state/quarantine.ts';
import { openAwsPipeline, openAwsState } from '../aws-desk.ts';
import { awsNameOptions, type DeskNames, resolveDeskNames } from '../aws-names.ts';
import { formatTrace } from '../format-trace.ts';
import { type Command, type CommandIo, dataDir, loadConfigOrDemo, writeJson, writeLine } from '../io.ts';
import type { ForgeChoice } from '../local-desk.ts';
import { offlineResolver, openLocalRuntime } from '../local-runtime.ts';
import { localPaths } from '../local-state.ts';
import {
  envelopeFromTrace,
  localRebuild,
  type RebuildMail,
  type ReleaseResult,
  runRelease,
  verdictsFromTrace,
} from '../quarantine-release.ts';

const usage = `Usage: postdesk quarantine list [--all] | show ID | release ID   [--aws ...] [--json]

Mail kept but not delivered, with the decision trace that says why (a policy, a reply from a
stranger, a forged reply address, a forge that refused it...).

  list          id, date, reason, sender and subject of each quarantined mail (--all: released too)
  show ID       the decision trace, stage by stage, and where the raw mail is
  release ID    runs the mail through the pipeline again, once: fix the cause first (the config,
                the forge, the bot's role), then release. Two releases at once run it once; the
                delivery ledger keeps a mail that was delivered from being delivered again. If the
                pipeline quarantines it again, the command says so and exits 1.
                ID may be any unique prefix of an id.

  --config FILE        the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --data-dir DIR       local state (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --forge KIND         local release: auto (default), file or gitlab, as for ingest
  --dns MODE           local release: system (default) or offline, for the verdicts computed again
  --aws                the deployed desk: quarantine/ in the desk bucket, raw mail under mail/
  --bucket NAME        the desk bucket ($POSTDESK_BUCKET)
  --kms-key-id ARN     the desk key, to write the release mark ($POSTDESK_KMS_KEY_ID)
  --secret-id ID       the desk secret, for the forge token ($POSTDESK_SECRET_ID)
  --state-prefix P     the state key prefix, if the desk uses one ($POSTDESK_STATE_PREFIX)
  --outbound-queue-url URL  where thank-you mail is queued ($POSTDESK_OUTBOUND_QUEUE_URL)
  --stack-outputs FILE names from \`cdk deploy --all --outputs-file FILE\`
  --region REGION      AWS region
  --json               list: an array; show: the entry; release: the result with the new trace

Locally the verdicts (SPF, DKIM, DMARC) are computed again on release, from the raw mail and the
SMTP envelope kept with it; in AWS the verdicts SES gave are reused from the trace.`;

const options = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  forge: { type: 'string', default: 'auto' },
  dns: { type: 'string', default: 'system' },
  aws: { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  ...awsNameOptions(['bucket', 'kmsKeyId', 'secretId', 'statePrefix', 'outboundQueue']),
} as const;

interface Where {
  store: ObjectStore;
  quarantine: Quarantine;
  /** The raw mail's location, for people. */
  rawLocation(rawKey: string): string;
  names: DeskNames | undefined;
}

const openWhere = async (values: Record<string, unknown>, io: CommandIo): Promise<Where> => {
  if (values['aws'] === true) {
    const names = await resolveDeskNames(values, io);
    const state = openAwsState(names);
    return {
      store: state.store,
      quarantine: objectStoreState(state.store, { clock: systemClock }).quarantine,
      rawLocation: state.where,
      names,
    };
  }
  const paths = localPaths(
    dataDir(typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined, io),
  );
  const store = createFileObjectStore(paths.state);
  return {
    store,
    quarantine: objectStoreState(store, { clock: systemClock }).quarantine,
    rawLocation: (rawKey) => (rawKey === '' ? '(none)' : join(paths.mail, rawKey)),
    names: undefined,
  };
};

/** An id, or a unique prefix of one (as git takes a short hash). */
const resolveId = async (quarantine: Quarantine, given: string): Promise<string> => {
  let exact: QuarantineEntry | undefined;
  try {
    exact = await quarantine.get(given);
  } catch (error) {
    if (!(error instanceof PermanentError) || error.code !== 'quarantine_id_invalid') throw error;
  }
  if (exact) return exact.id;
  const matches: string[] = [];
  for await (const entry of quarantine.list({ includeReleased: true })) {
    if (entry.id.startsWith(given)) matches.push(entry.id);
  }
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) {
    throw new PermanentError(
      'quarantine_id_ambiguous',
      `"${given}" matches ${matches.length} entries (${matches.slice(0, 5).join(', ')}...): give more of the id`,
    );
  }
  throw new PermanentError(
    'quarantine_not_found',
    `no quarantined mail with id ${given}: \`postdesk quarantine list --all\` shows them all`,
  );
};

const day = (iso: string): string => iso.replace('T', ' ').slice(0, 16);

const clip = (text: string, width: number): string =>
  text.length > width ? `${text.slice(0, width - 1)}…` : text;

const listEntries = async (where: Where, io: CommandIo, all: boolean, json: boolean): Promise<number> => {
  const entries: QuarantineEntry[] = [];
  for await (const entry of where.quarantine.list({ includeReleased: all })) entries.push(entry);
  if (json) {
    writeJson(
      io.stdout,
      entries.map((entry) => ({
        id: entry.id,
        mailId: entry.mailId,
        date: entry.createdAt,
        reason: entry.reason,
        message: entry.message,
        from: entry.trace.mail.from ?? null,
        subject: entry.trace.mail.subject ?? null,
        releasedAt: entry.releasedAt ?? null,
        raw: where.rawLocation(entry.rawKey),
      })),
    );
    return 0;
  }
  if (entries.length === 0) {
    writeLine(
      io.stdout,
      all ? 'nothing was ever quarantined' : 'no mail in quarantine (--all shows released ones)',
    );
    return 0;
  }
  const idWidth = Math.max(2, ...entries.map((entry) => entry.id.length));
  const reasonWidth = Math.max(6, ...entries.map((entry) => entry.reason.length));
  writeLine(
    io.stdout,
    `${'ID'.padEnd(idWidth)}  ${'DATE (UTC)'.padEnd(16)}  ${'REASON'.padEnd(reasonWidth)}  ${'FROM'.padEnd(28)}  SUBJECT`,
  );
  for (const entry of entries) {
    const released = entry.releasedAt === undefined ? '' : `  [released ${day(entry.releasedAt)}]`;
    writeLine(
      io.stdout,
      `${entry.id.padEnd(idWidth)}  ${day(entry.createdAt).padEnd(16)}  ${entry.reason.padEnd(reasonWidth)}  ${clip(entry.trace.mail.from ?? '(unknown)', 28).padEnd(28)}  ${JSON.stringify(entry.trace.mail.subject ?? '')}${released}`,
    );
  }
  writeLine(
    io.stdout,
    `${entries.length} mail${entries.length === 1 ? '' : 's'}; \`postdesk quarantine show ID\` says why`,
  );
  return 0;
};

const showEntry = async (where: Where, io: CommandIo, id: string, json: boolean): Promise<number> => {
  const entry = await where.quarantine.get(await resolveId(where.quarantine, id));
  if (!entry) throw new PermanentError('quarantine_not_found', `no quarantined mail with id ${id}`);
  if (json) {
    writeJson(io.stdout, { ...entry, raw: where.rawLocation(entry.rawKey) });
    return 0;
  }
  writeLine(io.stdout, formatTrace(entry.id, entry.trace));
  const auth = entry.trace.stages.find((stage) => stage.stage === 'authenticate')?.detail;
  const verdicts = auth?.['verdicts'];
  if (typeof verdicts === 'object' && verdicts !== null) {
    const list = Object.entries(verdicts as Record<string, unknown>).map(
      ([name, value]) => `${name} ${String(value)}`,
    );
    writeLine(io.stdout, `  verdicts (${String(auth?.['source'] ?? 'unknown')}): ${list.join(', ')}`);
  }
  if (typeof auth?.['dns'] === 'string') writeLine(io.stdout, `  DNS: ${auth['dns']}`);
  writeLine(io.stdout, `  quarantined ${entry.createdAt} (${entry.reason}): ${entry.message}`);
  writeLine(io.stdout, `  raw mail: ${where.rawLocation(entry.rawKey)}`);
  writeLine(
    io.stdout,
    entry.releasedAt === undefined
      ? `  release it, once the cause is fixed: postdesk quarantine release ${entry.id}`
      : `  released ${entry.releasedAt}`,
  );
  return 0;
};

const releaseEntry = async (
  where: Where,
  values: Record<string, unknown>,
  io: CommandIo,
  given: string,
): Promise<ReleaseResult> => {
  const id = await resolveId(where.quarantine, given);
  const current = await where.quarantine.get(id);
  if (current?.rawKey === '') {
    throw new PermanentError(
      'quarantine_not_a_mail',
      `${id} is not a mail (${current.reason}: ${current.message}); there is nothing to run again`,
    );
  }
  const { config } = await loadConfigOrDemo(
    typeof values['config'] === 'string' ? values['config'] : undefined,
    io,
  );

  // Everything that can fail for a reason a person must fix is built before the entry is claimed.
  let desk: { deps: PipelineDeps; store: ObjectStore };
  let rebuild: RebuildMail;
  if (where.names) {
    desk = openAwsPipeline(where.names, config);
    rebuild = async (entry) => ({
      mail: {
        id: entry.mailId,
        rawKey: entry.rawKey,
        envelope: envelopeFromTrace(entry.trace),
        verdicts: verdictsFromTrace(entry.trace) ?? NO_RECEIPT_VERDICTS,
        receivedAt: new Date(entry.trace.receivedAt),
      },
      note: (trace) => trace,
    });
  } else {
    const forge = (typeof values['forge'] === 'string' ? values['forge'] : 'auto') as ForgeChoice;
    if (!['auto', 'file', 'gitlab'].includes(forge)) {
      throw new PermanentError('usage', `--forge must be auto, file or gitlab, not "${forge}"`);
    }
    const directory = dataDir(typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined, io);
    const runtime = await openLocalRuntime({ config, dataDir: directory, env: io.env, forge });
    desk = { deps: runtime.deps, store: runtime.desk.store };
    rebuild = localRebuild(runtime, values['dns'] === 'offline' ? offlineResolver : undefined);
  }

  return runRelease(desk, id, rebuild);
};

export const quarantineCommand: Command = {
  name: 'quarantine',
  summary: 'list, show and release quarantined mail',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
    const [action, id, ...extra] = positionals;
    const usageError = (message: string): number => {
      writeLine(io.stderr, `postdesk quarantine: ${message}\n\n${usage}`);
      return 2;
    };
    if (values.dns !== 'system' && values.dns !== 'offline')
      return usageError(`--dns must be system or offline, not "${values.dns}"`);
    if (action === 'list') {
      if (id !== undefined) return usageError('list takes no id');
      return listEntries(await openWhere(values, io), io, values.all, values.json);
    }
    if (action !== 'show' && action !== 'release') {
      return usageError(
        action === undefined ? 'say list, show ID or release ID' : `unknown action "${action}"`,
      );
    }
    if (id === undefined || extra.length > 0) return usageError(`${action} takes one id`);
    const where = await openWhere(values, io);
    if (action === 'show') return showEntry(where, io, id, values.json);

    const result = await releaseEntry(where, values, io, id);
    if (values.json) writeJson(io.stdout, result);
    else {
      const prefix = `${result.id}: `;
      if (result.result === 'delivered' || result.result === 'dropped' || result.result === 'rejected') {
        writeLine(io.stdout, `${prefix}released: ${result.message}`);
      } else if (result.result === 'already_released') writeLine(io.stdout, `${prefix}${result.message}`);
      else writeLine(io.stderr, `${prefix}${result.message}`);
    }
    return result.result === 'quarantined_again' || result.result === 'failed_for_now' ? 1 : 0;
  },
};
