import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { Logger } from '../../core/ports.ts';
import { SecretScrubber } from '../../core/redact.ts';

/**
 * The core Logger port on Powertools Logger: one JSON object per line, correlated by the SES message
 * id, with secrets redacted on the way out. Redaction sits in the serialiser (Powertools'
 * `jsonReplacerFn`), below every caller, so a field nobody thought of (an error's `cause`, a forge
 * response echoed into a message) is covered too: any field whose key looks like it holds a secret,
 * and any occurrence of a known secret value anywhere in any string, becomes `[redacted]`.
 */

export { MIN_REDACTED_VALUE_LENGTH, REDACTED } from '../../core/redact.ts';

/** The logger's redactor is the desk's one scrubber (core/redact.ts): whole key names, token forms. */
export class SecretRedactor extends SecretScrubber {}

export interface LambdaLogger extends Logger {
  readonly powertools: PowertoolsLogger;
  readonly redactor: SecretRedactor;
  /** Teaches the redactor more secret values (the desk secret, once read). */
  addSecretValues(values: Iterable<string | undefined>): void;
  /** Adds the mail's ids to every line until `endMail()`. */
  beginMail(ids: { sesMessageId?: string | undefined; sqsMessageId?: string | undefined }): void;
  endMail(): void;
}

export interface LambdaLoggerOptions {
  /** @default process.env.POWERTOOLS_SERVICE_NAME ?? 'postdesk' */
  serviceName?: string | undefined;
  /** @default process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO' */
  logLevel?: LogLevel | undefined;
  /** Values known up front (a test's fake token, a secret read before the logger). */
  secretValues?: Iterable<string> | undefined;
}

const MAIL_KEYS = ['ses_message_id', 'sqs_message_id'];

export const createLambdaLogger = (options: LambdaLoggerOptions = {}): LambdaLogger => {
  const redactor = new SecretRedactor();
  if (options.secretValues !== undefined) redactor.add(options.secretValues);
  const powertools = new PowertoolsLogger({
    serviceName: options.serviceName ?? process.env['POWERTOOLS_SERVICE_NAME'] ?? 'postdesk',
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    jsonReplacerFn: redactor.replacer,
  });
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields === undefined) powertools[level](message);
      else powertools[level](message, fields);
    };
  return {
    powertools,
    redactor,
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    addSecretValues: (values) => redactor.add(values),
    beginMail: ({ sesMessageId, sqsMessageId }) => {
      powertools.appendKeys({
        ...(sesMessageId === undefined ? {} : { ses_message_id: sesMessageId }),
        ...(sqsMessageId === undefined ? {} : { sqs_message_id: sqsMessageId }),
      });
    },
    endMail: () => powertools.removeKeys(MAIL_KEYS),
  };
};
