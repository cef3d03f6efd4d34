import { describe, expect, it } from 'vitest';
import { renderIssue, renderNote } from '../../core/stages/render/index.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { limits, mail, project } from './support.ts';

/**
 * Rendering work must grow linearly: each input is rendered at size n and 2n, a few times, and the
 * cheapest runs compared (mailparser's hostile-input habit). The measure is this process's CPU
 * time, not the wall clock, so other work on a shared machine does not count; and it is a ratio,
 * not a duration, so a slow machine passes as a fast one does. A generous bound (x3.5 for x2 input,
 * or under 50 ms, where garbage collection is all one measures) still catches a quadratic regex or
 * loop: quadratic work at these sizes takes seconds.
 */
const fastest = async (run: () => Promise<unknown>, repeats = 3): Promise<number> => {
  let best = Number.POSITIVE_INFINITY;
  for (let index = 0; index < repeats; index++) {
    const started = cpuMs();
    await run();
    best = Math.min(best, cpuMs() - started);
  }
  return best;
};

const caps = limits({ max_description_chars: 50_000_000 });

const scaling = async (
  build: (size: number) => string,
  render: (input: string) => Promise<unknown>,
  size: number,
) => {
  const small = build(size);
  const large = build(size * 2);
  await render(small);
  const one = await fastest(() => render(small));
  const two = await fastest(() => render(large));
  return { one, two, ratio: two < 50 ? 1 : two / Math.max(one, 1) };
};

const issueFromText = (text: string) =>
  renderIssue({ mail: mail({ text }), project: project(), limits: caps });
const issueFromHtml = (html: string) =>
  renderIssue({ mail: mail({ text: undefined, html }), project: project(), limits: caps });
const noteFromText = (text: string) =>
  renderNote({ mail: mail({ text }), project: project(), limits: caps, internal: false, automated: false });

const repeat = (unit: string, size: number): string => unit.repeat(Math.ceil(size / unit.length));

describe('rendering time is linear', () => {
  it.each([
    ['prose with references', 'Hi @jane, see #12 and !4 at https://x.example/a_b?c=1. /close\n'],
    ['unmatched backtick runs of growing length', '` `` ``` x ```` '],
    ['angle brackets and ampersands', '<<a>& <b href=">'],
    ['one long URL full of dots', 'https://x.example/'.concat('.'.repeat(64))],
    ['deep quote markers', '> > > > > > quoted\n'],
    ['an unclosed fence', '```\ncode line\n'],
  ])('text body: %s', async (_label, unit) => {
    const { ratio } = await scaling((size) => repeat(unit, size), issueFromText, 100_000);
    expect(ratio).toBeLessThan(3.5);
  });

  it.each([
    [
      'quotes and signatures',
      'New text.\n\nOn Mon, Jan 6, 2025 at 9:00 AM, A <a@x.example> wrote:\n> old\n-- \nsig\n',
    ],
    ['Outlook header blocks', 'From: A <a@x.example>\nSent: Monday\nTo: B\nSubject: x\n\n'],
    ['one huge quoted line', '>'.repeat(5000)],
  ])('reply trimming: %s', async (_label, unit) => {
    const { ratio } = await scaling((size) => repeat(unit, size), noteFromText, 100_000);
    expect(ratio).toBeLessThan(3.5);
  });

  it.each([
    [
      'paragraphs with styles',
      '<p style="font-size:12px;color:#333">Hello <b>@jane</b> #1 <a href="https://x.example">x</a></p>',
    ],
    ['data tables', '<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2 | 3</td></tr></table>'],
    [
      'layout tables with images',
      '<table role="presentation"><tr><td><img src="https://i.example/a.png" alt="a"></td></tr></table>',
    ],
    ['hidden preheaders', '<div style="display:none;max-height:0">hidden</div><span>shown</span>'],
    ['nested blocks', '<div><div><div><blockquote><ul><li>item</li></ul></blockquote></div></div></div>'],
  ])('HTML body: %s', async (_label, unit) => {
    const { ratio } = await scaling(
      (size) => `<html><body>${repeat(unit, size)}</body></html>`,
      issueFromHtml,
      60_000,
    );
    expect(ratio).toBeLessThan(3.5);
  });
});
