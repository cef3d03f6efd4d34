/**
 * The parse stage: the only module that imports a MIME parser (mailsplit, the streaming splitter
 * inside mailparser). See docs/PARSER.md for why and for the measurements.
 */
export { type ParseRejectReason, rawHeaderOverCaps } from './limits.ts';
export {
  type OpenRawMail,
  type ParseMailOptions,
  type ParseReason,
  parseMail,
  parseStage,
} from './parse-mail.ts';
