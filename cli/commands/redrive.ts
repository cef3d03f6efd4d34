import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { awsErrorShape } from '../../adapters/aws/errors.ts';
import { PermanentError } from '../../core/errors.ts';
import { awsNameOptions, clientConfig, type DeskNames, requireName, resolveDeskNames } from '../aws-names.ts';
import { type Command, type CommandIo, dataDir, loadConfigOrDemo, writeJson, writeLine } from '../io.ts';
import type { ForgeChoice } from '../local-desk.ts';
import type { QueueEntry } from '../local-queue.ts';
import { offlineResolver, openLocalRuntime } from '../local-runtime.ts';
import { createMailWorker, DEFAULT_CONCURRENCY } from '../local-worker.ts';
import { summarise } from './ingest.ts';

const usage = `Usage: postdesk redrive [ID...] [--json]
       postdesk redrive --aws [--queue inbound|outbound] [--wait] [--json]

Puts mail that failed every retry back to work, once the cause is fixed (the forge is back, the
token renewed...). Delivered mail is not delivered twice: the ledger remembers it.

Locally: moves .postdesk/dlq/ entries (all, or the IDs named) back to .postdesk/queue/ and
processes them now, printing [i/n] and the outcome of each. One that fails again goes back to
dlq/ with its new error. A running \`postdesk serve\` is not needed (and does not interfere).

With --aws: starts an SQS message move task from the dead-letter queue back to its source queue
(SQS StartMessageMoveTask), where the function picks the messages up again.

  --config FILE        the desk config (default ./postdesk.config.yaml, or $POSTDESK_CONFIG)
  --data-dir DIR       local state (default ./.postdesk, or $POSTDESK_DATA_DIR)
  --forge KIND         local: auto (default), file or gitlab, as for ingest
  --dns MODE           local: system (default) or offline, for SPF/DKIM/DMARC lookups
  --attempts N         local: runs per mail before it goes back to dlq/ (default 3)
  --concurrency N      local: mails processed at once (default ${DEFAULT_CONCURRENCY})
  --aws                redrive the deployed desk's dead-letter queue
  --queue WHICH        aws: inbound (default) or outbound
  --dlq-url URL, --queue-url URL, --outbound-dlq-url URL, --outbound-queue-url URL
                       aws: the queues ($POSTDESK_INBOUND_DLQ_URL...; a queue name works too)
  --stack-outputs FILE aws: names from \`cdk deploy --all --outputs-file FILE\`
  --rate N             aws: messages moved per second (default: as fast as SQS allows)
  --wait               aws: follow the task until it ends, printing [moved/total]
  --interval SECONDS   aws: how often --wait asks (default 5)
  --region REGION      AWS region
  --json               JSON lines: one per mail (local) or per progress report (aws), then a summary

Exit code: 0 when everything was moved (and, locally, processed); 1 when some mail went back to the
dead-letter queue or the move task failed.`;

const options = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  forge: { type: 'string', default: 'auto' },
  dns: { type: 'string', default: 'system' },
  attempts: { type: 'string', default: '3' },
  concurrency: { type: 'string' },
  aws: { type: 'boolean', default: false },
  queue: { type: 'string', default: 'inbound' },
  rate: { type: 'string' },
  wait: { type: 'boolean', default: false },
  interval: { type: 'string', default: '5' },
  json: { type: 'boolean', default: false },
  ...awsNameOptions(['inboundQueue', 'inboundDlq', 'outboundQueue', 'outboundDlq']),
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const positiveInteger = (value: string | undefined, name: string, fallback: number): number => {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new PermanentError('usage', `${name} must be a whole number, 1 or more, not "${value}"`);
  }
  return number;
};

// --- local ---------------------------------------------------------------------------------------

