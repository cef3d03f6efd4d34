/** The outbound half: forge events and new tickets to email, and back. Public surface only. */
export { type EmbeddedUploads, embedUploads, type FetchedUpload, type FetchUpload } from './attachments.ts';
export {
  bracketId,
  type ComposedMail,
  type ComposeInput,
  composeMail,
  fromNameFor,
  headerText,
  isAutomatic,
  isPlainAddress,
  type MailAddress,
  newMessageId,
  referencesFor,
  subjectFor,
} from './compose.ts';
export * from './constants.ts';
export {
  decideNoteHook,
  type IssueHook,
  IssueHookSchema,
  isNoAutoMailSender,
  mailableParticipants,
  type NoteDecision,
  type NoteHook,
  NoteHookSchema,
  noteVisibility,
  projectByKey,
  projectByPath,
  SkipReason,
  screenNoteHook,
} from './decide.ts';
export { applySesFeedback, type FeedbackResult, parseSesFeedback, type SesFeedback } from './feedback.ts';
export {
  jobKey,
  type NewNoteJob,
  type NotifyJob,
  NotifyJobSchema,
  type NotifyQueue,
  parseJobBody,
  serializeJob,
  storedJobKey,
} from './jobs.ts';
export {
  createNotifier,
  type DeskAppearance,
  type NotifyDeps,
  type NotifyOutcome,
  type OutboundMailer,
  type SendNotification,
  suppressionNotice,
} from './notify.ts';
export {
  createOnDelivered,
  type OnDeliveredDeps,
  type OnDeliveredResult,
  planAutomaticMail,
} from './on-delivered.ts';
export { createInlineNotifyQueue } from './queue.ts';
export {
  isUnsubscribed,
  type OutboundStateStore,
  type OutboundTicketState,
  wasSent,
} from './state.ts';
export {
  DEFAULT_TEMPLATES,
  type LoadedTemplate,
  loadTemplate,
  PlaceholderName,
  type PlaceholderValues,
  type RenderedMail,
  renderTemplate,
  renderUntrustedMarkdown,
  safeHref,
  substitutePlaceholders,
  templatePath,
} from './templates.ts';
export {
  createUnsubscribeToken,
  type ParsedUnsubscribeToken,
  parseUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from './unsubscribe.ts';
export {
  createWebhookHandler,
  tokensMatch,
  type WebhookDeps,
  type WebhookHandler,
  type WebhookRequest,
  type WebhookResponse,
} from './webhook.ts';
