/** The file forge: issues and notes as Markdown files, the embedded default of local mode. */
export {
  createFileForge,
  type FileForge,
  type FileForgeOptions,
  fileForgeIssuePath,
  safeFilename,
} from './forge.ts';
export { type FrontMatterDocument, formatFrontMatter, parseFrontMatter } from './front-matter.ts';
