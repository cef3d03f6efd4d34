import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParsedMail } from '../../core/model.ts';
import { renderIssue, renderNote } from '../../core/stages/render/index.ts';
import { cpuMs } from '../support/cpu-time.ts';
import {
  attachment,
  CORPUS,
  injected,
  limits,
  liveMentions,
  mail,
  parseFixture,
  project,
  quickActionLines,
  RENDER_FIXTURES,
  toHtml,
} from './support.ts';

const render = async (parsed: ParsedMail) => {
  const result = await renderIssue({ mail: parsed, project: project(), limits: limits() });
  if (!result.ok) throw new Error(`expected a draft, got ${result.reason}`);
  return result;
};

const OFFICE_JUNK = /mso-|@font-face|panose|MsoNormal|<\/?o:p>|behavior:url|\{font-family|<!--|<style|<xml/i;

describe('body choice', () => {
  it('prefers text/plain when it is usable (GitLab does too)', async () => {
    const result = await render(mail({ text: 'Plain words.', html: '<p>HTML words.</p>' }));
    expect(result.reason).toBe('text_body');
    expect(result.value.description).toContain('Plain words.');
  });

  it.each([
    ['blank', ' \n\t\n', 'text_blank'],
    ['a "view in browser" stub', 'View this email in your browser: https://x.example/v', 'text_stub'],
    [
      'a MIME structure that leaked (GitLab sanity check)',
      'Content-Type: multipart/alternative; boundary=x',
      'text_mime_leak',
    ],
    ['the HTML markup itself', '<html><body><p>HTML words.</p><br></body></html>', 'text_is_markup'],
  ])('uses the HTML when the text part is %s', async (_label, text, why) => {
    const result = await render(mail({ text, html: '<p>HTML words.</p>' }));
    expect(result.reason).toBe('html_body');
    expect(result.detail?.['textRejected']).toBe(why);
    expect(result.value.description).toContain('HTML words.');
  });

  it('keeps a degenerate text part when there is no HTML', async () => {
    const result = await render(mail({ text: 'Content-Type: text/plain pasted by the customer' }));
    expect(result.reason).toBe('text_body');
  });
});

describe('HTML-only Outlook mail with a data table', () => {
  it('keeps the table as a GFM table and drops Office debris, the hidden preview and the tracking pixel', async () => {
    // Prepare
    const parsed = await parseFixture(join(RENDER_FIXTURES, 'outlook-data-table.eml'));
    // Act
    const { value, reason } = await render(parsed);
    // Assess
    expect(reason).toBe('html_body');
    expect(value.title).toBe('Invoice discrepancy for order 4471 - table attached below');
    expect(value.description).toContain(
      [
        '| **Item** | **Ordered** | **Invoiced** |',
        '| --- | --- | --- |',
        '| Controller (black) | 2 | 3 |',
        '| Charging dock \\| USB-C | 1 | 1 |',
      ].join('\n'),
    );
    expect(value.description).not.toMatch(OFFICE_JUNK);
    expect(value.description).not.toContain('Internal preview');
    expect(value.description).not.toContain('tracking.contoso.example');
    expect(value.description).toContain('ticket \\#4471');
    // The signature is a one-column layout table: unwrapped into paragraphs.
    expect(value.description).toContain(
      '**Renée Fischer**\n\nPurchasing \\| Contoso GmbH\n\nTel. +49 30 1234567',
    );
  });
});

describe('layout tables', () => {
  it('unwraps a newsletter layout and keeps its one data table', async () => {
    const parsed = await parseFixture(join(RENDER_FIXTURES, 'newsletter-layout.eml'));
    const { value } = await render(parsed);
    expect(value.description.match(/^\| --- /gm)).toHaveLength(1);
    expect(value.description).toContain('| Game | Price | Platform |');
    expect(value.description).toContain('# January picks');
    expect(value.description).toContain('[Unsubscribe](https://store.example/unsubscribe?u=4471)');
    expect(value.description).not.toMatch(/preheader|pixel\.store|@media|font-size/i);
  });

  it('treats single-column, single-row and role=presentation tables as layout', async () => {
    const html =
      '<table><tr><td>one</td></tr><tr><td>two</td></tr></table>' +
      '<table><tr><td>a</td><td>b</td></tr></table>' +
      '<table role="presentation"><tr><th>h1</th><th>h2</th></tr><tr><td>c</td><td>d</td></tr></table>';
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).not.toContain('---');
    expect(value.description.split('\n\n').slice(1)).toEqual(['one', 'two', 'a', 'b', 'h1', 'h2', 'c', 'd']);
  });

  it('pads ragged rows and spans, and uses the first row as the header', async () => {
    const html =
      '<table><tr><th>k</th><th>v</th><th>w</th></tr><tr><td colspan="2">wide</td><td>x</td></tr><tr><td>1</td><td>2</td><td>3</td></tr></table>';
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).toContain(
      '| k | v | w |\n| --- | --- | --- |\n| wide |   | x |\n| 1 | 2 | 3 |',
    );
  });
});