const redriveLocal = async (values: Values, ids: string[], io: CommandIo): Promise<number> => {
  const forge = values.forge as ForgeChoice;
  if (!['auto', 'file', 'gitlab'].includes(forge)) {
    throw new PermanentError('usage', `--forge must be auto, file or gitlab, not "${values.forge}"`);
  }
  if (values.dns !== 'system' && values.dns !== 'offline') {
    throw new PermanentError('usage', `--dns must be system or offline, not "${values.dns}"`);
  }
  const attempts = positiveInteger(values.attempts, '--attempts', 3);
  const concurrency = positiveInteger(values.concurrency, '--concurrency', DEFAULT_CONCURRENCY);
  const { config } = await loadConfigOrDemo(values.config, io);
  const directory = dataDir(values['data-dir'], io);
  const runtime = await openLocalRuntime({
    config,
    dataDir: directory,
    env: io.env,
    forge,
    resolver: values.dns === 'offline' ? offlineResolver : undefined,
  });
  const { queue } = runtime;

  const dead = await queue.listDead();
  for (const path of dead.unreadable)
    writeLine(io.stderr, `postdesk redrive: ${path} cannot be read; left as it is`);
  let chosen = dead.entries;
  if (ids.length > 0) {
    const byId = new Map(dead.entries.map((entry) => [entry.id, entry]));
    const unknown = ids.filter((id) => !byId.has(id));
    if (unknown.length > 0) {
      throw new PermanentError(
        'dlq_not_found',
        `not in ${queue.dlqDir}: ${unknown.join(', ')} (\`ls ${queue.dlqDir}\` lists what is there)`,
      );
    }
    chosen = ids.flatMap((id) => byId.get(id) ?? []);
  }
  if (chosen.length === 0) {
    if (values.json) writeJson(io.stdout, { summary: { mails: 0, redriven: 0, deadAgain: 0, outcomes: {} } });
    else writeLine(io.stdout, `nothing to redrive: ${queue.dlqDir} is empty`);
    return 0;
  }

  const total = chosen.length;
  if (!values.json)
    writeLine(
      io.stdout,
      `redriving ${total} mail${total === 1 ? '' : 's'} from ${queue.dlqDir}, delivering to ${runtime.desk.forgeDescription}`,
    );
  let count = 0;
  let deadAgain = 0;
  const outcomes: Record<string, number> = {};
  const progress = (): string => `[${count}/${total}]`;
  const worker = createMailWorker({
    queue,
    run: runtime.runQueued,
    concurrency,
    retry: { attempts, baseMs: 1_000 },
    onEvent(event) {
      if (event.kind === 'done') {
        count += 1;
        const { trace } = event.run;
        outcomes[trace.outcome] = (outcomes[trace.outcome] ?? 0) + 1;
        if (values.json)
          writeJson(io.stdout, { progress: { done: count, total }, id: event.entry.id, ...trace });
        else writeLine(io.stdout, `${progress()} ${event.entry.id}: ${summarise(trace)}`);
      } else if (event.kind === 'dead_letter') {
        count += 1;
        deadAgain += 1;
        if (values.json) {
          writeJson(io.stdout, {
            progress: { done: count, total },
            id: event.entry.id,
            deadLetter: true,
            error: event.error,
          });
        } else {
          writeLine(
            io.stdout,
            `${progress()} ${event.entry.id}: FAILED again (${attempts} attempts), back in dlq/: ${event.error.message}`,
          );
        }
      } else if (event.kind === 'retry' && !values.json) {
        writeLine(
          io.stderr,
          `      ${event.entry.id}: attempt ${event.attempt} failed, retrying in ${Math.ceil(event.delayMs / 1000)}s: ${event.error.message}`,
        );
      } else if (event.kind === 'store_error') {
        count += 1;
        writeLine(
          io.stderr,
          `${progress()} ${event.entry.id}: the queue folder failed: ${event.error.message}`,
        );
      }
    },
  });
  for (const entry of chosen) {
    const moved: QueueEntry | undefined = await queue.redrive(entry.id);
    if (moved) worker.push(moved);
  }
  await worker.idle();
  await worker.stop();

  const summary = { mails: total, redriven: total - deadAgain, deadAgain, outcomes };
  if (values.json) writeJson(io.stdout, { summary });
  else {
    const parts = Object.entries(outcomes).map(([outcome, number]) => `${number} ${outcome}`);
    writeLine(
      io.stdout,
      `${total} redriven: ${[...parts, ...(deadAgain > 0 ? [`${deadAgain} back in dlq/`] : [])].join(', ')}`,
    );
  }
  return deadAgain > 0 ? 1 : 0;
};

// --- AWS -----------------------------------------------------------------------------------------

const queueUrl = async (sqs: SQSClient, value: string): Promise<string> => {
  if (/^https?:\/\//.test(value)) return value;
  const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: value }))).QueueUrl;
  if (url === undefined) throw new PermanentError('queue_not_found', `no queue named ${value}`);
  return url;
};

const attributes = async (sqs: SQSClient, url: string): Promise<{ arn: string; waiting: number }> => {
  const output = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages'],
    }),
  );
  const arn = output.Attributes?.QueueArn;
  if (arn === undefined) throw new PermanentError('queue_unreadable', `${url} did not say its ARN`);
  return { arn, waiting: Number(output.Attributes?.ApproximateNumberOfMessages ?? 0) };
};

