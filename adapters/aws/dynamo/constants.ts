/**
 * The desk's state table, for infra to build it from: one table, string partition and sort keys,
 * on-demand billing, TTL on `expires_at` (epoch seconds), point-in-time recovery, encrypted with the
 * desk's KMS key. TTL deletion lags (up to a few days, per "How TTL works" in the DynamoDB
 * developer guide), so every read treats an item whose `expires_at` has passed as absent.
 */
export const ATTR = {
  pk: 'pk',
  sk: 'sk',
  /** TTL attribute, epoch seconds. */
  expiresAt: 'expires_at',
  /** Compare-and-swap counter, +1 on every write of a document. */
  version: 'version',
  /** The document, as JSON text (what the object-store implementation stores as a file). */
  doc: 'doc',
  /** Ledger: epoch milliseconds until which the pending entry's lease holds (0 when released or done). */
  leaseUntil: 'lease_until',
} as const;

/** Key schema: `pk` HASH and `sk` RANGE, both strings. */
export const TABLE_KEY = {
  partitionKey: { name: ATTR.pk, type: 'S' },
  sortKey: { name: ATTR.sk, type: 'S' },
  timeToLiveAttribute: ATTR.expiresAt,
} as const;

/** Partition-key prefixes, one per kind of item. */
export const ITEM_KIND = {
  ledger: 'ledger#',
  ticket: 'ticket#',
  messageId: 'msgid#',
  quarantine: 'quarantine',
  rateLimit: 'ratelimit#',
  outbound: 'outbox#',
} as const;

/** The sort key of kinds with one item per partition. */
export const SINGLE_SK = '-';