describe('images', () => {
  it('shows inline cid: images in place (nodemailer.eml) and lists only the other attachments', async () => {
    // Prepare
    const parsed = await parseFixture(join(CORPUS, 'emails/mailparser/nodemailer.eml'));
    // Act
    const { value, detail } = await render(parsed);
    // Assess
    expect(detail?.['textRejected']).toBe('html_has_inline_images');
    expect(value.uploads.map((plan) => [plan.filename, plan.inline])).toEqual([
      ['attachment-1.html', false],
      ['image.png', true],
      ['nyan cat ✔.gif', true],
      ['notes.txt', false],
    ]);
    expect(value.description).toContain('**Hello** to myself ![image.png](postdesk-upload://1)');
    expect(value.description).toContain('![nyan cat ✔.gif](postdesk-upload://2)');
    expect(value.description.match(/postdesk-upload:\/\/1\)/g)).toHaveLength(1);
    expect(value.description).toContain('[notes.txt](postdesk-upload://3)');
  });

  it('matches Content-IDs raw, percent-encoded and case-folded', async () => {
    const attachments = [
      attachment({
        index: 0,
        filename: 'a.png',
        contentType: 'image/png',
        contentId: 'Part1.ABC@Example.com',
      }),
      attachment({ index: 1, filename: 'b.png', contentType: 'image/png', contentId: 'image 2@x' }),
      attachment({ index: 2, filename: 'c.png', contentType: 'image/png', contentId: '<c@x>' }),
    ];
    const html =
      '<p><img src="cid:part1.abc%40example.COM" alt="first"> <img src="CID:image%202@x"> <img src="cid:c@x"></p>';
    const { value } = await render(mail({ text: undefined, html, attachments }));
    expect(value.uploads.every((plan) => plan.inline)).toBe(true);
    expect(value.description).toContain(
      '![first](postdesk-upload://0) ![b.png](postdesk-upload://1) ![c.png](postdesk-upload://2)',
    );
  });

  it('drops tracking pixels and hidden images, links remote images, keeps data: images as alt text', async () => {
    const html =
      '<p>Hi <img src="https://t.example/o.gif" width="1" height="1"> <img src="https://t.example/h.gif" style="display:none">' +
      '<img src="https://img.example/chart.png" alt="chart"> <img src="data:image/png;base64,AAAA" alt="logo"></p>';
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).toMatch(/Hi +\[chart\]\(https:\/\/img\.example\/chart\.png\) logo/);
    expect(value.description).not.toContain('t.example');
  });
});

describe('hidden text', () => {
  it('drops preheaders hidden by display, visibility, max-height, opacity, mso-hide and font-size', async () => {
    const html = [
      '<div style="display:none">A</div>',
      '<span style="visibility: hidden">B</span>',
      '<div style="max-height:0;overflow:hidden">C</div>',
      '<div style="opacity:0">D</div>',
      '<div style="mso-hide:all">E</div>',
      '<div style="font-size:0px;line-height:0">F</div>',
      '<div class="preheader">G</div>',
      '<div hidden>H</div>',
      '<p>Visible</p>',
      '<div style="font-size:0"><span style="font-size:14px">Inline blocks</span></div>',
    ].join('');
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).toBe('**From:** Jane Doe\n\nVisible\n\nInline blocks');
  });
});

describe('code and links', () => {
  it('keeps <pre> as a fenced block that its content cannot close, and inline code as code', async () => {
    const html =
      '<p>Run <code>make @all</code>:</p><pre><code class="language-sh">echo ```\n/close\n</code></pre>';
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).toContain('Run `make @all`\\:');
    expect(value.description).toContain('````sh\necho ```\n/close\n````');
    expect(quickActionLines(value.description)).toEqual([]);
  });

  it('writes a link whose text is its address as an autolink, and mailto: as the address', async () => {
    const html =
      '<p><a href="https://x.example/a_b">https://x.example/a_b</a> <a href="mailto:jane@example.com">jane@example.com</a></p>';
    const { value } = await render(mail({ text: undefined, html }));
    expect(value.description).toContain('<https://x.example/a_b> jane@example.com');
  });
});

