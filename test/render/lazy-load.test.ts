import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Cold-start budget: nothing heavy at module load. The HTML converter (turndown and its DOM,
 * the GFM plugin) may only be reached through a dynamic `import()`; static imports of them must be
 * type-only.
 */
const RENDER = fileURLToPath(new URL('../../core/stages/render/', import.meta.url));
const HEAVY = [
  'turndown',
  '@joplin/turndown-plugin-gfm',
  'node-html-markdown',
  'email-reply-parser',
  'mailparser',
];

const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });

describe('render module load', () => {
  it('imports the HTML converter lazily only', () => {
    const offenders: string[] = [];
    for (const path of sources(RENDER)) {
      for (const match of readFileSync(path, 'utf8').matchAll(
        /^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms,
      )) {
        if (HEAVY.includes(match[2] ?? '') && match[1] === undefined) offenders.push(`${path}: ${match[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('loads the converter with a dynamic import', () => {
    const convert = readFileSync(join(RENDER, 'html/convert.ts'), 'utf8');
    expect(convert).toContain("import('turndown')");
  });
});
