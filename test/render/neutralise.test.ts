import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UPLOAD_LINK_SCHEME } from '../../core/stages/contracts.ts';
import { renderIssue } from '../../core/stages/render/index.ts';
import { injected, limits, liveMentions, mail, project, quickActionLines, toHtml } from './support.ts';

/** The body part of a description rendered from `text` (the `**From:**` line dropped). */
const describeText = async (text: string, html?: string): Promise<string> => {
  const result = await renderIssue({ mail: mail({ text, html }), project: project(), limits: limits() });
  if (!result.ok) throw new Error(result.message);
  return result.value.description.split('\n').slice(2).join('\n');
};

describe('quick actions in customer text', () => {
  it('wraps a quick-action line in a code span, as GitLab redact_commands does', async () => {
    // Act
    const body = await describeText('Please help.\n/close\n/label ~urgent\n/assign @admin');
    // Assess
    expect(body).toContain('`/close`');
    expect(body).toContain('`/label ~urgent`');
    expect(body).toContain('`/assign @admin`');
    expect(quickActionLines(body)).toEqual([]);
  });

  it('redacts an indented command and one after a blank line, keeps code blocks as they are', async () => {
    const body = await describeText('   /reopen\n\n/confidential\n\n```\n/usr/bin/env\n```');
    expect(quickActionLines(body)).toEqual([]);
    expect(body).toMatch(/```+\n\/usr\/bin\/env\n```+/);
  });

  it('redacts commands that HTML mail puts at a line start', async () => {
    const body = await describeText('', '<p>Hi</p><p>/close</p><div>text<br>/unassign @me</div>');
    expect(quickActionLines(body)).toEqual([]);
    expect(body).toContain('`/close`');
    expect(body).toContain('`/unassign @me`');
  });

  it('keeps a command that contains backticks inert and visible', async () => {
    const body = await describeText('/label ~"a`b"');
    expect(body).toContain('``/label ~"a`b"``');
  });
});

describe('mentions and references', () => {
  it('escapes @user, @group and @all but leaves e-mail addresses linkable', async () => {
    // Act
    const body = await describeText('Hi @jane and @acme/devs and @all, write to jane.doe@example.com (é@x)');
    // Assess
    expect(liveMentions(body)).toEqual([]);
    expect(body).toContain('\\@jane');
    expect(body).toContain('\\@all');
    expect(body).toContain('jane.doe@example.com');
  });

  it('escapes #issue, !mr, %milestone, ~label, &epic, $snippet and ^alert references', async () => {
    const body = await describeText('See #12, group/project#3, !45, %"v1.0", ~bug, &7, $9, ^alert#2');
    for (const reference of [
      '\\#12',
      'project\\#3',
      '\\!45',
      '\\%"v1.0"',
      '\\~bug',
      '\\&7',
      '\\$9',
      '\\^alert\\#2',
    ]) {
      expect(body).toContain(reference);
    }
  });

  it('escapes the colon of [type:id] and *iteration: references', async () => {
    const body = await describeText('[vulnerability:5] and *iteration:"Sprint 1"');
    expect(body).toContain('\\[vulnerability\\:5\\]');
    expect(body).toContain('\\*iteration\\:"Sprint 1"');
  });

  it('leaves mentions inside code spans alone: GitLab does not link inside code', async () => {
    const body = await describeText('run `ping @host #1` now');
    expect(body).toContain('`ping @host #1`');
  });

  it('keeps URLs whole as autolinks, so an escape cannot cut them', async () => {
    const body = await describeText(
      'Logs: https://example.com/a_b#frag?x=1&y=%20~z! and <https://example.org/x>.',
    );
    expect(body).toContain('<https://example.com/a_b#frag?x=1&y=%20~z>');
    expect(body).toContain('<https://example.org/x>');
  });
});

