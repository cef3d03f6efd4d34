'use strict';
/**
 * Stand-in for iconv-lite in the Lambda bundles (scripts/bundle-options.ts aliases it here).
 *
 * mailsplit requires libmime, whose charset module (libmime lib/charset.js) requires iconv-lite
 * (~480 KB of code tables) at its top, to decode a MIME part's file name. The parse stage never
 * reads that value: it reads the raw header lines and decodes charsets itself with TextDecoder
 * (core/stages/parse/charset.ts). libmime wraps each call in try/catch and falls back to UTF-8,
 * so this stand-in cannot break a parse; test/bench/bundle-aliases.test.ts checks that every
 * fixture parses to the same result with and without it.
 */
module.exports = {
  decode(buf, charset) {
    return new TextDecoder(String(charset)).decode(buf);
  },
  encodingExists(charset) {
    try {
      new TextDecoder(String(charset));
      return true;
    } catch {
      return false;
    }
  },
};
