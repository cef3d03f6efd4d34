/**
 * Reply trimming: which lines of a reply are the customer's new text, and which are the quoted
 * mail, the quote header and the signature. Nothing is thrown away: the caller shows the rest in a
 * collapsed `<details>` (GitLab's `message_with_appended_reply`).
 *
 * Written for Postdesk after measuring `email-reply-parser` (crisp, the library the peers review
 * recommends): see docs/RENDER.md. That library reverses every line and runs ~30 regexes with
 * unbounded `.+` over the whole text; without its optional native RE2 dependency it did not
 * finish `email_long_quote.txt` (766 kB) in ten minutes. This trimmer classifies each line once
 * with anchored, bounded patterns, so it is linear in the input.
 *
 * The rules, in order:
 * 0. A line holding new text and then a quote header above a quote (`reply On <date>, bob
 *    wrote:`) is split in two (plain text only). A wrapped address's closing `>:` is header, not
 *    quote; a quoted line the client wrapped without its `>` is quote.
 * 1. An embedded message ends the reply: it and everything after it is quoted, with the
 *    separator line just above it. That is an `----- Original Message -----` line, an Outlook
 *    header block (`From:` or `Date:` and more fields, in many languages), `Begin forwarded
 *    message:`, a device line with more below it, or a quote header (`On <date>, <name> wrote:`
 *    and its forms in other languages and clients, see `quoteHeaderStart`) with the answered
 *    mail pasted below it unquoted. Measured on test/fixtures/trim-corpus/ (docs/TRIMMING.md).
 * 2. From the bottom, repeatedly: trailing quote blocks (`>` lines) with their attribution
 *    (`On <date>, <name> wrote:` over up to three lines, or any line ending in `:` that names a
 *    date or an address), a signature after a `-- ` delimiter, a device line (`Sent from my
 *    iPhone`), a mailing-list footer after an underscore rule, and a dash sign-off (`-Jane`).
 * 3. From the top, one leading quote block with its attribution (bottom-posting) when the new
 *    text below it is in one piece. A bare leading quote with no attribution is the passage the
 *    customer answers and stays; so do quotes that alternate with new text (inline answers).
 */

export interface TrimmedReply {
  /** The new text, in order. */
  visible: string[];
  /** Everything trimmed, in order; a blank line separates pieces that were not adjacent. */
  quoted: string[];
}

type Kind = 'blank' | 'quote' | 'text' | 'code';

const QUOTE_LINE = /^>/;
const ATTRIBUTION_END =
  /(?:\bwrote|\bwrites|\bschrieb|a écrit|escribió|ha scritto|escreveu|schreef|\bskrev|kirjoitti|napisał(?:\(a\))?|\bpisze|пишет|написала?|написал\(а\)|写道|寫道|작성|のメッセージ)\s{0,3}[:：]\s{0,3}$/iu;
