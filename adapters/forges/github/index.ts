export { parseForgeWebhook, type SignatureVerdict, verifyGitHubSignature } from '../forgejo/webhook.ts';
export { appJwt, createAppTokenSource, type GitHubAppAuthOptions } from './app-auth.ts';
export {
  type AttachmentTokenVerdict,
  signAttachmentToken,
  verifyAttachmentToken,
} from './attachment-token.ts';
export {
  type AttachmentStore,
  createGitHubForge,
  type GitHubForge,
  type GitHubForgeOptions,
} from './forge.ts';
