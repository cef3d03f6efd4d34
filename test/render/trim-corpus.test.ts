import { describe, expect, it } from 'vitest';
import { isExact, keepsReply, loadTrimCorpus, postdeskReply, type TrimCase } from './trim-corpus.ts';

/**
 * Reply trimming measured on a corpus it was not written against: 219 cases from six public
 * projects' test suites (test/fixtures/trim-corpus/MANIFEST.md), each with the visible reply the
 * upstream tests assert. The score is a floor, the one measured when it was last raised, so it
 * cannot regress; `bench/trim-compare.ts` scores planer and email-reply-parser on the same cases.
 */

/** Exact matches measured; raise it when the trimmer gets better, never lower it. */
const EXACT_FLOOR = 202;

/**
 * Cases where the upstream expectation keeps what Postdesk hides by design, each contradicted by
 * another source or by Postdesk's own expectations (test/fixtures/mail/render/expected/). The
 * list is exact: a new case that hides text fails the test, and so does one that stops hiding.
 */
const KNOWN_CONFLICTS = [
  // talon keeps the whole of a forward below "FYI"; discourse's forwarded_gmail, the same shape,
  // expects only the text above the forward, and so does Postdesk.
  'talon/test_dont_parse_quotations_for_forwarded_messages#1',
  // talon's extract_from_plain keeps signatures ("Sent from my iPhone", a `-- ` block); github's
  // parser and its ports hide them, and so do talon-iphone.txt and talon-sparrow.txt.
  'talon/standard_replies/iphone.eml',
  'talon/standard_replies/sparrow.eml',
];

const SOURCES = [
  'mailgun/talon',
  'github/email_reply_parser',
  'crisp-oss/email-reply-parser',
  'willdurand/EmailReplyParser',
  'zapier/email-reply-parser',
  'discourse/email_reply_trimmer',
];

describe('reply trimming on the upstream corpus', () => {
  const cases: TrimCase[] = loadTrimCorpus();

  it('has at least 150 cases from at least four sources, each with its provenance', () => {
    // Assess
    expect(cases.length).toBeGreaterThanOrEqual(150);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    expect([...new Set(cases.map((c) => c.source))].sort()).toEqual([...SOURCES].sort());
    for (const c of cases) {
      expect(c.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(['MIT', 'Apache-2.0']).toContain(c.licence);
      expect(c.path).not.toBe('');
      expect(c.input.trim()).not.toBe('');
    }
  });

  it(`trims at least ${EXACT_FLOOR} cases exactly as upstream expects`, () => {
    // Act
    const wrong = cases.filter((c) => !isExact(postdeskReply(c.input), c.expected)).map((c) => c.id);
    // Assess
    const exact = cases.length - wrong.length;
    console.info(
      JSON.stringify({ exact, cases: cases.length, pct: Math.round((1000 * exact) / cases.length) / 10 }),
    );
    expect(exact, `wrong:\n${wrong.join('\n')}`).toBeGreaterThanOrEqual(EXACT_FLOOR);
  });

  it('never hides customer text: every line of the expected reply is within what Postdesk shows', () => {
    // Act
    const lost = cases.filter((c) => !keepsReply(postdeskReply(c.input), c.expected)).map((c) => c.id);
    // Assess
    expect(lost).toEqual(KNOWN_CONFLICTS);
  });
});