describe('raw HTML and Markdown from the mail', () => {
  it('shows <img onerror>, <details>, <a> and <script> typed in a text mail as text', async () => {
    // Act
    const body = await describeText(
      '<img src=x onerror=alert(1)>\n<details open><summary>x</summary></details>\n<a href="https://evil.example">bank</a>\n<script>alert(1)</script>',
    );
    const html = toHtml(body);
    // Assess
    expect(injected(html)).toEqual([]);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('does not let text in an HTML mail become markup', async () => {
    const body = await describeText(
      '',
      '<p>&lt;img src=x onerror=alert(1)&gt; &lt;details&gt; [x](javascript:alert(1)) ![t](https://t.example/p.gif)</p>',
    );
    expect(injected(toHtml(body))).toEqual([]);
  });

  it('drops javascript: links from HTML mail and keeps their text', async () => {
    const body = await describeText(
      '',
      '<p><a href="javascript:alert(1)">click</a> <a href="https://ok.example/a b">ok</a></p>',
    );
    expect(body).toContain('click');
    expect(body).not.toContain('javascript');
    expect(body).toContain('[ok](https://ok.example/a%20b)');
  });

  it('does not let a customer fence swallow the rest of the description or break out of its block', async () => {
    // Prepare: an unclosed fence, and a fence inside a list item that Markdown would close early.
    const text = '- item\n  ```\n<img src=x onerror=alert(1)>\n\nmore\n```` \nafter';
    // Act
    const result = await renderIssue({
      mail: mail({ text }),
      project: project(),
      limits: limits(),
      template: '/label ~triage',
    });
    if (!result.ok) throw new Error(result.message);
    const html = toHtml(result.value.description);
    // Assess
    expect(injected(html)).toEqual([]);
    expect(result.value.description.endsWith('/label ~triage')).toBe(true);
    expect(quickActionLines(result.value.description)).toEqual(['/label ~triage']);
  });

  it('turns headings, tables and link definitions typed in text into text', async () => {
    const html = toHtml(
      await describeText('# Title\n| a | b |\n|---|---|\n| 1 | 2 |\n[x]: https://evil.example\n[x]'),
    );
    expect(injected(html)).toEqual([]);
    expect(html).not.toContain('>x</a>');
  });
});

describe('our link scheme in customer text', () => {
  it('neutralises postdesk-upload:// in text, in code and in URLs', async () => {
    const body = await describeText(
      'see postdesk-upload://0 and `postdesk-upload://1`\n\n```\npostdesk-upload://2\n```\nhttps://x.example/?u=postdesk-upload://3\n',
      undefined,
    );
    expect(body).not.toMatch(/postdesk-upload:\/\//i);
    expect(body.toLowerCase()).not.toContain(UPLOAD_LINK_SCHEME);
  });

  it('neutralises it in HTML text, link targets and image sources', async () => {
    const body = await describeText(
      '',
      '<p>POSTDESK-UPLOAD://0 <a href="https://a.example/postdesk-upload://1">x</a> <img src="https://i.example/postdesk-upload://2"></p><pre>postdesk-upload://3</pre>',
    );
    expect(body).not.toMatch(/postdesk-upload:\/\//i);
  });
});

describe('control characters', () => {
  it('strips NUL and the other C0/C1 controls, keeps tabs and line breaks', async () => {
    const body = await describeText('a\u0000b\u0001c\u001Fd\u007Fe\u0080f\u009Fg\th\r\ni');
    expect(body).toBe('abcdefg\th  \ni');
  });
});

describe('fuzz: any customer text', () => {
  it('never throws, never leaves a live quick action, mention, our scheme or a tag', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({
          unit: fc.constantFrom(
            ...'/@#!<>`~[]()*_\\:|\n abc-1.&$%^=+\t'.split(''),
            'https://x.y/',
            '```',
            '~~~',
            '    ',
            '- ',
            '1. ',
            '> ',
            'On x wrote:',
            '-- ',
          ),
          maxLength: 150,
        }),
        async (text) => {
          const result = await renderIssue({ mail: mail({ text }), project: project(), limits: limits() });
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          const description = result.value.description;
          expect(quickActionLines(description)).toEqual([]);
          expect(liveMentions(description)).toEqual([]);
          expect(description).not.toMatch(/postdesk-upload:\/\//i);
          expect(injected(toHtml(description))).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });
});
