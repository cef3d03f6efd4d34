import { describe, expect, it } from 'vitest';
import { renderTitle } from '../../core/stages/render/index.ts';
import { cpuMs } from '../support/cpu-time.ts';

describe('renderTitle', () => {
  it('keeps the decoded subject, Re: and Fwd: included, as GitLab does', () => {
    expect(renderTitle('Re: Fwd: Löschung meines Kontos')).toBe('Re: Fwd: Löschung meines Kontos');
  });

  it('says (no subject) for a missing or blank subject', () => {
    expect(renderTitle(undefined)).toBe('(no subject)');
    expect(renderTitle('')).toBe('(no subject)');
    expect(renderTitle(' \t\r\n ')).toBe('(no subject)');
  });

  it('folds line breaks and tabs of a folded header into single spaces', () => {
    expect(renderTitle('Re: TEST\r\n \tテスト\tテスト   done')).toBe('Re: TEST テスト テスト done');
  });

  it('removes NUL, other control characters and bidi overrides', () => {
    expect(renderTitle('inv\u0000oice\u0007 \u202Efdp.exe\u202C \u0085ok')).toBe('invoice fdp.exe ok');
  });

  it('caps at 255 characters on a code-point boundary, never splitting a surrogate pair', () => {
    // Prepare
    const subject = `${'a'.repeat(254)}😀😀`;
    // Act
    const title = renderTitle(subject);
    // Assess
    expect(Array.from(title)).toHaveLength(255);
    expect(title.endsWith('a😀')).toBe(true);
    expect(title).not.toMatch(/[\uD800-\uDBFF]$/);
  });

  it('caps a megabyte subject quickly', () => {
    const started = cpuMs();
    expect(Array.from(renderTitle('x'.repeat(1_000_000))).length).toBe(255);
    expect(cpuMs() - started).toBeLessThan(500);
  });

  it('makes a mention in the subject inert (GitLab mentions from titles), but keeps addresses', () => {
    expect(renderTitle('@all server down, ask jane@example.com')).toBe(
      '\uFF20all server down, ask jane@example.com',
    );
  });
});
