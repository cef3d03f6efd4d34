import { describe, expect, it } from 'vitest';
import { fullPathSlug } from '../../core/stages/route/index.ts';

/** Cases computed with GitLab's `Gitlab::Utils.slugify` definition (lib/gitlab/utils.rb@049d16d1). */
describe('fullPathSlug', () => {
  it.each([
    ['gitlab-org/gitlab-ce', 'gitlab-org-gitlab-ce'],
    ['acme/game', 'acme-game'],
    ['Acme.Corp/Game_Engine', 'acme-corp-game-engine'],
    ['_private/.hidden-', 'private--hidden'],
    ['a/b-c', 'a-b-c'],
    ['a-b/c', 'a-b-c'],
  ])('slugifies %j as %j', (path, slug) => {
    expect(fullPathSlug(path)).toBe(slug);
  });

  it('cuts to 63 characters before trimming dashes', () => {
    // Prepare: the 63rd character is a '/', which becomes a trailing dash after the cut.
    const path = `${'a'.repeat(62)}/project`;
    // Act
    const slug = fullPathSlug(path);
    // Assess
    expect(slug).toBe('a'.repeat(62));
  });

  it('never exceeds 63 characters', () => {
    expect(fullPathSlug(`group/${'x'.repeat(200)}`)).toHaveLength(63);
  });
});
