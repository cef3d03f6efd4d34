/** The file forge: issues and notes as Markdown files, the embedded default of local mode. */
export {
  createFileForge,
  type FileForge,
  type FileForgeOptions,
  type FileIssueView,
  type FileNoteView,
  type FileThread,
  fileForgeIssuePath,
  isFileForge,
  safeFilename,
} from './forge.ts';
export { type FrontMatterDocument, formatFrontMatter, parseFrontMatter } from './front-matter.ts';
