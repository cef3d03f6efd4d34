import { fileURLToPath } from 'node:url';

/** The repository root: functions, the lock file and the example config are found from here. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entry points. Each exports `handler`. */
export const FUNCTION_ENTRIES = {
  inbound: fileURLToPath(new URL('../functions/inbound/handler.ts', import.meta.url)),
  webhook: fileURLToPath(new URL('../functions/webhook/handler.ts', import.meta.url)),
  notify: fileURLToPath(new URL('../functions/notify/handler.ts', import.meta.url)),
} as const;

/** Synthesized when there is no postdesk.config.yaml, so a fresh clone synthesizes. */
export const EXAMPLE_CONFIG = fileURLToPath(new URL('./example.config.yaml', import.meta.url));

export const LOCK_FILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));
