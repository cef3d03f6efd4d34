import type { Limits, ProjectConfig } from '../../config/schema.ts';
import type { AttachmentMeta, ParsedMail } from '../../model.ts';
import { pass, type StageResult, stop } from '../../trace.ts';
import type { NoteDraft, Stage } from '../contracts.ts';
import { assemble } from './assemble.ts';
import { UploadList } from './attachments.ts';
import { authorLine } from './author.ts';
import { type BodySource, renderBody } from './body.ts';
import { RENDERED } from './constants.ts';
import { type RenderFailedReason, renderFailed } from './failure.ts';

export interface RenderNoteInput {
  mail: ParsedMail;
  project: ProjectConfig;
  limits: Limits;
  /** Post as an internal note (automated mail, or a stranger under `strangers: internal_note`). */
  internal: boolean;
  /** The mail is an auto-reply, out-of-office, bulk or bounce: said on the `**From:**` line. */
  automated: boolean;
  /** The raw mail, uploaded as `original.eml` only if the note must be truncated. */
  original?: AttachmentMeta | undefined;
}

/** Reason codes of a note's render: the body's source, `empty_reply`, or `render_failed`. */
export type RenderNoteReason = BodySource | 'empty_reply' | RenderFailedReason;

/**
 * A reply's note: `**From:**` line, the new text, attachment links, and what trimming took out
 * (quotes, quote header, signature) in a collapsed `<details>`, as GitLab's
 * `message_with_appended_reply`. A reply with no text and no attachment is rejected with
 * `empty_reply` (GitLab raises `EmptyEmailError`).
 */
export const renderNote = async (
  input: RenderNoteInput,
): Promise<StageResult<NoteDraft, RenderNoteReason>> => {
  try {
    const { mail, project, limits } = input;
    const uploads = new UploadList(mail);
    const body = await renderBody(mail, uploads, 'reply');
    if (body.main.replace(/[\uFDD0-\uFDEF]/g, '').trim() === '' && uploads.entries.length === 0) {
      return stop('rejected', 'empty_reply', 'The reply has no text and no attachment: nothing to add.', {
        body: body.source,
      });
    }
    const note = assemble(
      {
        header: authorLine(mail, project, input.automated),
        body: body.main,
        quoted: body.quoted,
        template: undefined,
      },
      uploads,
      limits.max_description_chars - 1,
      input.original,
    );
    return pass(
      { body: note.text, internal: input.internal, uploads: uploads.plans },
      RENDERED,
      body.source,
      {
        ...body.detail,
        uploads: uploads.entries.length,
        inline: uploads.inlineCount,
        ...(uploads.skippedSignatures > 0 ? { signaturesSkipped: uploads.skippedSignatures } : {}),
        ...(note.truncated ? { truncated: true } : {}),
        noteChars: note.text.length,
      },
    );
  } catch (error) {
    return renderFailed(error);
  }
};

/** The render stage for a reply: the desk's limits from the context. */
export const renderNoteStage: Stage<
  Omit<RenderNoteInput, 'limits'>,
  NoteDraft,
  RenderNoteReason,
  'config'
> = (input, context) => renderNote({ ...input, limits: context.config.limits });
