import type { Logger } from '../ports.ts';
import type { NotifyJob, NotifyQueue } from './jobs.ts';
import type { NotifyOutcome } from './notify.ts';

/**
 * The notify queue in local mode: no queue at all, each job is sent at once in the same process.
 * Every job is tried; the first failure is thrown after the others ran, so the caller (the webhook
 * answers 503, GitLab retries; the pipeline retries a transient fault) tries again, and the
 * notifier's sent-mail ledger keeps the ones that went from going twice.
 */
export const createInlineNotifyQueue = (
  send: (job: NotifyJob) => Promise<NotifyOutcome>,
  logger: Logger,
): NotifyQueue => ({
  async enqueue(jobs) {
    let failure: unknown;
    for (const job of jobs) {
      try {
        const outcome = await send(job);
        logger.info('notification', { kind: job.kind, project: job.project, iid: job.iid, ...outcome });
      } catch (error) {
        failure ??= error;
        logger.error('notification failed', {
          kind: job.kind,
          project: job.project,
          iid: job.iid,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    if (failure !== undefined) throw failure;
  },
});
