import { type StageResult, stop } from '../../trace.ts';

/** The reason code of a render that threw. */
export type RenderFailedReason = 'render_failed';

/**
 * A render that threw: a bug, never an expected outcome. The mail is quarantined with the error
 * in its trace (and can be released once fixed) instead of failing the whole batch.
 */
export const renderFailed = (error: unknown): StageResult<never, RenderFailedReason> =>
  stop(
    'quarantined',
    'render_failed',
    `Rendering the mail failed (${error instanceof Error ? error.message : String(error)}); it is kept in quarantine.`,
    { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
  );
