import { Marker } from '../constants.ts';
import { defuseUploadScheme } from './escape.ts';

const V = Marker.verbatim;

/**
 * A fenced code block holding `code` literally, as marked Markdown: every line (fences included)
 * carries `Marker.verbatim`, so no later step treats code as a quick action, a quote or a
 * signature, and truncation can close a fence it cuts. Fence lines carry the marker twice.
 *
 * The fence is one backtick longer than any backtick run in the code, so nothing inside can close
 * it; customer code can never escape into Markdown.
 */
export const fencedBlock = (code: string, info = ''): string => {
  let end = code.length;
  while (end > 0 && code.charCodeAt(end - 1) === 10) end--;
  const body = code.slice(0, end);
  let longest = 0;
  for (const run of body.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  const language = /^[A-Za-z0-9_+.#-]{1,32}$/.test(info) ? info : '';
  const lines = body === '' ? [] : body.split('\n').map((line) => V + defuseUploadScheme(line));
  return [`${V}${V}${fence}${language}`, ...lines, `${V}${V}${fence}`].join('\n');
};
