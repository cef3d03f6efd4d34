import type { Limits, ProjectConfig } from '../../config/schema.ts';
import type { AttachmentMeta, ParsedMail } from '../../model.ts';
import { pass, type StageResult } from '../../trace.ts';
import type { IssueDraft, Stage } from '../contracts.ts';
import { assemble } from './assemble.ts';
import { UploadList } from './attachments.ts';
import { authorLine } from './author.ts';
import { type BodySource, renderBody } from './body.ts';
import { RENDERED } from './constants.ts';
import { type RenderFailedReason, renderFailed } from './failure.ts';
import { renderTitle } from './title.ts';

export interface RenderIssueInput {
  mail: ParsedMail;
  project: ProjectConfig;
  limits: Limits;
  /** The project's template text, resolved by the pipeline (`template.inline` or the repo file). */
  template?: string | undefined;
  /** Labels added on top of `project.labels` (e.g. the authentication policy's `fail_label`). */
  extraLabels?: string[] | undefined;
  /**
   * The raw mail as an attachment (built by the pipeline from the raw store). Used only when the
   * description must be truncated: it is then uploaded as `original.eml` and linked.
   */
  original?: AttachmentMeta | undefined;
}

/** Reason codes of an issue's render: the body's source, or `render_failed`. */
export type RenderIssueReason = BodySource | RenderFailedReason;

/**
 * A new ticket's issue: title from the subject, `**From:**` line, the body with its quotes kept
 * (as GitLab does for new tickets), attachment links, then the project template. Customer text is
 * neutralised (markdown/escape.ts); the template is not, so its quick actions run. Passes for
 * every mail; a bug ends in quarantine with its message, never in a throw.
 */
export const renderIssue = async (
  input: RenderIssueInput,
): Promise<StageResult<IssueDraft, RenderIssueReason>> => {
  try {
    const { mail, project, limits } = input;
    const uploads = new UploadList(mail);
    const body = await renderBody(mail, uploads, 'issue');
    const description = assemble(
      { header: authorLine(mail, project), body: body.main, quoted: '', template: input.template },
      uploads,
      limits.max_description_chars - 1,
      input.original,
    );
    const draft: IssueDraft = {
      title: renderTitle(mail.subject),
      description: description.text,
      labels: [...new Set([...project.labels, ...(input.extraLabels ?? [])])],
      confidential: project.confidential,
      uploads: uploads.plans,
    };
    return pass(draft, RENDERED, body.source, {
      ...body.detail,
      uploads: uploads.entries.length,
      inline: uploads.inlineCount,
      ...(uploads.skippedSignatures > 0 ? { signaturesSkipped: uploads.skippedSignatures } : {}),
      ...(description.truncated ? { truncated: true } : {}),
      descriptionChars: description.text.length,
    });
  } catch (error) {
    return renderFailed(error);
  }
};

/** The render stage for a new ticket: the desk's limits from the context. */
export const renderIssueStage: Stage<
  Omit<RenderIssueInput, 'limits'>,
  IssueDraft,
  RenderIssueReason,
  'config'
> = (input, context) => renderIssue({ ...input, limits: context.config.limits });
