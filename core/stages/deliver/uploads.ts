import type { Readable } from 'node:stream';
import type { Forge, ForgeProjectRef, ForgeUpload } from '../../ports.ts';
import type { UploadSummary } from '../../trace.ts';
import { UPLOAD_LINK_SCHEME, type UploadPlan } from '../contracts.ts';

/**
 * Uploads in flight at once for one mail. Six puts the attachments of nearly every real mail in one
 * round trip (bench `e2e_latency`: five uploads at 4 needed two rounds), while bounding the forge's
 * load and the concurrent re-reads of the raw mail that each upload streams from. @default 6
 */
export const DEFAULT_UPLOAD_CONCURRENCY = 6;

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const LINK = new RegExp(`${escapeRegExp(UPLOAD_LINK_SCHEME)}(\\d+)`, 'g');

/** One attachment, streamed from the raw mail into the forge; the stream is closed if the upload fails. */
const uploadOne = async (forge: Forge, project: ForgeProjectRef, plan: UploadPlan): Promise<ForgeUpload> => {
  const content: Readable = await plan.attachment.open();
  try {
    return await forge.uploadFile(project, {
      filename: plan.filename,
      contentType: plan.contentType,
      content,
      size: plan.attachment.size,
    });
  } catch (error) {
    content.destroy();
    throw error;
  }
};

/**
 * Uploads every plan, at most `concurrency` at once, and returns the uploads in plan order. On the
 * first failure no new upload starts; the ones in flight are awaited (so none outlives the call)
 * and the first error is thrown unchanged.
 */
export const uploadAll = async (
  forge: Forge,
  project: ForgeProjectRef,
  plans: readonly UploadPlan[],
  concurrency: number = DEFAULT_UPLOAD_CONCURRENCY,
): Promise<ForgeUpload[]> => {
  const bound = Number.isInteger(concurrency) && concurrency > 0 ? concurrency : DEFAULT_UPLOAD_CONCURRENCY;
  const results: (ForgeUpload | undefined)[] = plans.map(() => undefined);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      const index = next++;
      const plan = plans[index];
      if (plan === undefined) return;
      try {
        results[index] = await uploadOne(forge, project, plan);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(bound, plans.length) }, worker));
  if (failure) throw failure.error;
  return results.filter((upload): upload is ForgeUpload => upload !== undefined);
};

/** A URL made safe as a Markdown link destination (no space or bracket ends it early). */
const linkDestination = (url: string): string =>
  url.replace(/[\s()<>]/g, (char) =>
    [...Buffer.from(char, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  );

/**
 * Replaces every `postdesk-upload://<index>` link target with the URL of upload `<index>` (the
 * plan's position in the draft's `uploads`). Only the target changes: `![alt](…)` stays an image
 * and `[name](…)` a link, as GitLab renders its own upload Markdown. Render neutralises the scheme
 * in customer text, so every occurrence is ours; one with no such upload is left as it is.
 */
export const replaceUploadLinks = (text: string, uploads: readonly ForgeUpload[]): string =>
  text.replace(LINK, (whole, digits: string) => {
    const upload = uploads[Number(digits)];
    return upload ? linkDestination(upload.url) : whole;
  });

export const uploadSummaries = (plans: readonly UploadPlan[]): UploadSummary[] =>
  plans.map((plan) => ({
    filename: plan.filename,
    contentType: plan.contentType,
    size: plan.attachment.size,
    inline: plan.inline,
  }));
