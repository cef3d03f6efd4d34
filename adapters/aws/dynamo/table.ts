import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type * as z from 'zod';
import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports.ts';
import { awsErrorShape, toPostdeskError } from '../errors.ts';
import { ATTR } from './constants.ts';

/**
 * One DynamoDB table behind the desk's state ports: reads that treat TTL-expired items as absent,
 * conditional writes whose failed condition is a result (`'conflict'`), and the error mapping
 * (throttling and 5xx transient; a missing table or a denied action permanent, naming the table).
 */

export type Key = { pk: string; sk: string };
export type Item = Record<string, unknown>;

/** DynamoDB names for throttling and lost transactions, transient whatever their status. */
const TRANSIENT_DYNAMO = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionConflict',
  'InternalServerError',
  'LimitExceededException',
]);

export interface DynamoTable {
  readonly tableName: string;
  readonly clock: Clock;
  /** The item, or undefined when absent or past its `expires_at`. Strongly consistent. */
  get(key: Key): Promise<Item | undefined>;
  put(input: Omit<PutCommandInput, 'TableName'>): Promise<'ok' | 'conflict'>;
  update(input: Omit<UpdateCommandInput, 'TableName'>): Promise<Item | 'conflict'>;
  query(input: Omit<QueryCommandInput, 'TableName'>): AsyncIterable<Item>;
}

export const nowSeconds = (clock: Clock): number => Math.floor(clock.now().getTime() / 1000);

const isLive = (item: Item, now: number): boolean => {
  const expires = item[ATTR.expiresAt];
  return typeof expires !== 'number' || expires > now;
};

