import { errorMessage, PostdeskError, TransientError } from '../../core/errors.ts';

/**
 * File system faults of the local desk's folders, as the errors the queue understands. A folder
 * made read-only, a permission changed by hand, a full disk: each is temporary from the desk's
 * side (a person fixes the folder, the disk frees up), so each is a TransientError. The worker
 * retries the mail, then moves it to `dlq/` with its error, and `postdesk redrive` runs it again
 * once the folder is fixed; none of them quarantines a mail as if the mail were at fault.
 *
 * Errors that are already a decision (a PostdeskError) pass through unchanged, and so do errors
 * without an errno code (a bug is not a disk fault).
 */

/** The errno codes (POSIX `errno.h`) of faults a person fixes outside the desk. */
export const FS_FAULT_CODES: ReadonlySet<string> = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EMFILE',
  'ENFILE',
  'EBUSY',
]);

/** The errno code of a thrown value (`ENOENT`, `EROFS`...), if it has one. */
export const errnoOf = (error: unknown): string | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

/** True for a fault of the folder or the disk rather than of what was asked. */
export const isFsFault = (error: unknown): boolean =>
  !(error instanceof PostdeskError) && FS_FAULT_CODES.has(errnoOf(error) ?? '');

/**
 * The TransientError for a file system fault, or the error unchanged. `what` completes
 * "Could not ..."; `fix` says what a person checks.
 */
export const fsFault = (error: unknown, code: string, what: string, fix: string): unknown =>
  isFsFault(error)
    ? new TransientError(code, `Could not ${what}: ${errorMessage(error)}. ${fix}`, { cause: error })
    : error;