const describeTask = (
  task: ListMessageMoveTasksResultEntry,
): { moved: number; total: number | undefined } => ({
  moved: task.ApproximateNumberOfMessagesMoved ?? 0,
  total: task.ApproximateNumberOfMessagesToMove,
});

const redriveAws = async (values: Values, io: CommandIo, client?: SQSClient): Promise<number> => {
  if (values.queue !== 'inbound' && values.queue !== 'outbound') {
    throw new PermanentError('usage', `--queue must be inbound or outbound, not "${values.queue}"`);
  }
  const names: DeskNames = await resolveDeskNames(values, io);
  const sqs = client ?? new SQSClient(clientConfig(names));
  const inbound = values.queue === 'inbound';
  const dlqUrl = await queueUrl(sqs, requireName(names, inbound ? 'inboundDlq' : 'outboundDlq'));
  const sourceName = inbound ? names.inboundQueue : names.outboundQueue;
  const rate = values.rate === undefined ? undefined : positiveInteger(values.rate, '--rate', 1);
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 0)
    throw new PermanentError('usage', '--interval must be a number of seconds');

  try {
    const dlq = await attributes(sqs, dlqUrl);
    // Without a destination SQS returns each message to the queue it came from: the same here,
    // but naming it is clearer in the output and catches a wrong --dlq-url.
    const destination =
      sourceName === undefined ? undefined : await attributes(sqs, await queueUrl(sqs, sourceName));
    if (dlq.waiting === 0) {
      if (values.json) writeJson(io.stdout, { event: 'empty', sourceArn: dlq.arn });
      else writeLine(io.stdout, `nothing to redrive: ${dlqUrl} is empty`);
      return 0;
    }
    const started = await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlq.arn,
        ...(destination === undefined ? {} : { DestinationArn: destination.arn }),
        ...(rate === undefined ? {} : { MaxNumberOfMessagesPerSecond: rate }),
      }),
    );
    const target = destination?.arn ?? 'its source queue';
    if (values.json) {
      writeJson(io.stdout, {
        event: 'started',
        taskHandle: started.TaskHandle,
        sourceArn: dlq.arn,
        destinationArn: destination?.arn ?? null,
        approximateMessages: dlq.waiting,
      });
    } else {
      writeLine(
        io.stdout,
        `moving about ${dlq.waiting} message${dlq.waiting === 1 ? '' : 's'} from ${dlq.arn} back to ${target}`,
      );
    }
    if (!values.wait) {
      if (!values.json)
        writeLine(io.stdout, 'the move runs in SQS; follow it with --wait, or `postdesk doctor --aws`');
      return 0;
    }

    let lastMoved = -1;
    for (;;) {
      const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlq.arn, MaxResults: 1 }));
      const task = listed.Results?.[0];
      if (task !== undefined) {
        const { moved, total } = describeTask(task);
        if (moved !== lastMoved) {
          lastMoved = moved;
          if (values.json)
            writeJson(io.stdout, { event: 'progress', status: task.Status, moved, total: total ?? null });
          else writeLine(io.stdout, `[${moved}/${total ?? '?'}] ${task.Status ?? ''}`.trimEnd());
        }
        if (task.Status === 'COMPLETED') {
          if (values.json) writeJson(io.stdout, { event: 'completed', moved });
          else writeLine(io.stdout, `done: ${moved} message${moved === 1 ? '' : 's'} back in ${target}`);
          return 0;
        }
        if (task.Status === 'FAILED' || task.Status === 'CANCELLED') {
          const reason =
            task.FailureReason ?? (task.Status === 'CANCELLED' ? 'cancelled' : 'no reason given');
          if (values.json) writeJson(io.stdout, { event: task.Status.toLowerCase(), moved, reason });
          else
            writeLine(
              io.stderr,
              `the move task ${task.Status.toLowerCase()} after ${moved} messages: ${reason}`,
            );
          return 1;
        }
      }
      await sleep(interval * 1000);
    }
  } catch (error) {
    if (error instanceof PermanentError) throw error;
    const shape = awsErrorShape(error);
    throw new PermanentError(
      'redrive_failed',
      `SQS refused: ${shape.name}: ${shape.message} (a move task may already be running for this queue; --wait follows it)`,
      { cause: error },
    );
  }
};

export const redriveCommand: Command = {
  name: 'redrive',
  summary: 'put dead-lettered mail back to work (local dlq/, or --aws the SQS DLQ)',
  usage,
  async run(argv: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
    if (values.aws) {
      if (positionals.length > 0) {
        writeLine(io.stderr, 'postdesk redrive: --aws moves the whole dead-letter queue; it takes no ids');
        return 2;
      }
      return redriveAws(values, io);
    }
    return redriveLocal(values, positionals, io);
  },
};
