import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { PermanentError, TransientError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports.ts';
import { sha256Hex } from '../../../core/state/json.ts';
import type { RateLimiter, RateLimitVerdict } from '../../../core/state/rate-limit.ts';
import { ATTR, ITEM_KIND, SINGLE_SK } from './constants.ts';
import { type DynamoTable, type Item, nowSeconds, readDoc } from './table.ts';

/**
 * The rate limiter (core/state/rate-limit.ts) on DynamoDB: the same fixed sub-window buckets and
 * the same count (every bucket the window touches, the cut one in full, so never an under-count),
 * but all the counters of one (scope, key) live in ONE item, pk `ratelimit#<scope>#<hashed key>`,
 * one attribute per window and bucket (`w<seconds>_<bucket>`). A hit is one UpdateItem that ADDs 1
 * to the current bucket of every window, sets the TTL, and is conditioned, per window, on the
 * current bucket staying below what the older buckets leave of the maximum and on the older
 * buckets being as read. The check and the increment are then one atomic step: unlike the object
 * store, concurrent hits at the limit can never push a window over it. A denied hit is not counted.
 *
 * A `hitOnce` verdict is one more item, pk `ratelimit#once#<scope>#<hash of once and key>`, put
 * with `attribute_not_exists` after the hit: of two concurrent retries of one mail the first
 * answer stands. It lives as long as SQS may still redeliver the mail.
 */

const SCOPE = /^[a-z0-9_-]{1,64}$/;

/** How long a `hitOnce` verdict is remembered: SQS's longest message retention, 14 days. */
const ONCE_TTL_SECONDS = 14 * 24 * 3600;

const VerdictSchema = z.object({ allowed: z.boolean(), exceeded: z.string().optional() });

/** Conditional-update rounds before a TransientError; only a change to an old bucket loses one. */
const ATTEMPTS = 12;

interface Window {
  seconds: number;
  max: number;
  width: number;
}

const parseWindows = (windows: Readonly<Record<string, number>>, subBuckets: number): Window[] =>
  Object.entries(windows)
    .map(([text, max]) => {
      const seconds = Number(text);
      if (!Number.isInteger(seconds) || seconds <= 0 || !Number.isInteger(max) || max < 0) {
        throw new PermanentError(
          'rate_limit_window_invalid',
          `rate-limit window ${JSON.stringify(text)}: ${max} is not "<seconds>: <count>" with positive whole seconds and a whole count`,
        );
      }
      return { seconds, max, width: Math.max(1, Math.ceil(seconds / subBuckets)) };
    })
    .sort((a, b) => a.seconds - b.seconds);

const checkScope = (scope: string): void => {
  if (!SCOPE.test(scope)) {
    throw new PermanentError(
      'rate_limit_scope_invalid',
      `rate-limit scope ${JSON.stringify(scope)} must match [a-z0-9_-]+`,
    );
  }
};

const attribute = (window: Window, bucket: number): string => `w${window.seconds}_${bucket}`;

/** The buckets a window starting `seconds` before `nowMs` touches, the current one last. */
const bucketsOf = (window: Window, nowMs: number): number[] => {
  const widthMs = window.width * 1000;
  const startMs = nowMs - window.seconds * 1000;
  const buckets: number[] = [];
  for (let bucket = Math.floor(startMs / widthMs); bucket <= Math.floor(nowMs / widthMs); bucket++) {
    if ((bucket + 1) * widthMs > startMs) buckets.push(bucket);
  }
  return buckets;
};

const countIn = (item: Item | undefined, name: string): number => {
  const value = item?.[name];
  return typeof value === 'number' ? value : 0;
};

export const createDynamoRateLimiter = (
  table: DynamoTable,
  options: { clock: Clock; subBuckets?: number },
): RateLimiter => {
  const { clock } = options;
  const subBuckets = options.subBuckets ?? 10;

  const limiter = {
    async peek(
      scope: string,
      key: string,
      windows: Readonly<Record<string, number>>,
    ): Promise<RateLimitVerdict> {
      checkScope(scope);
      const parsed = parseWindows(windows, subBuckets);
      const nowMs = clock.now().getTime();
      const stored = await table.get({
        pk: `${ITEM_KIND.rateLimit}${scope}#${sha256Hex(key, 32)}`,
        sk: SINGLE_SK,
      });
      // An item past its TTL but not yet deleted counts nothing, as a hit would treat it.
      const item = countIn(stored, ATTR.expiresAt) > nowSeconds(clock) ? stored : undefined;
      for (const window of parsed) {
        const count = bucketsOf(window, nowMs).reduce(
          (sum, bucket) => sum + countIn(item, attribute(window, bucket)),
          0,
        );
        if (count + 1 > window.max) return { allowed: false, exceeded: `${window.max}/${window.seconds}s` };
      }
      return { allowed: true };
    },

    async hit(
      scope: string,
      key: string,
      windows: Readonly<Record<string, number>>,
    ): Promise<RateLimitVerdict> {
      checkScope(scope);
      const parsed = parseWindows(windows, subBuckets);
      const itemKey = { pk: `${ITEM_KIND.rateLimit}${scope}#${sha256Hex(key, 32)}`, sk: SINGLE_SK };
      const nowMs = clock.now().getTime();
      if (parsed.length === 0) return { allowed: true };
      const longest = parsed.reduce((most, window) => Math.max(most, window.seconds + window.width), 0);
      const expiresAt = (): number => nowSeconds(clock) + longest + 1;

      /**
       * First hit, or the item is past its TTL but not yet deleted: its counters must not count,
       * so they are SET, not added to, and only while the item is still absent or expired.
       */
      const create = (itemKey: { pk: string; sk: string }, currents: readonly string[]) => {
        const names: Record<string, string> = { '#pk': ATTR.pk, '#exp': ATTR.expiresAt };
        const sets = currents.map((name, index) => {
          names[`#c${index}`] = name;
          return `#c${index} = :one`;
        });
        return table.update({
          Key: itemKey,
          UpdateExpression: `SET #exp = :exp, ${sets.join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':one': 1, ':exp': expiresAt(), ':now': nowSeconds(clock) },
          ReturnValues: 'NONE',
        });
      };

      const add = (
        itemKey: { pk: string; sk: string },
        item: Item,
        live: ReadonlySet<string>,
        names: Record<string, string>,
        values: Record<string, unknown>,
        conditions: readonly string[],
        adds: readonly string[],
      ) => {
        // Buckets no window reads any more are dropped, a few per hit, so the item stays small.
        const removals = Object.keys(item)
          .filter((name) => /^w\d+_-?\d+$/.test(name) && !live.has(name))
          .slice(0, 20)
          .map((name, index) => {
            names[`#r${index}`] = name;
            return `#r${index}`;
          });
        names['#exp'] = ATTR.expiresAt;
        return table.update({
          Key: itemKey,
          UpdateExpression: [
            'SET #exp = :exp',
            `ADD ${adds.join(', ')}`,
            removals.length > 0 ? `REMOVE ${removals.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(' '),
          ConditionExpression: ['#exp > :now', ...conditions].join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':one': 1, ':exp': expiresAt(), ':now': nowSeconds(clock) },
          ReturnValues: 'NONE',
        });
      };

      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        const item = await table.get(itemKey);
        const names: Record<string, string> = {};
        const values: Record<string, unknown> = {};
        const currents: string[] = [];
        const conditions: string[] = [];
        const adds: string[] = [];
        const live = new Set<string>();
        for (const [w, window] of parsed.entries()) {
          const buckets = bucketsOf(window, nowMs);
          const current = buckets[buckets.length - 1] ?? 0;
          let older = 0;
          for (const [b, bucket] of buckets.entries()) {
            const name = attribute(window, bucket);
            live.add(name);
            if (bucket === current) continue;
            const count = countIn(item, name);
            older += count;
            names[`#o${w}_${b}`] = name;
            if (count === 0) {
              conditions.push(`(attribute_not_exists(#o${w}_${b}) OR #o${w}_${b} = :zero)`);
              values[':zero'] = 0;
            } else {
              conditions.push(`#o${w}_${b} = :o${w}_${b}`);
              values[`:o${w}_${b}`] = count;
            }
          }
          const name = attribute(window, current);
          if (older + countIn(item, name) + 1 > window.max) {
            return { allowed: false, exceeded: `${window.max}/${window.seconds}s` };
          }
          currents.push(name);
          names[`#c${w}`] = name;
          values[`:room${w}`] = window.max - older;
          conditions.push(`(attribute_not_exists(#c${w}) OR #c${w} < :room${w})`);
          adds.push(`#c${w} :one`);
        }
        const written =
          item === undefined
            ? await create(itemKey, currents)
            : await add(itemKey, item, live, names, values, conditions, adds);
        if (written !== 'conflict') return { allowed: true };
        if (attempt < ATTEMPTS) await sleep(Math.random() * 5 * attempt);
      }
      throw new TransientError(
        'rate_limit_conflict',
        `rate-limit counters for scope ${scope} in table ${table.tableName} kept changing; retry later`,
      );
    },
  };

  const onceKey = (scope: string, key: string, once: string) => {
    checkScope(scope);
    return { pk: `${ITEM_KIND.rateLimit}once#${scope}#${sha256Hex(`${once}\0${key}`, 40)}`, sk: SINGLE_SK };
  };
  const prior = async (scope: string, key: string, once: string) =>
    (await readDoc(table, onceKey(scope, key, once), VerdictSchema))?.value;

  return {
    ...limiter,
    async hitOnce(scope, key, windows, once) {
      const remembered = await prior(scope, key, once);
      if (remembered) return remembered;
      const verdict = await limiter.hit(scope, key, windows);
      const written = await table.put({
        Item: {
          ...onceKey(scope, key, once),
          [ATTR.doc]: JSON.stringify(verdict),
          [ATTR.version]: 1,
          [ATTR.expiresAt]: nowSeconds(clock) + ONCE_TTL_SECONDS,
        },
        // An item past its TTL is absent, even before DynamoDB's sweep deletes it.
        ConditionExpression: 'attribute_not_exists(#pk) OR #exp <= :now',
        ExpressionAttributeNames: { '#pk': ATTR.pk, '#exp': ATTR.expiresAt },
        ExpressionAttributeValues: { ':now': nowSeconds(clock) },
      });
      if (written === 'ok') return verdict;
      // A concurrent retry of the same mail decided first: its answer stands.
      return (await prior(scope, key, once)) ?? verdict;
    },
    async peekOnce(scope, key, windows, once) {
      return (await prior(scope, key, once)) ?? limiter.peek(scope, key, windows);
    },
  };
};
