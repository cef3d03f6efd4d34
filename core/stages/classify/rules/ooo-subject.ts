import { evidence } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

/**
 * Subject prefixes that mail clients put on absence notices and auto-replies, in the languages of
 * the big clients (Outlook/Exchange, Gmail, Apple Mail, Thunderbird). Kept to well-known forms.
 */
const PREFIXES = [
  'out of (?:the )?office(?: auto-?reply)?',
  'automatic reply',
  'auto-?reply',
  'auto(?:matic)? response',
  'abwesenheitsnotiz',
  'automatische antwort',
  'réponse automatique',
  'respuesta automática',
  'risposta automatica',
  'resposta automática',
  'automatisch antwoord',
  'automatiskt svar',
  'автоматический ответ',
  '自動応答',
  '自動返信',
  '自动回复',
  '自動回覆',
];

/**
 * Anchored at the start and ended by a colon (ASCII or full-width) or the end of the subject, so a
 * person's "Re: Automatic reply: …" or "Question about our out of office policy" does not match;
 * linear in the subject's length.
 */
const OOO_SUBJECT = new RegExp(`^\\s*(?:${PREFIXES.join('|')})\\s*(?:[:：]|$)`, 'iu');

/** A subject in the form clients give absence notices: `Automatic reply: …`, `Abwesenheitsnotiz: …`, `自動応答: …`. */
export const oooSubject: ClassifyRule<'ooo_subject'> = {
  reason: 'ooo_subject',
  kind: 'out_of_office',
  test(mail) {
    if (mail.subject === undefined) return undefined;
    return OOO_SUBJECT.test(mail.subject) ? evidence('Subject', mail.subject) : undefined;
  },
};
