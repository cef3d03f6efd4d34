import { describe, expect, it } from 'vitest';
import { estimateDepth, shortenWhitespaceRuns } from '../../core/stages/render/html/prepare.ts';
import { stripHtml } from '../../core/stages/render/html/strip.ts';
import { cpuMs } from '../support/cpu-time.ts';

describe('estimateDepth', () => {
  it('counts nesting, ignoring void and optional-end elements', () => {
    expect(estimateDepth('<div><div><p>a<br><img src=x></div></div>')).toBe(2);
    expect(estimateDepth('<p>a<p>b<p>c<li>d<td>e')).toBe(0);
    expect(estimateDepth('<div/><span>x</span>')).toBe(1);
  });

  it('stays linear on a < with no > and on unclosed towers', () => {
    const started = cpuMs();
    expect(estimateDepth(`${'<a'.repeat(300_000)}`)).toBe(0);
    expect(estimateDepth('<b>'.repeat(300_000))).toBe(300_000);
    expect(cpuMs() - started).toBeLessThan(1000);
  });
});

describe('shortenWhitespaceRuns', () => {
  it('cuts runs of spaces and &nbsp; to 64 characters', () => {
    expect(shortenWhitespaceRuns(`a${' '.repeat(100)}b`)).toBe(`a${' '.repeat(64)}b`);
    expect(shortenWhitespaceRuns(`a${'&nbsp;'.repeat(100)}b`)).toBe(`a${'\u00A0'.repeat(64)}b`);
    expect(shortenWhitespaceRuns('a  b')).toBe('a  b');
  });
});

describe('stripHtml', () => {
  it('keeps the text, drops code, comments and tags, and decodes entities', () => {
    expect(
      stripHtml(
        '<style>p{}</style><p>Hi &amp; bye</p><!-- c --><div>x&#33;<br>y&#x1F600;</div><script>alert(1)</script>',
      ),
    ).toBe('Hi & bye\n\nx!\ny😀');
  });

  it('keeps the text after an unclosed title but not after an unclosed script', () => {
    expect(stripHtml('<title>a<p>b')).toBe('a\nb');
    expect(stripHtml('x<script>alert(1)')).toBe('x');
  });
});
