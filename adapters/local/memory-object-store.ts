import type { ObjectStore, StoredObject } from '../../core/ports.ts';
import { assertObjectKey, assertObjectPrefix, compareKeys, etagOf } from './object-store.ts';

/**
 * An ObjectStore in memory with the same conditional-write semantics as S3 and the file store: each
 * operation is atomic, `putIfAbsent` loses to an existing key, `putIfMatch` loses to any change
 * since the etag was read (or to a delete), keys are checked the same way and listed in UTF-8 byte
 * order. Used by tests and by `postdesk explain` (which must write nothing real).
 */
export interface MemoryObjectStore extends ObjectStore {
  /** A copy of every object, for tests and for showing what a dry run would have written. */
  snapshot(): Record<string, string>;
}

export const createMemoryObjectStore = (): MemoryObjectStore => {
  const objects = new Map<string, StoredObject>();

  const write = (key: string, body: string): { etag: string } => {
    const etag = etagOf(body);
    objects.set(key, { body, etag });
    return { etag };
  };

  return {
    async get(key) {
      assertObjectKey(key);
      const found = objects.get(key);
      return found ? { ...found } : undefined;
    },
    async putIfAbsent(key, body) {
      assertObjectKey(key);
      if (objects.has(key)) return 'exists';
      return write(key, body);
    },
    async putIfMatch(key, body, etag) {
      assertObjectKey(key);
      if (objects.get(key)?.etag !== etag) return 'conflict';
      return write(key, body);
    },
    async put(key, body) {
      assertObjectKey(key);
      return write(key, body);
    },
    async delete(key) {
      assertObjectKey(key);
      objects.delete(key);
    },
    async *list(prefix) {
      assertObjectPrefix(prefix);
      // A snapshot: keys written while the caller iterates are not seen, as with one S3 list page.
      const keys = [...objects.keys()].filter((key) => key.startsWith(prefix)).sort(compareKeys);
      yield* keys;
    },
    snapshot() {
      return Object.fromEntries([...objects].map(([key, value]) => [key, value.body]));
    },
  };
};
