import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createMemoryObjectStore } from '../adapters/local/memory-object-store.ts';
import { createFileObjectStore } from '../adapters/local/object-store.ts';
import { createLocalSecretSource } from '../adapters/local/secret-file.ts';
import type { ObjectStore, SecretSource } from '../core/ports.ts';

/**
 * The local desk's layout under the data directory (`./.postdesk` by default):
 *
 *     mail/<id>.eml     raw mail as received (the local stand-in for the bucket's mail/)
 *     state/            ledger/, tickets/, msgid/, quarantine/, ratelimit/ (the bucket's state)
 *     queue/ dlq/       mail accepted but not yet processed / that failed too often
 *     forge/            the file forge: issues and notes as Markdown, uploads
 *     outbox/           outbound mail as .eml
 *     secret.enc        the desk secret, AES-256-GCM; master.key beside it unless POSTDESK_MASTER_KEY
 */
export const localPaths = (dataDir: string) => ({
  mail: join(dataDir, 'mail'),
  state: join(dataDir, 'state'),
  queue: join(dataDir, 'queue'),
  dlq: join(dataDir, 'dlq'),
  forge: join(dataDir, 'forge'),
  outbox: join(dataDir, 'outbox'),
});

const refuse = (operation: string) => async (): Promise<never> => {
  throw new Error(`read-only local state: ${operation} refused (a dry run writes nothing)`);
};

/** The local state for reading only (explain): replies thread against real tickets, nothing is written. */
export const readOnlyLocalState = (dataDir: string): ObjectStore => {
  const root = localPaths(dataDir).state;
  const store = existsSync(root) ? createFileObjectStore(root) : createMemoryObjectStore();
  return {
    get: (key) => store.get(key),
    list: (prefix) => store.list(prefix),
    putIfAbsent: refuse('putIfAbsent'),
    putIfMatch: refuse('putIfMatch'),
    put: refuse('put'),
    delete: refuse('delete'),
  };
};

/** The local secret when it can be read, else an empty one: explain must work before any secret exists. */
export const readLocalSecretQuietly = async (
  dataDir: string,
  env?: NodeJS.ProcessEnv,
): Promise<SecretSource> => {
  const source = createLocalSecretSource({ dataDir, env });
  const secret = await source.get().catch(() => ({}));
  return { get: async () => secret, refresh: async () => secret };
};
