import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DecisionTrace } from '../core/trace.ts';
import { checkedQueueId, writeFileDurably } from './local-queue.ts';

/**
 * The decision trace of every mail the local desk ran, one file per mail in `<data dir>/traces/`
 * (the latest run of a mail replaces the earlier one): what the console shows beside a ticket, and
 * what a person opens to see why a mail went where it went. In AWS the same record is the inbound
 * function's log line.
 */

export const tracesDir = (dataDir: string): string => join(dataDir, 'traces');

export const saveTrace = async (dataDir: string, trace: DecisionTrace): Promise<void> => {
  const dir = tracesDir(dataDir);
  await mkdir(dir, { recursive: true });
  await writeFileDurably(join(dir, `${checkedQueueId(trace.mailId)}.json`), `${JSON.stringify(trace)}\n`);
};

const isTrace = (value: unknown): value is DecisionTrace =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as DecisionTrace).mailId === 'string' &&
  Array.isArray((value as DecisionTrace).stages) &&
  Array.isArray((value as DecisionTrace).deliveries);

/** Every stored trace, oldest first; a file that is not a trace is skipped (it is not mail). */
export const listTraces = async (dataDir: string): Promise<DecisionTrace[]> => {
  const dir = tracesDir(dataDir);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const traces: DecisionTrace[] = [];
  for (const name of names) {
    try {
      const value: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
      if (isTrace(value)) traces.push(value);
    } catch {
      // Half-written files cannot exist (written by rename); anything else is not ours.
    }
  }
  return traces.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
};

/** Whether a trace delivered to (or decided about) one ticket. */
export const traceTouches = (trace: DecisionTrace, project: string, iid: number): boolean =>
  trace.deliveries.some(
    (delivery) =>
      delivery.project.toLowerCase() === project.toLowerCase() &&
      (delivery.issue?.iid === iid || delivery.note?.issueIid === iid),
  );
