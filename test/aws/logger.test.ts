import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLambdaLogger, REDACTED, SecretRedactor } from '../../adapters/aws/logger.ts';
import { TransientError } from '../../core/errors.ts';
import { captureStdout } from './log-capture.ts';

const TOKEN = 'glpat-very-secret-token-1234';
const REPLY_KEY = 'reply-key-abcdefghijklmnop';

describe('createLambdaLogger', () => {
  let capture: ReturnType<typeof captureStdout>;
  beforeEach(() => {
    capture = captureStdout();
  });
  afterEach(() => capture.restore());

  it('writes one JSON object per line with the message and fields', () => {
    // Prepare
    const logger = createLambdaLogger({ serviceName: 'postdesk-test' });

    // Act
    logger.info('decision', { trace: { mailId: 'm1', outcome: 'issue' } });

    // Assess
    expect(capture.lines).toHaveLength(1);
    expect(capture.json()[0]).toMatchObject({
      level: 'INFO',
      message: 'decision',
      service: 'postdesk-test',
      trace: { mailId: 'm1', outcome: 'issue' },
    });
  });

  it('redacts fields whose key names a secret, at any depth', () => {
    // Prepare
    const logger = createLambdaLogger();

    // Act
    logger.warn('request', {
      forge_token: 'a',
      request: { headers: { Authorization: 'Bearer b', 'PRIVATE-TOKEN': 'c' }, path: '/api/v4/projects' },
      apiKey: 'd',
      password: 'e',
      webhookSecret: { nested: 'f' },
      list: [{ reply_key: 'g' }],
    });

    // Assess
    expect(capture.json()[0]).toMatchObject({
      forge_token: REDACTED,
      request: { headers: { Authorization: REDACTED, 'PRIVATE-TOKEN': REDACTED }, path: '/api/v4/projects' },
      apiKey: REDACTED,
      password: REDACTED,
      webhookSecret: REDACTED,
      list: [{ reply_key: REDACTED }],
    });
  });

  it('logger-redacts-diagnostics: keeps rawKey, objectKey and keys, which name no secret', () => {
    // Prepare
    const logger = createLambdaLogger();
    // Act
    logger.warn('raw mail missing', { rawKey: 'mail/abc', objectKey: 'mail/abc', keys: ['a', 'b'] });
    // Assess
    expect(capture.json()[0]).toMatchObject({ rawKey: 'mail/abc', objectKey: 'mail/abc', keys: ['a', 'b'] });
  });

  it('redacts known secret values anywhere: message, strings, errors, causes and stacks', () => {
    // Prepare
    const logger = createLambdaLogger();
    logger.addSecretValues([TOKEN, REPLY_KEY, undefined]);
    const cause = new Error(`upstream echoed ${REPLY_KEY}`);
    const error = new TransientError('forge_unavailable', `GitLab said: bad token ${TOKEN}`, { cause });

    // Act
    logger.error(`calling with ${TOKEN}`, { url: `https://x/?t=${TOKEN}`, error, list: [TOKEN] });

    // Assess
    const line = capture.lines.join('\n');
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain(REPLY_KEY);
    const entry = capture.json()[0];
    expect(entry?.['message']).toBe(`calling with ${REDACTED}`);
    expect(entry?.['url']).toBe(`https://x/?t=${REDACTED}`);
    expect(JSON.stringify(entry?.['error'])).toContain(`bad token ${REDACTED}`);
  });

  it('correlates lines with the SES and SQS message ids until the mail ends', () => {
    // Prepare
    const logger = createLambdaLogger();

    // Act
    logger.beginMail({ sesMessageId: 'ses-1', sqsMessageId: 'sqs-1' });
    logger.info('inside');
    logger.endMail();
    logger.info('after');

    // Assess
    const [inside, after] = capture.json();
    expect(inside).toMatchObject({ ses_message_id: 'ses-1', sqs_message_id: 'sqs-1' });
    expect(after?.['ses_message_id']).toBeUndefined();
  });
});

describe('SecretRedactor', () => {
  it('removes the longest value first, so overlapping secrets leave nothing behind', () => {
    // Prepare
    const redactor = new SecretRedactor();
    redactor.add(['abcd', 'abcdefgh']);

    // Act
    const scrubbed = redactor.scrub('x abcdefgh y abcd');

    // Assess
    expect(scrubbed).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('ignores values too short to redact without shredding every line', () => {
    // Prepare
    const redactor = new SecretRedactor();
    redactor.add(['ab']);

    // Act
    const scrubbed = redactor.scrub('about a tab');

    // Assess
    expect(scrubbed).toBe('about a tab');
  });
});
