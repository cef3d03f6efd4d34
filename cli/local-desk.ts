import { createHash } from 'node:crypto';
import { createFileForge } from '../adapters/forges/file/index.ts';
import { createGitLabForge } from '../adapters/forges/gitlab/index.ts';
import { createFileObjectStore } from '../adapters/local/object-store.ts';
import { createFileRawMailStore, type FileRawMailStore } from '../adapters/local/raw-mail-store.ts';
import { createLocalSecretSource } from '../adapters/local/secret-file.ts';
import type { DeskConfig } from '../core/config/schema.ts';
import { PermanentError } from '../core/errors.ts';
import type { PipelineDeps } from '../core/pipeline.ts';
import {
  type Forge,
  type Logger,
  type ObjectStore,
  type SecretSource,
  silentLogger,
  systemClock,
} from '../core/ports.ts';
import { type DeskState, objectStoreState } from '../core/state/index.ts';
import { localPaths } from './local-state.ts';

export type ForgeChoice = 'auto' | 'file' | 'gitlab';

/** The local desk: the same pipeline as the Lambda, on files under the data directory. */
export interface LocalDesk {
  deps: PipelineDeps;
  rawStore: FileRawMailStore;
  /** The files under the state directory (job bodies, and what `state` keeps there). */
  store: ObjectStore;
  /** The desk's state on `store`, on the desk's clock: the one the pipeline runs on. */
  state: DeskState;
  secrets: SecretSource;
  paths: ReturnType<typeof localPaths>;
  /** For people: which forge receives issues, and why. */
  forgeDescription: string;
}

/**
 * Builds the local desk. The forge is the file forge unless the config names GitLab AND the local
 * secret holds a forge token (or `--forge gitlab` insists): trying Postdesk needs no GitLab, and
 * pointing it at GitLab is one `postdesk secret write` away.
 */
export const openLocalDesk = async (options: {
  config: DeskConfig;
  dataDir: string;
  env?: NodeJS.ProcessEnv | undefined;
  forge?: ForgeChoice | undefined;
  logger?: Logger | undefined;
}): Promise<LocalDesk> => {
  const paths = localPaths(options.dataDir);
  const secrets = createLocalSecretSource({ dataDir: options.dataDir, env: options.env });
  const choice = options.forge ?? 'auto';
  const secret = await secrets.get();
  const { config } = options;
  let forge: Forge;
  let forgeDescription: string;
  const wantsGitLab =
    choice === 'gitlab' || (choice === 'auto' && config.forge.kind === 'gitlab' && !!secret.forge_token);
  if (wantsGitLab) {
    if (config.forge.kind !== 'gitlab') {
      throw new PermanentError(
        'forge_not_configured',
        '--forge gitlab needs `forge: { kind: gitlab, url: ... }` in the config',
      );
    }
    forge = createGitLabForge({
      url: config.forge.url,
      token: async () => {
        const current = await secrets.get();
        if (!current.forge_token) {
          throw new PermanentError(
            'forge_token_missing',
            'no forge_token in the desk secret: write one with `postdesk secret write`',
          );
        }
        return current.forge_token;
      },
      onUnauthorized: async () => {
        await secrets.refresh();
      },
      logger: options.logger ?? silentLogger,
    });
    forgeDescription = `GitLab at ${config.forge.url}`;
  } else {
    forge = createFileForge({ root: paths.forge });
    forgeDescription =
      config.forge.kind === 'gitlab'
        ? `the file forge in ${paths.forge} (no forge_token in the local secret yet; write one with \`postdesk secret write\` to deliver to ${config.forge.url})`
        : `the file forge in ${paths.forge}`;
  }
  const rawStore = createFileRawMailStore(paths.mail);
  const store = createFileObjectStore(paths.state);
  const clock = systemClock;
  const state = objectStoreState(store, { clock });
  return {
    deps: {
      config,
      rawStore,
      state,
      forge,
      secrets,
      clock,
      logger: options.logger ?? silentLogger,
    },
    rawStore,
    store,
    state,
    secrets,
    paths,
    forgeDescription,
  };
};

/**
 * A local mail id from the raw bytes: the same file ingested twice gets the same id, so the ledger
 * makes the second run a no-op instead of a second issue.
 */
export const localMailId = (raw: Buffer): string =>
  `local-${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;

/** The raw store key of a local mail id. */
export const rawKeyOf = (id: string): string => `${id}.eml`;
