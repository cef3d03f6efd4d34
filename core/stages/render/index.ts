/**
 * The render stage: a parsed mail to an issue draft (new ticket) or a note draft (reply).
 * See docs/RENDER.md for the decisions and the measurements behind them.
 */
import type { RenderIssueReason } from './issue.ts';
import type { RenderNoteReason } from './note.ts';

export type { BodySource } from './body.ts';
export { HtmlRejected, RENDERED, TextRejected } from './constants.ts';
export type { RenderFailedReason } from './failure.ts';
export { type RenderIssueInput, type RenderIssueReason, renderIssue, renderIssueStage } from './issue.ts';
export { type RenderNoteInput, type RenderNoteReason, renderNote, renderNoteStage } from './note.ts';

/** Every reason code of the render stage. */
export type RenderReason = RenderIssueReason | RenderNoteReason;
export { renderTitle } from './title.ts';
