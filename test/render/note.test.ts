import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderNote } from '../../core/stages/render/index.ts';
import {
  attachment,
  CORPUS,
  limits,
  mail,
  original,
  parseFixture,
  project,
  RENDER_FIXTURES,
} from './support.ts';

const render = async (input: Partial<Parameters<typeof renderNote>[0]> = {}) => {
  const result = await renderNote({
    mail: mail(),
    project: project(),
    limits: limits(),
    internal: false,
    automated: false,
    ...input,
  });
  if (!result.ok) throw new Error(`expected a note, got ${result.reason}: ${result.message}`);
  return result;
};

/** The part of a note before its `<details>`, without the `**From:**` line. */
const visiblePart = (body: string): string =>
  body.split('\n<details>')[0]?.split('\n').slice(2).join('\n').trim() ?? '';
const quotedPart = (body: string): string =>
  /<details><summary>Quoted text<\/summary>\n\n([\s\S]*)\n\n<\/details>$/.exec(body)?.[1] ?? '';

describe('renderNote: trimming', () => {
  it('shows the new text and keeps the quote and signature in a collapsed details block', async () => {
    // Prepare
    const text =
      'Thanks, that fixed it!\n\n-- \nJane\n\nOn Mon, Jan 6, 2025 at 9:00 AM, Desk <desk@x.example> wrote:\n> Try /reopen and @all';
    // Act
    const { value } = await render({ mail: mail({ text }) });
    // Assess
    expect(value.body).toBe(
      [
        '**From:** Jane Doe',
        '',
        'Thanks, that fixed it\\!',
        '',
        '<details><summary>Quoted text</summary>',
        '',
        '--   ',
        'Jane',
        '',
        'On Mon, Jan 6, 2025 at 9:00 AM, Desk \\<desk@x.example\\> wrote:  ',
        '> Try /reopen and \\@all',
        '',
        '</details>',
      ].join('\n'),
    );
  });

  it.each(
    readdirSync(join(CORPUS, 'replies/talon/standard_replies')).filter((name) => name.endsWith('.eml')),
  )('trims the talon standard reply %s to its new text', async (file) => {
    const parsed = await parseFixture(join(CORPUS, 'replies/talon/standard_replies', file));
    const expected = readFileSync(
      join(RENDER_FIXTURES, 'expected', `talon-${file.replace(/\.eml$/, '.txt')}`),
      'utf8',
    );
    const { value } = await render({ mail: parsed });
    expect(visiblePart(value.body)).toBe(expected.trim());
    expect(quotedPart(value.body)).not.toBe('');
  });

  it.each(readdirSync(join(CORPUS, 'replies/talon/html_replies')))(
    'trims the HTML reply %s',
    async (file) => {
      // Prepare
      const html = readFileSync(join(CORPUS, 'replies/talon/html_replies', file), 'utf8');
      // Act
      const { value, reason } = await render({
        mail: mail({ text: undefined, html, contentType: 'text/html' }),
      });
      // Assess
      expect(reason).toBe('html_body');
      const visible = visiblePart(value.body);
      expect(visible).toMatch(/^Hi\. I am fine\./);
      expect(visible).not.toMatch(/How are you|From:|wrote/);
      expect(quotedPart(value.body)).toContain('Hello\\! How are you?');
    },
  );

  it.each([
    ['OLK_SRC_BODY_SECTION.html', 'Reply', 'Subject: Test'],
    ['reply-separated-by-hr.html', 'Hi\n\nthere\n\nBob', '**Subject:** Hello'],
  ])('trims the talon HTML reply misc/%s', async (file, visible, quoted) => {
    const html = readFileSync(join(CORPUS, 'replies/talon/misc', file), 'utf8');
    const { value } = await render({ mail: mail({ text: undefined, html, contentType: 'text/html' }) });
    expect(visiblePart(value.body)).toBe(visible);
    expect(quotedPart(value.body)).toContain(quoted);
  });

  it('shows a reply that is only a quote in full rather than nothing', async () => {
    const { value, detail } = await render({ mail: mail({ text: '> just the quote\n> again' }) });
    expect(value.body).toBe('**From:** Jane Doe\n\n> just the quote  \n> again');
    expect(detail?.['trim']).toBe('nothing_left_untrimmed');
  });
});

describe('renderNote: fields', () => {
  it('passes internal through and says when the mail was automated', async () => {
    const { value } = await render({ internal: true, automated: true });
    expect(value.internal).toBe(true);
    expect(value.body.split('\n')[0]).toBe('**From:** Jane Doe (automated message)');
  });

  it('rejects a reply with no text and no attachment, as GitLab raises EmptyEmailError', async () => {
    const result = await renderNote({
      mail: mail({ text: '  \n', html: '<p>&nbsp;</p>' }),
      project: project(),
      limits: limits(),
      internal: false,
      automated: false,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.outcome).toBe('rejected');
    expect(result.reason).toBe('empty_reply');
  });

  it('accepts a reply that is only an attachment', async () => {
    const { value } = await render({ mail: mail({ text: undefined, attachments: [attachment()] }) });
    expect(value.body).toBe('**From:** Jane Doe\n\n[report.pdf](postdesk-upload://0)');
    expect(value.uploads).toHaveLength(1);
  });

  it('lists attachments after the new text and before the quoted part', async () => {
    const { value } = await render({
      mail: mail({ text: 'See file.\n\n> old', attachments: [attachment()] }),
    });
    expect(value.body).toBe(
      '**From:** Jane Doe\n\nSee file.\n\n[report.pdf](postdesk-upload://0)\n\n<details><summary>Quoted text</summary>\n\n> old\n\n</details>',
    );
  });

  it('gives up the quoted part first when the note is too long', async () => {
    // Prepare
    const text = `Short answer.\n\n${'> quoted line of an old message\n'.repeat(400)}`;
    // Act
    const { value, detail } = await render({
      mail: mail({ text }),
      limits: limits({ max_description_chars: 3000 }),
      original: original(),
    });
    // Assess
    expect(value.body.length).toBeLessThan(3000);
    expect(value.body).toContain('Short answer.');
    expect(value.body).toContain(
      '**Truncated — the full mail is attached as [original.eml](postdesk-upload://0).**',
    );
    expect(value.body.endsWith('</details>')).toBe(true);
    expect(detail?.['truncated']).toBe(true);
  });
});
