import { type StageResult, stop } from '../../trace.ts';
import { RenderStop } from './constants.ts';

/**
 * A render that threw: a bug, never an expected outcome. The mail is quarantined with the error
 * in its trace (and can be released once fixed) instead of failing the whole batch.
 */
export const renderFailed = (error: unknown): StageResult<never> =>
  stop(
    'quarantined',
    RenderStop.failed,
    `Rendering the mail failed (${error instanceof Error ? error.message : String(error)}); it is kept in quarantine.`,
    { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
  );
