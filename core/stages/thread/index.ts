export { findByMessageIds, MAX_IDS } from './message-ids.ts';
export { ThreadReason } from './reasons.ts';
export { type FoundTicket, findByReplyToken } from './reply-token.ts';
export { authorSender, replySender } from './sender.ts';
export { type ThreadInput, threadMail } from './thread.ts';
