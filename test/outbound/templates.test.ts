import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../core/errors.ts';
import {
  DEFAULT_TEMPLATES,
  loadTemplate,
  type PlaceholderValues,
  renderTemplate,
  substitutePlaceholders,
  templatePath,
} from '../../core/outbound/templates.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { fakeForge, PROJECT, recordingLogger } from './support.ts';

const values = (overrides: Partial<PlaceholderValues> = {}): PlaceholderValues => ({
  ISSUE_ID: '#17',
  ISSUE_PATH: 'gitlab-org/gitlab-test#17',
  ISSUE_URL: 'https://gitlab.example.com/gitlab-org/gitlab-test/-/issues/17',
  NOTE_TEXT: '',
  ISSUE_DESCRIPTION: '',
  UNSUBSCRIBE_URL: 'https://hooks.desk.example.com/unsubscribe/u-test-17-0-abc',
  SYSTEM_HEADER: '',
  SYSTEM_FOOTER: '',
  ADDITIONAL_TEXT: '',
  ...overrides,
});

describe('placeholders', () => {
  it('matches GitLab placeholders with spaces inside the braces', () => {
    // Prepare
    const template = 'a %{ISSUE_ID} b %{ ISSUE_ID } c %{  ISSUE_PATH\t} d';
    // Act
    const out = substitutePlaceholders(template, (name) => values()[name]);
    // Assess
    expect(out).toBe('a #17 b #17 c gitlab-org/gitlab-test#17 d');
  });

  it('substitutes once: a value containing a placeholder is not expanded again', () => {
    const out = substitutePlaceholders('%{NOTE_TEXT} and %{ISSUE_ID}', (name) =>
      name === 'NOTE_TEXT' ? 'note says %{ISSUE_URL} and %{ ISSUE_ID }' : values()[name],
    );
    expect(out).toBe('note says %{ISSUE_URL} and %{ ISSUE_ID } and #17');
  });

  it('keeps unknown placeholders as written', () => {
    expect(substitutePlaceholders('%{NOPE} %{ISSUE_ID}', (name) => values()[name])).toBe('%{NOPE} #17');
  });

  it('renders every placeholder in HTML and text, once', () => {
    // Prepare
    const template = [
      'ID %{ISSUE_ID}, path %{ISSUE_PATH}, url %{ISSUE_URL}',
      '',
      '%{NOTE_TEXT}',
      '',
      'Desc: %{ISSUE_DESCRIPTION}',
      '',
      'H %{SYSTEM_HEADER} F %{SYSTEM_FOOTER} A %{ADDITIONAL_TEXT}',
      '',
      '[Unsubscribe](%{UNSUBSCRIBE_URL})',
    ].join('\n');
    // Act
    const mail = renderTemplate(
      template,
      values({
        NOTE_TEXT: 'The **fix** ships %{ISSUE_ID}',
        ISSUE_DESCRIPTION: 'Printer on fire',
        SYSTEM_HEADER: 'HEAD',
        SYSTEM_FOOTER: 'FOOT',
        ADDITIONAL_TEXT: 'MORE',
      }),
    );
    // Assess
    expect(mail.html).toContain('ID #17, path gitlab-org/gitlab-test#17, url');
    expect(mail.html).toContain('<strong>fix</strong> ships %{ISSUE_ID}');
    expect(mail.html).toContain('Desc: Printer on fire');
    expect(mail.html).toContain('H HEAD F FOOT A MORE');
    expect(mail.html).toContain(
      '<a href="https://hooks.desk.example.com/unsubscribe/u-test-17-0-abc">Unsubscribe</a>',
    );
    expect(mail.text).toContain('The **fix** ships %{ISSUE_ID}');
    expect(mail.text).toContain('[Unsubscribe](https://hooks.desk.example.com/unsubscribe/u-test-17-0-abc)');
    expect(mail.html).not.toContain('PDSLOT');
  });
});

