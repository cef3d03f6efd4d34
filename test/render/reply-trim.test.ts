import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import EmailReplyParser from 'email-reply-parser';
import { describe, expect, it } from 'vitest';
import { trimReply } from '../../core/stages/render/reply-trim.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { CORPUS, parseFixture, RENDER_FIXTURES } from './support.ts';

/**
 * Reply trimming against hand-written expected outputs (test/fixtures/mail/render/expected/,
 * see its README): every reply body of github/email_reply_parser and the text part of every
 * talon standard reply. Our trimmer must get all of them right; email-reply-parser (crisp), the
 * library the peers review recommends, is scored on the same set for docs/RENDER.md.
 */

interface Case {
  name: string;
  input: string;
  expected: string;
}

/** Line ends, trailing white space and blank lines at the ends do not count. */
const normalise = (text: string): string => {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
};

const EXPECTED = join(RENDER_FIXTURES, 'expected');

const loadCases = async (): Promise<Case[]> => {
  const cases: Case[] = [];
  for (const file of readdirSync(EXPECTED)
    .filter((name) => name.endsWith('.txt'))
    .sort()) {
    const expected = readFileSync(join(EXPECTED, file), 'utf8');
    const erp = /^erp-(.+)\.txt$/.exec(file)?.[1];
    const talon = /^talon-(.+)\.txt$/.exec(file)?.[1];
    if (erp !== undefined) {
      const input = readFileSync(join(CORPUS, 'replies/email_reply_parser', `${erp}.txt`), 'utf8');
      cases.push({ name: `email_reply_parser/${erp}`, input, expected });
    } else if (talon !== undefined) {
      const mail = await parseFixture(join(CORPUS, 'replies/talon/standard_replies', `${talon}.eml`));
      cases.push({ name: `talon/${talon}`, input: mail.text ?? '', expected });
    }
  }
  return cases;
};

const ours = (input: string): string =>
  trimReply(input.replace(/\r\n?/g, '\n').split('\n')).visible.join('\n');
const crisp = (input: string): string => new EmailReplyParser().parseReply(input);

describe('reply trimming accuracy', () => {
  it('covers every reply fixture of the corpus except the 766 kB long quote', async () => {
    const cases = await loadCases();
    const bodies = readdirSync(join(CORPUS, 'replies/email_reply_parser')).filter(
      (name) => name !== 'email_long_quote.txt',
    );
    const talon = readdirSync(join(CORPUS, 'replies/talon/standard_replies')).filter((name) =>
      name.endsWith('.eml'),
    );
    expect(cases).toHaveLength(bodies.length + talon.length);
  });

  it('trims every fixture exactly as expected', async () => {
    // Prepare
    const cases = await loadCases();
    // Act
    const wrong = cases.filter((c) => normalise(ours(c.input)) !== normalise(c.expected)).map((c) => c.name);
    const crispWrong = cases
      .filter((c) => normalise(crisp(c.input)) !== normalise(c.expected))
      .map((c) => c.name);
    // Assess
    const share = (misses: number): string => `${cases.length - misses}/${cases.length}`;
    console.info(
      JSON.stringify({
        name: 'reply_trim_exact',
        postdesk: share(wrong.length),
        emailReplyParser: share(crispWrong.length),
        emailReplyParserWrong: crispWrong,
      }),
    );
    expect(wrong).toEqual([]);
  });

  it('keeps nothing back: visible and quoted together hold every non-blank line', async () => {
    for (const c of await loadCases()) {
      const lines = c.input.replace(/\r\n?/g, '\n').split('\n');
      const { visible, quoted } = trimReply(lines);
      const kept = [...visible, ...quoted].filter((line) => line.trim() !== '').length;
      expect(kept, c.name).toBe(lines.filter((line) => line.trim() !== '').length);
    }
  });

  it('trims the 766 kB long quote in linear time', () => {
    // Prepare
    const input = readFileSync(join(CORPUS, 'replies/email_reply_parser/email_long_quote.txt'), 'utf8');
    // Act
    const started = cpuMs();
    const { visible, quoted } = trimReply(input.split('\n'));
    const elapsed = cpuMs() - started;
    // Assess
    expect(elapsed).toBeLessThan(1000);
    expect(visible[0]).toBe('Hi folks');
    expect(visible[visible.length - 1]).toBe('I am currently using the Java HTTP API.');
    expect(quoted.join('\n')).toContain('riak-users mailing list');
  });

  it('keeps a "Sent from my" sentence that is not a device signature', () => {
    const { visible } = trimReply([
      'Here is another email',
      '',
      'Sent from my desk, is much easier then my mobile phone.',
    ]);
    expect(visible).toHaveLength(3);
  });

  it('keeps quotes an inline answer refers to, and trims the trailing ones', () => {
    // Prepare
    const lines = [
      'On Mon, Jan 6, 2025 at 9:00 AM, Desk <d@x.example> wrote:',
      '> Question one?',
      '',
      'Answer one.',
      '',
      '> Question two?',
      '',
      'Answer two.',
      '',
      '> Regards',
      '> Desk',
    ];
    // Act
    const { visible, quoted } = trimReply(lines);
    // Assess
    expect(visible).toEqual(lines.slice(0, 8));
    expect(quoted).toEqual(['> Regards', '> Desk']);
  });

  it('never trims code lines', () => {
    const { visible } = trimReply(
      ['see:', 'CODE> not a quote', '-- ', 'CODE still code'],
      (line) => line,
      (line) => line.startsWith('CODE'),
    );
    expect(visible).toEqual(['see:', 'CODE> not a quote', '-- ', 'CODE still code']);
  });
});
