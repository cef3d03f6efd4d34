import { evidence, headerValues } from '../headers.ts';
import type { ClassifyRule } from '../types.ts';

const BULK = new Set(['bulk', 'junk', 'list']);

/**
 * `Precedence` or `X-Precedence` is `bulk`, `junk` or `list`, case-insensitive (Zammad, FreeScout;
 * RFC 2076 §3.9). Newsletters and mailing lists; a project opts in with `accept_bulk`.
 */
export const precedenceBulk: ClassifyRule<'precedence_bulk'> = {
  reason: 'precedence_bulk',
  kind: 'bulk',
  test(mail) {
    for (const header of ['Precedence', 'X-Precedence']) {
      const value = headerValues(mail, header).find((candidate) => BULK.has(candidate.toLowerCase()));
      if (value !== undefined) return evidence(header, value);
    }
    return undefined;
  },
};