describe('markdown to HTML', () => {
  it('escapes raw HTML in the note text but keeps the template author HTML', () => {
    const mail = renderTemplate(
      '<div class="brand">Acme</div>\n\n%{NOTE_TEXT}',
      values({ NOTE_TEXT: 'Hi <script>alert(1)</script> <img src=x onerror=alert(1)>' }),
    );
    expect(mail.html).toContain('<div class="brand">Acme</div>');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img src=x');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it("drops HTML comments (GitLab shows none), such as Postdesk's own delivery marker", () => {
    const mail = renderTemplate(
      '%{ISSUE_DESCRIPTION}',
      values({ ISSUE_DESCRIPTION: 'It smokes.\n\n<!-- postdesk:pd-0123456789abcdef01234567 -->' }),
    );
    expect(mail.html).not.toContain('postdesk:pd-');
    expect(mail.text).toBe('It smokes.\n');
    const hostile = `${'<!--'.repeat(50_000)}x`;
    const started = cpuMs();
    renderTemplate('%{NOTE_TEXT}', values({ NOTE_TEXT: hostile }));
    expect(cpuMs() - started).toBeLessThan(5_000);
  });

  it('escapes raw HTML in the issue description', () => {
    const mail = renderTemplate(
      '%{ISSUE_DESCRIPTION}',
      values({ ISSUE_DESCRIPTION: '<iframe src="https://evil"></iframe>' }),
    );
    expect(mail.html).not.toContain('<iframe');
  });

  it('drops javascript: links and makes upload links absolute', () => {
    const mail = renderTemplate(
      '%{NOTE_TEXT}',
      values({ NOTE_TEXT: '[x](javascript:alert(1)) ![s](/uploads/abc/s.png)' }),
      {
        baseUrl: 'https://gitlab.example.com/gitlab-org/gitlab-test',
      },
    );
    expect(mail.html).not.toContain('javascript:');
    expect(mail.html).toContain('src="https://gitlab.example.com/gitlab-org/gitlab-test/uploads/abc/s.png"');
  });

  it('renders a block note in its own paragraphs and an inline note inline', () => {
    const block = renderTemplate('%{NOTE_TEXT}', values({ NOTE_TEXT: 'one\n\n- a\n- b' }));
    expect(block.html).toContain('<p>one</p>');
    expect(block.html).toContain('<li>a</li>');
    expect(block.html).not.toContain('<p><p>');
    const inline = renderTemplate('Said: %{NOTE_TEXT}!', values({ NOTE_TEXT: '*yes*' }));
    expect(inline.html).toContain('<p>Said: <em>yes</em>!</p>');
  });

  it('drops the unsubscribe line when there is no unsubscribe URL', () => {
    const mail = renderTemplate(DEFAULT_TEMPLATES.thank_you, values({ UNSUBSCRIBE_URL: '' }));
    expect(mail.html).not.toContain('Unsubscribe');
    expect(mail.text).not.toContain('Unsubscribe');
    expect(mail.text).toContain('#17');
  });
});

describe('template source', () => {
  it('uses the repository template when present', async () => {
    // Prepare
    const forge = fakeForge({ [templatePath('thank_you')]: 'Custom thanks for %{ ISSUE_ID }' });
    // Act
    const template = await loadTemplate(forge, PROJECT, 'thank_you');
    // Assess
    expect(forge.reads).toEqual(['.gitlab/service_desk_templates/thank_you.md']);
    expect(template.source).toBe('repository');
    expect(renderTemplate(template.markdown, values()).text).toBe('Custom thanks for #17\n');
  });

  it.each(['thank_you', 'new_note', 'new_participant'] as const)(
    'falls back to the default %s',
    async (name) => {
      const template = await loadTemplate(fakeForge(), PROJECT, name);
      expect(template.source).toBe('default');
      expect(template.markdown).toBe(DEFAULT_TEMPLATES[name]);
    },
  );

  it('falls back to the default when the file is empty or the forge refuses', async () => {
    const empty = await loadTemplate(fakeForge({ [templatePath('new_note')]: '  \n' }), PROJECT, 'new_note');
    expect(empty.source).toBe('default');
    const logger = recordingLogger();
    const refusing = {
      readRepoFile: async () => {
        throw new PermanentError('forge_forbidden', '403');
      },
    };
    const denied = await loadTemplate(refusing, PROJECT, 'new_note', logger);
    expect(denied.source).toBe('default');
    expect(logger.lines.some((line) => line.level === 'warn')).toBe(true);
  });

  it('propagates a forge outage so the mail is retried with the right template', async () => {
    const down = {
      readRepoFile: async () => {
        throw new TransientError('forge_unavailable', '503');
      },
    };
    await expect(loadTemplate(down, PROJECT, 'thank_you')).rejects.toBeInstanceOf(TransientError);
  });

  it('ships defaults that use the GitLab placeholders', () => {
    expect(DEFAULT_TEMPLATES.thank_you).toContain('%{ISSUE_ID}');
    expect(DEFAULT_TEMPLATES.new_note).toContain('%{NOTE_TEXT}');
    for (const template of Object.values(DEFAULT_TEMPLATES)) expect(template).toContain('%{UNSUBSCRIBE_URL}');
  });
});
