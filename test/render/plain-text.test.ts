import { describe, expect, it } from 'vitest';
import { Marker } from '../../core/stages/render/constants.ts';
import { finalize } from '../../core/stages/render/markdown/finalize.ts';
import { renderPlainText } from '../../core/stages/render/plain-text.ts';

const render = (text: string): string => finalize(renderPlainText(text));

describe('renderPlainText', () => {
  it('keeps the line breaks of a plain-text mail as hard breaks, and one blank line between paragraphs', () => {
    expect(render('\n\nJane Doe\nACME Corp\n\n\n\nBerlin\n\n')).toBe('Jane Doe  \nACME Corp\n\nBerlin');
  });

  it('keeps quote markers and list markers as written', () => {
    expect(render('> quoted\n> > nested\n- one\n* two\n3. three')).toBe(
      '> quoted  \n> > nested  \n- one  \n* two  \n3. three',
    );
  });

  it('stops a line of dashes or equals signs from turning the line above into a heading', () => {
    expect(render('Title\n=====\nSub\n-----')).toBe('Title  \n\\=====  \nSub  \n\\-----');
  });

  it('re-emits a fenced block as our own fence, closing an unclosed one', () => {
    expect(render('Log:\n  ~~~ js\n  a ``` b\n  ```\n')).toBe('Log:\n\n````js\na ``` b\n```\n````');
  });

  it('turns indented lines after a blank line into a code block', () => {
    expect(render('Run:\n\n    make @all\n\tnpm test\n\nDone.')).toBe(
      'Run:\n\n```\nmake @all\nnpm test\n```\n\nDone.',
    );
  });

  it('keeps code spans literal and escapes around them', () => {
    expect(render('use `a_b @c` for *x*')).toBe('use `a_b @c` for \\*x\\*');
  });

  it('shows <https://…> links as autolinks, not escaped brackets', () => {
    expect(render('Site <https://example.com/x_y> and https://example.org.')).toBe(
      'Site <https://example.com/x_y> and <https://example.org>.',
    );
  });

  it('treats a code line that Markdown would not read as code as text (defence in depth)', () => {
    // Prepare: a fence glued to text, then its content line: not code for Markdown.
    const V = Marker.verbatim;
    const marked = `**${V}${V}\`\`\`\n${V}/close @all\n${V}${V}\`\`\``;
    // Act
    const out = finalize(marked);
    // Assess
    expect(out).toBe('**\\`\\`\\`\n`/close @all`\n```');
  });
});
