import { describe, expect, it } from 'vitest';
import { isSensitiveKey, REDACTED, SecretScrubber } from '../../core/redact.ts';

const TOKEN = 'glpat-Very-Secret-Token-1234';

describe('isSensitiveKey: whole key names', () => {
  it.each([
    'token',
    'secret',
    'password',
    'authorization',
    'Authorization',
    'forge_token',
    'webhook_token',
    'reply_key',
    'PRIVATE-TOKEN',
    'X-Gitlab-Token',
    'webhookSecret',
    'apiKey',
    'replyKey',
  ])('%s is redacted', (name) => {
    expect(isSensitiveKey(name)).toBe(true);
  });

  // logger-redacts-diagnostics: the old pattern /token|secret|key|password|authorization/i blanked these.
  it.each(['rawKey', 'objectKey', 'keys', 'cacheKey', 'monkey', 'keyboard', 'mailId'])(
    '%s is kept',
    (name) => {
      expect(isSensitiveKey(name)).toBe(false);
    },
  );
});

describe('SecretScrubber: token forms', () => {
  const scrubber = new SecretScrubber();
  scrubber.add([TOKEN, undefined, 'ab']);

  it.each([
    ['exact', `bad token ${TOKEN} here`],
    ['prefix of 8+', `token ${TOKEN.slice(0, 12)}… is invalid`],
    ['a middle run', `saw ${TOKEN.slice(5, 16)}`],
    ['upper case', `TOKEN ${TOKEN.toUpperCase()}`],
    ['lower case', `token ${TOKEN.toLowerCase()}`],
    ['base64', `basic ${Buffer.from(TOKEN).toString('base64')}`],
    ['base64url', `u=${Buffer.from(TOKEN).toString('base64url')}`],
  ])('%s is scrubbed', (_form, text) => {
    // Act
    const out = scrubber.scrub(text);
    // Assess
    expect(out).toContain(REDACTED);
    for (let at = 0; at + 8 <= TOKEN.length; at += 1) {
      expect(out.toLowerCase()).not.toContain(TOKEN.slice(at, at + 8).toLowerCase());
    }
    expect(out).not.toContain(Buffer.from(TOKEN).toString('base64').slice(0, 12));
  });

  it('leaves text without the secret alone, and runs shorter than 8', () => {
    expect(scrubber.scrub('nothing secret about abab')).toBe('nothing secret about abab');
    expect(scrubber.scrub(`glpat`)).toBe('glpat');
  });

  it('is linear: 4n characters cost about four times n', () => {
    const line = 'x'.repeat(1_000_000);
    const time = (text: string) => {
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 5; run += 1) {
        const started = process.hrtime.bigint();
        scrubber.scrub(text);
        best = Math.min(best, Number(process.hrtime.bigint() - started));
      }
      return best;
    };
    const small = time(line.slice(0, 250_000));
    const large = time(line);
    expect(large / small).toBeLessThan(12);
  });
});
