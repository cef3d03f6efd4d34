import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports.ts';
import {
  type Quarantine,
  type QuarantineEntry,
  QuarantineEntrySchema,
  quarantineIdFor,
} from '../../../core/state/quarantine.ts';
import { ATTR, ITEM_KIND } from './constants.ts';
import { type DynamoTable, type Key, parseDoc, readDoc, updateDoc } from './table.ts';

/**
 * Quarantine entries (core/state/quarantine.ts) on DynamoDB: one partition `quarantine`, sk the
 * entry id, so `list` is one Query in id order. An item holds at most 400 KB (DynamoDB's item size
 * limit): a larger decision trace fails the put with a PermanentError naming the table.
 */

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;
const PREFIX = 'quarantine/';

export const createDynamoQuarantine = (table: DynamoTable, options: { clock: Clock }): Quarantine => {
  const { clock } = options;

  const key = (id: string): string => {
    if (!SAFE_ID.test(id)) {
      throw new PermanentError(
        'quarantine_id_invalid',
        `quarantine id ${JSON.stringify(id)} is not valid (letters, digits, ".", "_" and "-" only)`,
      );
    }
    return `${PREFIX}${id}.json`;
  };
  const itemKey = (id: string): Key => {
    key(id);
    return { pk: ITEM_KIND.quarantine, sk: id };
  };

  const get = async (id: string): Promise<QuarantineEntry | undefined> =>
    (await readDoc(table, itemKey(id), QuarantineEntrySchema))?.value;

  return {
    key,
    get,

    async put(input) {
      const id = input.id ?? quarantineIdFor(input.mailId);
      const entry: QuarantineEntry = {
        version: 1,
        id,
        mailId: input.mailId,
        rawKey: input.rawKey,
        reason: input.reason,
        message: input.message,
        trace: input.trace,
        createdAt: input.createdAt ?? clock.now().toISOString(),
      };
      // Replacing bumps the version, so a concurrent markReleased cannot overwrite the new entry.
      const written = await table.update({
        Key: itemKey(id),
        UpdateExpression: 'SET #doc = :doc REMOVE #exp ADD #v :one',
        ExpressionAttributeNames: { '#doc': ATTR.doc, '#exp': ATTR.expiresAt, '#v': ATTR.version },
        ExpressionAttributeValues: { ':doc': JSON.stringify(entry), ':one': 1 },
      });
      if (written === 'conflict')
        throw new TransientError('quarantine_conflict', `${key(id)} could not be written`);
      return entry;
    },

    async *list(listOptions = {}) {
      // One partition in id order, as the object store lists `quarantine/<id>.json` in key order.
      for await (const item of table.query({
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': ATTR.pk },
        ExpressionAttributeValues: { ':pk': ITEM_KIND.quarantine },
      })) {
        const entry = parseDoc(
          table,
          { pk: ITEM_KIND.quarantine, sk: String(item[ATTR.sk]) },
          item,
          QuarantineEntrySchema,
        );
        if (entry.releasedAt !== undefined && listOptions.includeReleased !== true) continue;
        yield entry;
      }
    },

    async markReleased(id) {
      const updated = await updateDoc(
        table,
        itemKey(id),
        QuarantineEntrySchema,
        (current) =>
          current === undefined || current.releasedAt !== undefined
            ? undefined
            : { ...current, releasedAt: clock.now().toISOString() },
        { conflictCode: 'quarantine_conflict' },
      );
      if (!updated) throw new PermanentError('quarantine_not_found', `no quarantined mail with id ${id}`);
      return updated.value;
    },
  };
};