const ATTRIBUTION_START = /^(?:on|le|am|el|il|em|op|den|dnia|w dniu|pe|ma|ti|ke|to|la|su|в)\s/i;
const DATE_OR_ADDRESS = /@|<[^<>]{0,200}>|\d{1,2}[:.]\d{2}|\b\d{4}\b/;
const SEPARATOR_RULE = /^[\s_\-=*–—]{3,}$/;
const ORIGINAL_MESSAGE =
  /^[\s\-_=*]{0,20}(?:original message|reply message|forwarded message|antwort nachricht|oprindelig besked|ursprüngliche nachricht|weitergeleitete nachricht|message d'origine|message transféré|mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato|oorspronkelijk bericht|doorgestuurd bericht|oprindelig meddelelse|videresendt meddelelse|opprinnelig melding|ursprungligt meddelande|vidarebefordrat meddelande|alkuperäinen viesti|исходное сообщение|пересылаемое сообщение|переслане повідомлення|原始邮件|原始郵件|転送メッセージ|元のメッセージ)[\s\-_=*:]{0,20}$/i;
const FORWARDED = /^begin forwarded message:?$/i;
/** A verb that ends or carries a quote header, in the languages clients write them in. */
const HEADER_VERB =
  /(?:\bwrote|\bwrites|\bsent|schrieb|schreef|geschreven|\bskrev|a écrit|escribió|ha escrit|ha scritto|escreveu|napisał(?:\(a\))?|\bpisze|пишет|написала?|написал\(а\)|написав|kirjoitti|写道|寫道|작성|のメッセージ|đã viết|yazdı)/iu;
const HEADER_VERB_END = new RegExp(`${HEADER_VERB.source}\\s{0,3}[-–—]*$`, 'iu');
const HEADER_TIME = /\b\d{1,2}[:.h]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b/i;
const HEADER_DATE = /\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b/;
const HEADER_ADDRESS = /[^\s@<>()[\]]+@[^\s@<>()[\]]+\.[^\s@<>()[\]]+|<[^<>\s]+>/;
/** Gmail's `2014-03-20 8:48 GMT+01:00 Name <address>:`, also without the colon or the address. */
const ISO_DATE_LEAD = /^\d{4}[-/.]\s?\d{1,2}[-/.]\s?\d{1,2}\b/;
/** How a quote header's first line starts: a few words and then a date or time ("On Tue, Apr 11, 2017", "Le 23 janv.", "ср, 30 апр."). */
const HEADER_LEAD_WORDS = /^[-–—\s]*(?:[\p{L}][\p{L}'’]{0,11}[.,]?\s){1,3}\d/u;
/** ... or a date or time ("30.09.2017, 18.30,", "11:00 AM,", "2016. 11. 8.") ... */
const HEADER_LEAD_DATE = /^[-–—\s]*\d{1,4}(?:[-/.:]\s?\d{1,2}|\s?(?:am|pm)\b)/i;
/** ... or a name and an address ("Some One <one@example.com> wrote:") ... */
const HEADER_LEAD_NAME = /^[„"“'(]?[\p{L}][\p{L}\p{N} .,'’"&-]{0,60}?\s?[<([]\s?[^\s@<>()]+@/u;
/** ... or a name between dash rules (Android's `---- John Smith wrote ----`). */
const HEADER_DASHED = new RegExp(`^[-–—]{2,}\\s?.{1,80}?\\s${HEADER_VERB.source}\\s?[-–—]{2,}$`, 'iu');
/** A wrapped address's closing line (`>:` or `> wrote:`), which is no quote. */
const ADDRESS_CLOSE = new RegExp(`^>\\s{0,2}(?:${HEADER_VERB.source})?\\s{0,2}[:：]?$`, 'iu');
/** A header field line just above a header block (`Message du : 12/12/2016 13:20`). */
const HEADER_LABEL = /^[\p{L}][\p{L} ']{0,25}\s?[:：]\s*\S/u;
/** New text and a quote header on one line: `reply On Wed, Apr 4, 2012 at 3:59 PM, bob wrote:`. */
const SHARED_HEADER = /^(.*?[^\s-])(?:\s+|\s*-{2,}\s*)(On\s.{5,200}\b(?:wrote|sent)[:：])$/;
const MAX_HEADER_CHARS = 300;
const MAX_HEADER_SPAN = 6;
const HEADER_FROM =
  /^[*_]{0,2}(?:from|de|von|van|da|od|fra|från|mistä|от|від|kimden|發件人|发件人|寄件者|送信者|差出人|보낸 사람)[*_]{0,2}\s{0,2}[:：][*_]{0,2}\s{0,3}\S/iu;
const HEADER_OTHER =
  /^[*_]{0,2}(?:sent|date|to|cc|subject|dato|sujet|copie à|envoyé|date d'envoi|à|objet|gesendet|datum|an|betreff|enviado|fecha|para|asunto|inviato|data|oggetto|a|verzonden|aan|onderwerp|sendt|til|emne|skickat|till|ämne|отправлено|дата|кому|тема|надіслано|发送时间|收件人|主题|時間|收件者|主旨|送信日時|宛先|件名|日付|보낸 날짜|받는 사람|제목)[*_]{0,2}\s{0,2}[:：]/iu;
/** A header block may open with its date instead of its sender (`Date:` then `To:`). */
const HEADER_DATE_FIELD =
  /^[*_]{0,2}(?:date|sent|dato|datum|fecha|data|envoyé|gesendet|skickat|sendt|verzonden)[*_]{0,2}\s{0,2}[:：][*_]{0,2}\s{0,3}\S/iu;
/** The delimiter only: a lone em dash is a separator people type, and what follows stays. */
const SIGNATURE_DELIMITER = /^(?:--|-- )$/;
const DEVICE_SIGNATURE =
  /^(?:sent from (?:my |a |an )?|sent with |sent via |get outlook for |envoyé de mon |envoyé depuis |envoyé à partir de |gesendet von |gesendet mit |von meinem |enviado desde (?:mi )?|enviado do meu |inviato da(?:l| mio)? |verzonden (?:vanaf|met) |verstuurd vanaf |sendt fra |skickat från |lähetetty |отправлено с |надіслано з )/i;
const LIST_FOOTER_RULE = /^(?:_{10,}|-{10,}|={10,})$/;
const DASH_SIGN_OFF = /^-{1,2}\s?[\p{Lu}][\p{L}.'’-]{0,30}(?: [\p{Lu}][\p{L}.'’-]{0,30}){0,3}$/u;

/** Signature region limits: a real signature is short. */
const MAX_SIGNATURE_LINES = 12;
const MAX_FOOTER_LINES = 6;
const MAX_DEVICE_WORDS = 8;

/**
 * Trims `lines` (one entry per line). `view` gives the text to classify (for Markdown converted
 * from HTML: without our escape markers); `isCode` marks lines that are code and never trimmed.
 */
export const trimReply = (
  lines: readonly string[],
  view: (line: string) => string = (line) => line,
  isCode: (line: string) => boolean = () => false,
): TrimmedReply => {
  const split = splitSharedHeaders(lines, view, isCode);
  if (split !== undefined) return trimReply(split, view, isCode);
  const texts = lines.map((line) => (isCode(line) ? '' : view(line).trim()));
  const kinds: Kind[] = lines.map((line, index) => {
    if (isCode(line)) return 'code';
    const text = texts[index] ?? '';
    if (text === '') return 'blank';
    return QUOTE_LINE.test(text) ? 'quote' : 'text';
  });
  // A wrapped address closed on the next line (`<one@example.com` then `>:`) is header, not quote.
  // Polymail puts a blank line and a `<` of its own in it: the count runs over a few lines.
  let open = 0;
  let openAt = -1;
  for (let index = 0; index < kinds.length; index++) {
    const current = texts[index] ?? '';
    if (kinds[index] === 'blank') continue;
    if (index - openAt > 3) open = 0;
    if (kinds[index] === 'quote' && open > 0 && ADDRESS_CLOSE.test(current)) kinds[index] = 'text';
    if (kinds[index] !== 'text') {
      open = 0;
      continue;
    }
    open = Math.max(0, open + countOf(current, '<') - countOf(current, '>'));
    if (open > 0) openAt = index;
  }
  // A quoted line the sender's client wrapped without its `>`: a line between two quote lines
  // that goes on where the one above stopped (lower case or a link's tail, under a long line or
  // a link). An answer written between quotes starts a sentence of its own.
  for (let index = 1; index < kinds.length - 1; index++) {
    if (kinds[index] !== 'text' || kinds[index - 1] !== 'quote' || kinds[index + 1] !== 'quote') continue;
    const current = texts[index] ?? '';
    const above = texts[index - 1] ?? '';
    const link = /https?:\/\/|\(/.test(above) || /https?:\/\//.test(current);
    if (/^[\p{Ll}(_)]/u.test(current) && (above.length >= 50 || link)) kinds[index] = 'quote';
  }
  const text = (index: number): string => texts[index] ?? '';
  const kind = (index: number): Kind => kinds[index] ?? 'blank';
  const nextNonBlank = (index: number): number => {
    let next = index + 1;
    while (next < lines.length && kind(next) === 'blank') next++;
    return next;
  };
  const textBefore = (index: number): boolean => {
    for (let before = index - 1; before >= 0; before--)
      if (kind(before) === 'text' || kind(before) === 'code') return true;
    return false;
  };

  // 1. An embedded message ends the reply.
  let end = lines.length;
  for (let index = 0; index < lines.length; index++) {
    if (kind(index) !== 'text') continue;
    let found: number | undefined;
    if (ORIGINAL_MESSAGE.test(text(index)) || FORWARDED.test(text(index))) found = index;
    else if (isHeaderBlock(index, text, kind)) {
      // With the header-like lines just above it (`Message du : 12/12/2016 13:20`).
      found = index;
      while (
        found > 0 &&
        index - found < 2 &&
        kind(found - 1) === 'text' &&
        HEADER_LABEL.test(text(found - 1)) &&
        (HEADER_DATE.test(text(found - 1)) || HEADER_TIME.test(text(found - 1)))
      ) {
        found--;
      }
    } else if (isDeviceLine(text(index)) && textBefore(index) && nextNonBlank(index) < lines.length) {
      // A device line with more below it: what follows is the mail answered, unquoted.
      found = index;
    } else {
      // A quote header with the mail it introduces pasted below, unquoted (or nothing below).
      const header = quoteHeaderStart(index, text, kind);
      if (header !== undefined && textBefore(header) && kind(nextNonBlank(index)) !== 'quote') found = header;
    }
    if (found !== undefined) {
      end = found;
      while (
        end > 0 &&
        (kind(end - 1) === 'blank' || (kind(end - 1) === 'text' && SEPARATOR_RULE.test(text(end - 1))))
      ) {
        end--;
      }
      break;
    }
  }

  // 2. From the bottom: quotes with their attribution, signatures, footers.
  let bottom = end;
  const skipBlanks = (at: number): number => {
    let position = at;
    while (position > 0 && kind(position - 1) === 'blank') position--;
    return position;
  };
  for (;;) {
    const last = skipBlanks(bottom);
    if (last === 0) {
      bottom = 0;
      break;
    }
    const lastIndex = last - 1;
    if (kind(lastIndex) === 'quote') {
      let start = lastIndex;
      while (start > 0 && (kind(start - 1) === 'quote' || kind(start - 1) === 'blank')) start--;
      bottom = start;
      const attribution = attributionStart(skipBlanks(bottom) - 1, text, kind, true);
      if (attribution !== undefined) bottom = attribution;
      continue;
    }
    const attribution = attributionStart(lastIndex, text, kind, false);
    if (attribution !== undefined) {
      bottom = attribution;
      continue;
    }
    const signature = signatureStart(last, text, kind);
    if (signature !== undefined) {
      bottom = signature;
      continue;
    }
    bottom = last;
    break;
  }

  // 3. From the top: one leading quote block, unless the answer is interleaved with quotes.
  let top = 0;
  while (top < bottom && kind(top) === 'blank') top++;
  const leadingEnd = leadingQuoteEnd(top, bottom, text, kind);
  if (leadingEnd !== undefined) {
    let next = leadingEnd;
    while (next < bottom && kind(next) === 'blank') next++;
    let interleaved = false;
    for (let index = next; index < bottom; index++) {
      if (kind(index) === 'quote') {
        interleaved = true;
        break;
      }
    }
    if (!interleaved && next < bottom) top = next;
  }

  let visibleStart = top;
  let visibleEnd = bottom;
  while (visibleStart < visibleEnd && kind(visibleStart) === 'blank') visibleStart++;
  while (visibleEnd > visibleStart && kind(visibleEnd - 1) === 'blank') visibleEnd--;
  const visible = lines.slice(visibleStart, visibleEnd);
  const before = lines.slice(0, visibleStart);
  const after = lines.slice(visibleEnd);
  const trimmedBefore = trimBlankEdges(before, kind, 0);
  const trimmedAfter = trimBlankEdges(after, kind, visibleEnd);
  const quoted =
    trimmedBefore.length > 0 && trimmedAfter.length > 0
      ? [...trimmedBefore, '', ...trimmedAfter]
      : [...trimmedBefore, ...trimmedAfter];
  return { visible, quoted };
};

const trimBlankEdges = (lines: string[], kind: (index: number) => Kind, offset: number): string[] => {
  let start = 0;
  let end = lines.length;
  while (start < end && kind(offset + start) === 'blank') start++;
  while (end > start && kind(offset + end - 1) === 'blank') end--;
  return lines.slice(start, end);
};

/**
 * An Outlook-style header block: a `From:` line followed, within the next lines, by at least one
 * more header field (`Sent:`, `To:`, `Subject:` ...), in any of the languages clients use.
 */
const isHeaderBlock = (
  index: number,
  text: (index: number) => string,
  kind: (index: number) => Kind,
): boolean => {
  if (!HEADER_FROM.test(text(index)) && !HEADER_DATE_FIELD.test(text(index))) return false;
  for (let next = index + 1; next <= index + 4; next++) {
    if (kind(next) !== 'text') return false;
    if (HEADER_OTHER.test(text(next))) return true;
  }
  return false;
};

/**
 * Where the attribution that ends at `index` starts, if the line at `index` ends one:
 * `On <date>, <name> wrote:` possibly wrapped over three lines, or (`beforeQuote`) any line
 * ending in `:` that names a date or an address just above a quote block.
 */
const attributionStart = (
  index: number,
  text: (index: number) => string,
  kind: (index: number) => Kind,
  beforeQuote: boolean,
): number | undefined => {
  if (index < 0 || kind(index) !== 'text') return undefined;
  const header = quoteHeaderStart(index, text, kind);
  if (header !== undefined) return header;
  const line = text(index);
  const explicit = ATTRIBUTION_END.test(line);
  const generic = beforeQuote && /[:：]$/.test(line) && DATE_OR_ADDRESS.test(line);
  if (!explicit && !generic) return undefined;
  let start = index;
  if (!ATTRIBUTION_START.test(line)) {
    while (start > 0 && index - start < 2 && kind(start - 1) === 'text') {
      const previous = text(start - 1);
      if (ATTRIBUTION_START.test(previous)) {
        start--;
        break;
      }
      if (!DATE_OR_ADDRESS.test(previous)) break;
      start--;
    }
  }
  return start;
};

/** Where a signature that ends the text at `last` (exclusive) starts, if there is one. */
const signatureStart = (
  last: number,
  text: (index: number) => string,
  kind: (index: number) => Kind,
): number | undefined => {
  const lastText = text(last - 1);
  // A device line: "Sent from my iPhone", short and without a sentence in it.
  if (isDeviceLine(lastText)) return last - 1;
  // A dash sign-off on its own paragraph: "-Abhishek Kona".
  if (DASH_SIGN_OFF.test(lastText) && (last - 1 === 0 || kind(last - 2) === 'blank')) return last - 1;
  // A `-- ` delimiter or a list footer rule, a few lines up.
  let seen = 0;
  for (let index = last - 1; index >= 0 && seen < MAX_SIGNATURE_LINES; index--) {
    const current = kind(index);
    if (current === 'code' || current === 'quote') return undefined;
    if (current === 'blank') continue;
    seen++;
    const line = text(index);
    if (SIGNATURE_DELIMITER.test(line) && index > 0) return index;
    if (LIST_FOOTER_RULE.test(line) && seen <= MAX_FOOTER_LINES && index > 0) return index;
  }
  return undefined;
};

/**
 * The end (exclusive) of a quote block at the very top: an attribution and its `>` lines, or
 * just `>` lines.
 */
const leadingQuoteEnd = (
  top: number,
  bottom: number,
  text: (index: number) => string,
  kind: (index: number) => Kind,
): number | undefined => {
  let index = top;
  // A bare quote with no attribution is a passage the customer picked to answer: context, kept.
  if (kind(index) !== 'text') return undefined;
  {
    // An attribution of up to three lines whose last line ends the attribution.
    let found: number | undefined;
    for (let end = index; end < Math.min(bottom, index + 3); end++) {
      if (kind(end) !== 'text') break;
      if (ATTRIBUTION_END.test(text(end))) {
        found = end;
        break;
      }
    }
    if (found === undefined || !ATTRIBUTION_START.test(text(index))) return undefined;
    index = found + 1;
    while (index < bottom && kind(index) === 'blank') index++;
  }
  if (index >= bottom || kind(index) !== 'quote') return undefined;
  while (index < bottom && (kind(index) === 'quote' || kind(index) === 'blank')) index++;
  return index;
};

const countOf = (line: string, character: string): number => {
  let count = 0;
  for (let at = line.indexOf(character); at !== -1; at = line.indexOf(character, at + 1)) count++;
  return count;
};

/** Whether the next non-blank line after `index` is a quote line. */
const quoteFollows = (lines: readonly string[], index: number): boolean => {
  let next = index + 1;
  while (next < lines.length && (lines[next] ?? '').trim() === '') next++;
  return /^>/.test((lines[next] ?? '').trim());
};

/** A device line: "Sent from my iPhone", short and without a sentence in it. */
const isDeviceLine = (line: string): boolean =>
  DEVICE_SIGNATURE.test(line) &&
  line.split(/\s+/).length <= MAX_DEVICE_WORDS &&
  !/[,;]/.test(line) &&
  !/[.!?]\s/.test(line);

/** Whether a line can open a quote header (see the HEADER_LEAD patterns). */
const opensHeader = (line: string): boolean =>
  HEADER_LEAD_WORDS.test(line) ||
  HEADER_LEAD_DATE.test(line) ||
  HEADER_LEAD_NAME.test(line) ||
  HEADER_DASHED.test(line);

/** Whether `joined` (a header's lines, joined by spaces) reads as a quote header. */
const isQuoteHeader = (joined: string): boolean => {
  if (joined.length > MAX_HEADER_CHARS) return false;
  if (HEADER_DASHED.test(joined)) return true;
  const dated = HEADER_DATE.test(joined) || HEADER_TIME.test(joined);
  const addressed = HEADER_ADDRESS.test(joined);
  if (ISO_DATE_LEAD.test(joined) && HEADER_TIME.test(joined) && (addressed || /\bGMT\b/.test(joined)))
    return true;
  if (ISO_DATE_LEAD.test(joined) && addressed && /[>:：]$/.test(joined)) return true;
  const closed = /[:：]$/.test(joined) || HEADER_VERB_END.test(joined);
  if (!closed || !(dated || addressed)) return false;
  return HEADER_VERB.test(joined) || (dated && addressed);
};

/**
 * Where the quote header whose last line is `index` starts, if it is one: `On <date>, <name>
 * wrote:` and its kin in other languages and clients, wrapped over a few lines (blank lines
 * allowed, as Polymail writes them). The nearest line that can open a header wins.
 */
const quoteHeaderStart = (
  index: number,
  text: (index: number) => string,
  kind: (index: number) => Kind,
): number | undefined => {
  if (kind(index) !== 'text') return undefined;
  const last = text(index);
  if (last.length > MAX_HEADER_CHARS) return undefined;
  if (!/[:：>]$/.test(last) && !HEADER_VERB_END.test(last) && !ISO_DATE_LEAD.test(last)) return undefined;
  let joined = '';
  let textLines = 0;
  for (let start = index; start >= 0 && index - start < MAX_HEADER_SPAN; start--) {
    const current = kind(start);
    if (current === 'blank') continue;
    if (current !== 'text') return undefined;
    const line = text(start);
    textLines++;
    if (textLines > 4 || (start < index && line.length > 100)) return undefined;
    joined = joined === '' ? line : `${line} ${joined}`;
    if (joined.length > MAX_HEADER_CHARS) return undefined;
    if (opensHeader(line) && isQuoteHeader(joined)) return start;
  }
  return undefined;
};

/**
 * The lines with each line that ends in a quote header after new text (just above a quote)
 * split in two, or `undefined` when there is none. Lines with markers or code are left alone.
 */
const splitSharedHeaders = (
  lines: readonly string[],
  view: (line: string) => string,
  isCode: (line: string) => boolean,
): string[] | undefined => {
  let out: string[] | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    // Cheap tests first: the pattern only runs on a line that ends like a header.
    const candidate =
      line.includes('On ') &&
      /\b(?:wrote|sent)[:：]\s*$/.test(line) &&
      /[^\s-][\s-]+On\s/.test(line) &&
      !isCode(line) &&
      view(line) === line;
    const match = candidate ? SHARED_HEADER.exec(line.trim()) : null;
    if (
      match?.[1] !== undefined &&
      match[2] !== undefined &&
      quoteFollows(lines, index) &&
      !/^>/.test(match[1]) &&
      isQuoteHeader(match[2])
    ) {
      out ??= lines.slice(0, index);
      out.push(match[1], match[2]);
    } else if (out !== undefined) {
      out.push(line);
    }
  }
  return out;
};
