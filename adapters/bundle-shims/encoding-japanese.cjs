'use strict';
/**
 * Stand-in for encoding-japanese in the Lambda bundles (scripts/bundle-options.ts aliases it here).
 *
 * libmime lib/charset.js requires it (~225 KB, tables built at load) for ISO-2022-JP file names;
 * when `convert` returns something that is not a string or array it falls through to iconv-lite
 * (the TextDecoder stand-in next to this file). The parse stage decodes charsets itself
 * (core/stages/parse/charset.ts), so the bundles never need the real package.
 */
module.exports = {
  convert() {
    return undefined;
  },
};
