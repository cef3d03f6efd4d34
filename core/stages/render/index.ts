/**
 * The render stage: a parsed mail to an issue draft (new ticket) or a note draft (reply).
 * See docs/RENDER.md for the decisions and the measurements behind them.
 */
export { BodySource, HtmlRejected, RENDERED, RenderStop, TextRejected } from './constants.ts';
export { type RenderIssueInput, renderIssue } from './issue.ts';
export { type RenderNoteInput, renderNote } from './note.ts';
export { renderTitle } from './title.ts';
