import type { DeskSecret } from '../../core/ports.ts';

/**
 * The suite's own desk secret: every value starts with TEST_SECRET_PREFIX, so the secret scan
 * (test/support/secret-scan-setup.ts, secret-scan-global.ts) can look for it in everything the
 * suite printed, threw or traced without knowing which test used it. Use these values wherever a
 * test needs "a real secret"; a leak of one of them fails the whole run.
 *
 * No value is a real credential: they only authenticate against the fake GitLab on loopback.
 */

/** Recognisable and never a word of real text: a hit in a log line is a leak, not a coincidence. */
export const TEST_SECRET_PREFIX = 'pdtest-secret-';

/** The GitLab bot token (the fake GitLab accepts it once `addToken` is called with it). */
export const TEST_FORGE_TOKEN = `${TEST_SECRET_PREFIX}forge-4f1c9a07d2e85b36`;
/** The webhook token GitLab sends in `X-Gitlab-Token`. */
export const TEST_WEBHOOK_TOKEN = `${TEST_SECRET_PREFIX}webhook-8b2d6e1f0a9c4735`;
/** The HMAC key of reply and unsubscribe tokens (at least 16 characters, as the secret parser asks). */
export const TEST_REPLY_KEY = `${TEST_SECRET_PREFIX}reply-c3a85f9e17b24d60`;

/** The whole document, as `postdesk secret show` would print it. */
export const TEST_SECRET: Readonly<Required<DeskSecret>> = Object.freeze({
  forge_token: TEST_FORGE_TOKEN,
  webhook_token: TEST_WEBHOOK_TOKEN,
  reply_key: TEST_REPLY_KEY,
});

export const TEST_SECRET_YAML = `forge_token: ${TEST_FORGE_TOKEN}\nwebhook_token: ${TEST_WEBHOOK_TOKEN}\nreply_key: ${TEST_REPLY_KEY}\n`;

/** Every value the scan looks for: each whole value, and the bare part after the prefix. */
export const TEST_SECRET_VALUES: readonly string[] = Object.freeze([
  TEST_FORGE_TOKEN,
  TEST_WEBHOOK_TOKEN,
  TEST_REPLY_KEY,
  // A value cut at the prefix (a tokenizer, a redactor that removes only the prefix) still leaks.
  TEST_FORGE_TOKEN.slice(TEST_SECRET_PREFIX.length),
  TEST_WEBHOOK_TOKEN.slice(TEST_SECRET_PREFIX.length),
  TEST_REPLY_KEY.slice(TEST_SECRET_PREFIX.length),
]);

/** The test secret values found in `text` (empty when none). */
export const findTestSecrets = (text: string): string[] =>
  TEST_SECRET_VALUES.filter((value) => text.includes(value));

/** A SecretSource that serves the test secret and counts reads. */
export const testSecretSource = (secret: DeskSecret = TEST_SECRET) => {
  const source = {
    reads: 0,
    async get(): Promise<DeskSecret> {
      source.reads += 1;
      return secret;
    },
    async refresh(): Promise<DeskSecret> {
      source.reads += 1;
      return secret;
    },
  };
  return source;
};
