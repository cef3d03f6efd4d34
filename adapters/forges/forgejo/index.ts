export {
  type CallSpec,
  createForgeHttp,
  type ForgeHttp,
  type ForgeHttpOptions,
  type RetryOptions,
} from './client.ts';
export { createForgejoForge, type ForgejoForge, type ForgejoForgeOptions, parseEntity } from './forge.ts';
export {
  parseForgeWebhook,
  type SignatureVerdict,
  verifyForgejoSignature,
  verifyGitHubSignature,
} from './webhook.ts';