export const createDynamoTable = (client: DynamoDBClient, tableName: string, clock: Clock): DynamoTable => {
  const documents = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });

  const fail = (error: unknown, what: string): never => {
    const shape = awsErrorShape(error);
    if (TRANSIENT_DYNAMO.has(shape.name)) {
      throw new TransientError(
        'state_throttled',
        `${what} on table ${tableName} failed (${shape.name}); will retry`,
        {
          cause: error,
        },
      );
    }
    const fix =
      shape.name === 'ResourceNotFoundException'
        ? `create table ${tableName} (pk/sk strings, TTL on ${ATTR.expiresAt}) or fix the table name the function is given`
        : shape.name === 'ValidationException' && /item size/i.test(shape.message)
          ? `the item is over DynamoDB's 400 KB item limit; inspect what is being stored in table ${tableName}`
          : shape.name === 'AccessDeniedException'
            ? `grant the function dynamodb:GetItem, PutItem, UpdateItem and Query on table ${tableName} (and its KMS key)`
            : `check table ${tableName} and the function's access to it`;
    throw toPostdeskError(error, `${what} on table ${tableName}`, fix, {
      transient: 'state_unavailable',
      permanent: 'state_table_unusable',
    });
  };

  const isConditionFailed = (error: unknown): boolean =>
    error instanceof ConditionalCheckFailedException ||
    awsErrorShape(error).name === 'ConditionalCheckFailedException';

  return {
    tableName,
    clock,

    async get(key) {
      const input: GetCommandInput = { TableName: tableName, Key: key, ConsistentRead: true };
      try {
        const { Item: item } = await documents.send(new GetCommand(input));
        return item && isLive(item, nowSeconds(clock)) ? item : undefined;
      } catch (error) {
        return fail(error, 'GetItem');
      }
    },

    async put(input) {
      try {
        await documents.send(new PutCommand({ ...input, TableName: tableName }));
        return 'ok';
      } catch (error) {
        if (isConditionFailed(error)) return 'conflict';
        return fail(error, 'PutItem');
      }
    },

    async update(input) {
      try {
        const out = await documents.send(
          new UpdateCommand({ ReturnValues: 'ALL_NEW', ...input, TableName: tableName }),
        );
        return out.Attributes ?? {};
      } catch (error) {
        if (isConditionFailed(error)) return 'conflict';
        return fail(error, 'UpdateItem');
      }
    },

    async *query(input) {
      let start: Record<string, unknown> | undefined;
      do {
        let page: { Items?: Item[] | undefined; LastEvaluatedKey?: Record<string, unknown> | undefined };
        try {
          page = await documents.send(
            new QueryCommand({
              ...input,
              TableName: tableName,
              ConsistentRead: true,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          );
        } catch (error) {
          return fail(error, 'Query');
        }
        const now = nowSeconds(clock);
        for (const item of page.Items ?? []) if (isLive(item, now)) yield item;
        start = page.LastEvaluatedKey;
      } while (start);
    },
  };
};

/** A JSON document and the version it was read at. */
export interface VersionedDoc<T> {
  value: T;
  version: number;
}

/** Reads and checks one document item; a document that fails its schema is a PermanentError. */
export const readDoc = async <S extends z.ZodType>(
  table: DynamoTable,
  key: Key,
  schema: S,
): Promise<VersionedDoc<z.output<S>> | undefined> => {
  const item = await table.get(key);
  if (!item) return undefined;
  return { value: parseDoc(table, key, item, schema), version: Number(item[ATTR.version] ?? 0) };
};

export const parseDoc = <S extends z.ZodType>(
  table: DynamoTable,
  key: Key,
  item: Item,
  schema: S,
): z.output<S> => {
  const where = `${key.pk} ${key.sk} in table ${table.tableName}`;
  let raw: unknown;
  try {
    raw = JSON.parse(String(item[ATTR.doc]));
  } catch (error) {
    throw new PermanentError('state_corrupt', `${where} is not JSON; inspect or delete it`, { cause: error });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PermanentError(
      'state_corrupt',
      `${where} does not have the expected shape (${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid'}); inspect or delete it`,
    );
  }
  return parsed.data;
};

/**
 * Writes a document if it is still at `version` (undefined: absent or expired). The first write
 * may replace an item whose TTL has passed but which DynamoDB has not deleted yet.
 */
export const writeDoc = async (
  table: DynamoTable,
  key: Key,
  value: unknown,
  version: number | undefined,
  extra: Item = {},
): Promise<number | 'conflict'> => {
  const next = (version ?? 0) + 1;
  const item = { ...key, ...extra, [ATTR.doc]: JSON.stringify(value), [ATTR.version]: next };
  const written =
    version === undefined
      ? await table.put({
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: { '#pk': ATTR.pk, '#exp': ATTR.expiresAt },
          ExpressionAttributeValues: { ':now': nowSeconds(table.clock) },
        })
      : await table.put({
          Item: item,
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: { '#v': ATTR.version },
          ExpressionAttributeValues: { ':v': version },
        });
  return written === 'conflict' ? 'conflict' : next;
};

/**
 * Read-modify-write on a version condition, with the object-store contract (core/state/json.ts
 * `updateJson`): `change` may run several times and must be pure; undefined leaves it as it is.
 */
export const updateDoc = async <S extends z.ZodType>(
  table: DynamoTable,
  key: Key,
  schema: S,
  change: (current: z.output<S> | undefined) => z.output<S> | undefined,
  options: { attempts?: number; conflictCode: string },
): Promise<VersionedDoc<z.output<S>> | undefined> => {
  const attempts = options.attempts ?? 8;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const current = await readDoc(table, key, schema);
    const next = change(current?.value);
    if (next === undefined) return current;
    const written = await writeDoc(table, key, next, current?.version);
    if (written !== 'conflict') return { value: next, version: written };
    if (attempt < attempts) await sleep(Math.random() * 5 * attempt);
  }
  throw new TransientError(
    options.conflictCode,
    `${key.pk} ${key.sk} in table ${table.tableName} kept changing under us (${attempts} conditional writes lost); retry later`,
  );
};
