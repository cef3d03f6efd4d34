import { describe, expect, it } from 'vitest';
import {
  parseDeskSecret,
  parseDeskSecretOrThrow,
  SecretDocumentError,
  serializeDeskSecret,
} from '../../adapters/aws/secret-document.ts';

const problemsOf = (text: string) => {
  const result = parseDeskSecret(text);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
};

describe('parseDeskSecret', () => {
  it('reads the three keys, comments allowed', () => {
    // Prepare
    const text = '# desk\nforge_token: glpat-abc\nwebhook_token: "hook"\nreply_key: 0123456789abcdef\n';

    // Act
    const result = parseDeskSecret(text);

    // Assess
    expect(result).toEqual({
      ok: true,
      secret: { forge_token: 'glpat-abc', webhook_token: 'hook', reply_key: '0123456789abcdef' },
      keys: ['forge_token', 'webhook_token', 'reply_key'],
    });
  });

  it('accepts an empty document (every key is optional)', () => {
    expect(parseDeskSecret('# nothing yet\n')).toEqual({ ok: true, secret: {}, keys: [] });
    expect(parseDeskSecret('')).toEqual({ ok: true, secret: {}, keys: [] });
  });

  it('names an unknown key with its line', () => {
    // Act
    const problems = problemsOf('forge_token: a\nforge_tokn: b\n');

    // Assess
    expect(problems).toEqual([
      {
        key: 'forge_tokn',
        line: 2,
        message: 'unknown key "forge_tokn"; allowed keys: forge_token, webhook_token, reply_key',
      },
    ]);
  });

  it('does not name a "key" that looks like a pasted token', () => {
    // Act
    const problems = problemsOf('glpat-Zx8k2Lq9Vn3Rt5Wy7Bc1: x\n');

    // Assess
    expect(problems[0]?.message).toMatch(/unknown key \(not shown/);
    expect(JSON.stringify(problems)).not.toContain('glpat-Zx8k2Lq9Vn3Rt5Wy7Bc1');
  });

  it('reports YAML syntax errors by line, without the library quoting the text', () => {
    // Act
    const problems = problemsOf('reply_key: 0123456789abcdef\nforge_token: "glpat-unclosed\n');

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^YAML syntax: /);
    expect(JSON.stringify(problems)).not.toContain('glpat-unclosed');
    expect(JSON.stringify(problems)).not.toContain('0123456789abcdef');
  });

  it.each([
    ['forge_token:\n', /forge_token has no value/],
    ['forge_token: ""\n', /forge_token is empty/],
    ['forge_token: 12345\n', /forge_token must be a string, not a number \(quote the value\)/],
    ['forge_token: [a, b]\n', /must be a string, not a list/],
    ['forge_token:\n  nested: x\n', /must be a string, not a mapping/],
    ['forge_token: "a\\nb"\n', /one line without control characters/],
    ['reply_key: tooshort\n', /reply_key is 8 characters; it must be at least 16/],
    ['- forge_token\n', /must be a mapping/],
    ['forge_token: a\nforge_token: b\n', /a key appears twice/],
  ])('refuses %j', (text, message) => {
    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems.map((problem) => problem.message).join('\n')).toMatch(message);
  });

  it('throws a SecretDocumentError that lists every problem at once', () => {
    // Act
    const attempt = () => parseDeskSecretOrThrow('typo: 1\nreply_key: x\n', 'STDIN');

    // Assess
    expect(attempt).toThrow(SecretDocumentError);
    expect(attempt).toThrow(
      /STDIN is not a valid desk secret \(2 problems\):\n {2}line 1: unknown key "typo".*\n {2}line 2: reply_key/s,
    );
  });

  it('serializes in canonical key order', () => {
    expect(serializeDeskSecret({ reply_key: 'r'.repeat(16), forge_token: 'f' })).toBe(
      `forge_token: f\nreply_key: ${'r'.repeat(16)}\n`,
    );
  });
});
