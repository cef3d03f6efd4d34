/**
 * GitLab's `full_path_slug` (`Gitlab::Utils.slugify`, lib/gitlab/utils.rb@049d16d1):
 * `str.downcase.gsub(/[^a-z0-9]/, '-')[0..62].gsub(/(\A-+|-+\z)/, '')`. Lowercase, every
 * character outside `[a-z0-9]` becomes `-`, cut to 63 characters, then leading and trailing dashes
 * trimmed (in that order: the cut can expose a trailing dash). Lossy: `a/b-c` and `a-b/c` collide,
 * which is why a slug is only ever compared against a project already found by id or key.
 */
export const fullPathSlug = (fullPath: string): string =>
  fullPath
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
