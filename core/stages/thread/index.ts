export { findByMessageIds, MAX_IDS, type MessageIdReason } from './message-ids.ts';
export { type FoundTicket, findByReplyToken, type ReplyTokenReason } from './reply-token.ts';
export { authorSender } from './sender.ts';
export { type ThreadInput, type ThreadReason, threadMail, threadStage } from './thread.ts';
