import { PermanentError, TransientError } from '../../core/errors.ts';

/**
 * How an AWS SDK error crosses into the pipeline: as a TransientError (SQS redelivers the mail
 * later) or a PermanentError (a person must fix IAM, a key or a name). The SDK has already done its
 * own retries with backoff by the time we see an error, so "transient" here means "worth another
 * SQS delivery", not "retry in a loop".
 */

/** The fields every SDK v3 service exception carries; read defensively, they are plain properties. */
export interface AwsErrorShape {
  name: string;
  message: string;
  httpStatusCode: number | undefined;
  /** Node's errno-style code for network failures (`ECONNRESET`, `ETIMEDOUT`...). */
  code: string | undefined;
  retryable: boolean;
}

export const awsErrorShape = (error: unknown): AwsErrorShape => {
  const value = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  const status = value.$metadata?.httpStatusCode;
  return {
    name: typeof value.name === 'string' ? value.name : 'Error',
    message: typeof value.message === 'string' ? value.message : String(error),
    httpStatusCode: typeof status === 'number' ? status : undefined,
    code: typeof value.code === 'string' ? value.code : undefined,
    retryable: value.$retryable !== undefined && value.$retryable !== null,
  };
};

/** Error names AWS services use for throttling and short outages, whatever their HTTP status. */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'InternalServiceError',
  'InternalServiceErrorException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'TimeoutError',
  'AbortError',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

export const isTransientAwsError = (error: unknown): boolean => {
  const shape = awsErrorShape(error);
  if (shape.retryable || TRANSIENT_NAMES.has(shape.name)) return true;
  if (shape.code !== undefined && NETWORK_CODES.has(shape.code)) return true;
  const status = shape.httpStatusCode;
  // No HTTP status at all means the request never got an answer (socket, DNS, timeout).
  if (status === undefined) return true;
  return status >= 500 || status === 408 || status === 429;
};

export const hasStatus = (error: unknown, status: number, ...names: string[]): boolean => {
  const shape = awsErrorShape(error);
  return shape.httpStatusCode === status || names.includes(shape.name);
};

/**
 * Wraps an SDK error in the pipeline's error classes. `what` says what was being done
 * (`reading s3://bucket/key`), `fix` what a person should check when the error is permanent. The
 * AWS message is kept: SDK messages name resources and actions, never request payloads.
 */
export const toPostdeskError = (
  error: unknown,
  what: string,
  fix: string,
  codes: { transient: string; permanent: string },
): TransientError | PermanentError => {
  if (error instanceof TransientError || error instanceof PermanentError) return error;
  const shape = awsErrorShape(error);
  const detail = `${shape.name}${shape.httpStatusCode === undefined ? '' : ` ${shape.httpStatusCode}`}: ${shape.message}`;
  if (isTransientAwsError(error)) {
    return new TransientError(codes.transient, `${what} failed (${detail}); will retry`, { cause: error });
  }
  return new PermanentError(codes.permanent, `${what} failed (${detail}): ${fix}`, { cause: error });
};