describe('hostile HTML', () => {
  it('does not convert the 570 kB htmllargecallstack.eml: too large, said in the trace', async () => {
    const parsed = await parseFixture(join(CORPUS, 'emails/mailparser/htmllargecallstack.eml'));
    const started = cpuMs();
    const result = await render(parsed);
    expect(cpuMs() - started).toBeLessThan(2000);
    expect(result.detail?.['htmlRejected']).toBe('html_too_large');
    expect(result.value.description.length).toBeLessThan(limits().max_description_chars);
  });

  it('falls back to the stripped text of the 1.1 MB outofmemory.eml', async () => {
    const parsed = await parseFixture(join(CORPUS, 'emails/mailparser/outofmemory.eml'));
    const started = cpuMs();
    const result = await render(parsed);
    expect(cpuMs() - started).toBeLessThan(2000);
    expect(result.reason).toBe('html_fallback_stripped');
    expect(result.detail?.['htmlRejected']).toBe('html_too_large');
    expect(result.value.description).toContain('1 million in Life Insurance Coverage');
  });

  it('refuses 5,000 nested elements before they reach the converter, and uses the text part', async () => {
    const html = `${'<div>'.repeat(5000)}deep${'</div>'.repeat(5000)}`;
    const started = cpuMs();
    const result = await render(mail({ text: 'the text part', html: `<p>x</p>${html}`, attachments: [] }));
    // Text is preferred anyway; force the HTML path with a blank text part.
    const forced = await render(mail({ text: ' ', html }));
    expect(cpuMs() - started).toBeLessThan(2000);
    expect(result.reason).toBe('text_body');
    expect(forced.detail?.['htmlRejected']).toBe('html_too_deep');
    expect(forced.value.description).toContain('deep');
  });

  it('stays fast on long runs of white space and &nbsp; (turndown backtracks on them)', async () => {
    const html = `<pre>${' '.repeat(150_000)}x</pre><p>${'&nbsp;'.repeat(50_000)}y</p>`;
    const started = cpuMs();
    const { value } = await render(mail({ text: undefined, html }));
    expect(cpuMs() - started).toBeLessThan(2000);
    expect(value.description).toContain('y');
  });

  it('renders any tag soup, as issue and note, without throwing or letting markup through', async () => {
    const piece = fc.constantFrom(
      '<p>',
      '</p>',
      '<div style="display:none">',
      '</div>',
      '<table>',
      '<tr>',
      '<td>',
      '<th>',
      '</table>',
      '<pre>',
      '</pre>',
      '<b>',
      '</b>',
      '<i>',
      '<s>',
      '</s>',
      '<ul><li>',
      '</li></ul>',
      '<h1>',
      '</h1>',
      '<div class="gmail_quote">',
      '<a href="javascript:x">',
      '<a href="https://a.example">',
      '</a>',
      '<img src="cid:x">',
      '<img src="https://i.example/i.png" alt="@all">',
      '<br>',
      '/close',
      '@jane',
      '#1',
      '&lt;img onerror=x&gt;',
      '&gt;',
      '`',
      '```',
      '|',
      '-',
      '1.',
      ' ',
      'text',
      '\n',
      '<blockquote type="cite">',
      '<code>',
      '</code>',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 50 }), async (pieces) => {
        const html = pieces.join('');
        const issue = await renderIssue({
          mail: mail({ text: undefined, html }),
          project: project(),
          limits: limits(),
        });
        const note = await renderNote({
          mail: mail({ text: undefined, html }),
          project: project(),
          limits: limits(),
          internal: false,
          automated: false,
        });
        expect(issue.ok).toBe(true);
        const texts = [issue.ok ? issue.value.description : '', note.ok ? note.value.body : ''];
        if (!note.ok) expect(note.reason).toBe('empty_reply');
        for (const text of texts) {
          expect(quickActionLines(text)).toEqual([]);
          expect(liveMentions(text)).toEqual([]);
          // Headings and tables may come from the mail's own structure; images, scripts and
          // links the mail did not have may not.
          const html = toHtml(text).replace(/<\/?(?:details|summary|h1|table)>/g, '');
          expect(injected(html, ['https://a.example', 'https://i.example/i.png'])).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
