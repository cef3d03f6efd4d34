import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createFileObjectStore } from '../../adapters/local/object-store.ts';
import { explainMail } from '../../cli/commands/explain.ts';
import { localPaths } from '../../cli/local-state.ts';
import { parseConfig } from '../../core/config/parse.ts';
import type { Clock } from '../../core/ports.ts';
import { createTicketStore } from '../../core/state/tickets.ts';

/**
 * The `postdesk explain` trace of every fixture mail, for the snapshot in
 * test/fixtures/explain-traces/: the explain path as the CLI runs it, with a fixed clock, one config
 * and a data directory holding one ticket that the reply fixtures thread onto. Each mail is
 * explained twice, as addressed (recipients from the headers) and with the envelope recipient
 * `support+game@`, so that mail addressed elsewhere also reaches policy, thread and render.
 * Timings (`ms`) are stripped: they are the only part of a trace that changes between runs.
 */

export const FIXTURES = resolve(import.meta.dirname, '../fixtures');
export const SNAPSHOT = join(FIXTURES, 'explain-traces/traces.json');

/** The config of test/cli/explain.test.ts. */
export const EXPLAIN_CONFIG_TEXT = `domain: desk.example.com
mailbox: support
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: game
`;

export const ENVELOPE_RECIPIENT = 'support+game@desk.example.com';

const clock: Clock = { now: () => new Date('2026-01-15T10:00:00.000Z') };

/** Every .eml under test/fixtures, as paths relative to it, sorted. */
export const fixtureMails = async (): Promise<string[]> => {
  const entries = await readdir(FIXTURES, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.eml'))
    .map((entry) => relative(FIXTURES, join(entry.parentPath, entry.name)))
    .sort();
};

/** A data directory with acme/game#42: Jane Doe's ticket, answered by the desk's notification. */
const seedDataDir = async (): Promise<string> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'postdesk-explain-traces-'));
  const tickets = createTicketStore(createFileObjectStore(localPaths(dataDir).state), { clock });
  await tickets.recordInbound({
    projectPath: 'acme/game',
    iid: 42,
    mailId: 'seed-mail',
    messageId: '<save-files-1@example.org>',
    sender: { name: 'Jane Doe', address: 'jane.doe@example.org' },
    cc: [],
    participantsFromCc: false,
    isDeskAddress: (address) => address.endsWith('@desk.example.com'),
  });
  await tickets.recordOutbound('acme/game', 42, '<0100018ffc11a2b3-notification@eu-west-1.amazonses.com>');
  return dataDir;
};

const withoutTimings = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (key, field: unknown) => (key === 'ms' ? undefined : field)));

/** The traces by fixture: `<path>` as addressed, `<path> --recipient <address>` with the envelope. */
export const explainTraces = async (): Promise<Record<string, unknown>> => {
  const config = parseConfig(EXPLAIN_CONFIG_TEXT);
  const dataDir = await seedDataDir();
  try {
    const traces: Record<string, unknown> = {};
    for (const mail of await fixtureMails()) {
      for (const recipients of [[], [ENVELOPE_RECIPIENT]]) {
        const trace = await explainMail(join(FIXTURES, mail), { config, recipients, dataDir, clock });
        const label = recipients.length === 0 ? mail : `${mail} --recipient ${recipients.join(' ')}`;
        traces[label] = withoutTimings(trace);
      }
    }
    return traces;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
};
