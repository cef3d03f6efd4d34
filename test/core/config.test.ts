import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config/parse.ts';
import { ConfigError } from '../../core/errors.ts';

const minimal = `domain: desk.example.com
mailbox: support            # optional, default "support": support+game@desk.example.com
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: game
`;

const problemsOf = (text: string): ConfigError => {
  try {
    parseConfig(text, 'desk.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('parseConfig', () => {
  it('accepts the minimal file from the README and fills the documented defaults', () => {
    // Act
    const config = parseConfig(minimal);
    // Assess
    expect(config.mailbox).toBe('support');
    expect(config.projects[0]?.confidential).toBe(true);
    expect(config.projects[0]?.participants_from_cc).toBe(false);
    expect(config.limits.max_raw_bytes).toBe(40 * 1024 * 1024);
    expect(config.authentication.on_fail).toBe('quarantine');
  });

  it('reports two mistakes at once, each with its line and a fix', () => {
    // Prepare
    const text = `domain: desk.example.com
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: Game
    colour: red
`;
    // Act
    const error = problemsOf(text);
    // Assess
    expect(error.problems).toHaveLength(2);
    expect(error.problems).toContainEqual(expect.objectContaining({ path: 'projects.0.key', line: 5 }));
    expect(error.problems).toContainEqual(expect.objectContaining({ path: 'projects.0.colour', line: 6 }));
    expect(error.message).toContain('desk.yaml:5');
    expect(error.message).toContain('desk.yaml:6');
  });

  it('rejects unknown keys at the top level and in nested objects', () => {
    const error = problemsOf(`${minimal}limits: { max_raw_byte: 5 }\nextra: 1\n`);
    expect(error.problems.map((problem) => problem.path).sort()).toEqual(['extra', 'limits.max_raw_byte']);
  });

  it('reports YAML syntax errors with their line', () => {
    const error = problemsOf('domain: desk.example.com\nprojects: [\n');
    expect(error.problems[0]?.path).toBe('(yaml)');
    expect(error.problems[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('rejects a key or alias used by two projects', () => {
    const error = problemsOf(`${minimal}  - path: acme/web
    key: game
    aliases: [help@acme.com, HELP@acme.com]
`);
    expect(error.problems.map((problem) => problem.path)).toEqual(['projects.1.key', 'projects.1.aliases.1']);
  });

  it('requires a forge URL for gitlab and names the field', () => {
    const error = problemsOf(
      'domain: desk.example.com\nforge: { kind: gitlab }\nprojects: [{ path: a/b, key: b }]\n',
    );
    expect(error.problems[0]?.path).toBe('forge.url');
    expect(error.problems[0]?.line).toBe(2);
  });
});
