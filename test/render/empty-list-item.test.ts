import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { renderIssue, renderNote } from '../../core/stages/render/index.ts';
import { limits, mail, project } from './support.ts';

describe('regression empty-list-item-setext-heading', () => {
  // Found by the tag-soup property of test/render/html.test.ts: an empty nested list item printed a
  // bare `-` under the customer's text, which Markdown reads as a heading underline.
  const html = '<blockquote type="cite"><ul><li>|<ul><li><br>';

  it('an empty list item under text makes no heading, as issue or as note', async () => {
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
    for (const text of [issue.ok ? issue.value.description : '', note.ok ? note.value.body : '']) {
      expect(text).toContain('\\|');
      expect(marked.parse(text, { async: false })).not.toMatch(/<h[1-6]>/);
    }
  });

  it('keeps a list item that holds only an image', async () => {
    const result = await renderIssue({
      mail: mail({
        text: undefined,
        html: '<ul><li>one</li><li><img src="https://i.example/a.png" alt="shot"></li></ul>',
      }),
      project: project(),
      limits: limits(),
    });
    expect(result.ok && result.value.description).toMatch(/-\s+one/);
  });
});
