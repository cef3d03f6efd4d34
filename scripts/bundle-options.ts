import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The bundling choices shared by `npm run build` (scripts/build.ts) and the CDK functions
 * (infra/constructs/desk-function.ts), so the two bundles cannot drift apart.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Packages replaced in every bundle by small stand-ins (adapters/bundle-shims/, each file says
 * why). Together they are ~700 KB of the inbound bundle that the parse stage never runs.
 * Keys are package names, values absolute paths (esbuild `alias`).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  'iconv-lite': join(root, 'adapters/bundle-shims/iconv-lite.cjs'),
  'encoding-japanese': join(root, 'adapters/bundle-shims/encoding-japanese.cjs'),
};

/** The same map as esbuild command-line arguments (`--alias:name=path`), for CDK `esbuildArgs`. */
export const bundleAliasArgs = (): { '--alias': string[] } => ({
  '--alias': Object.entries(BUNDLE_ALIASES).map(([name, path]) => `${name}=${path}`),
});

/**
 * esbuild code splitting: render's lazily imported HTML converter (turndown, domino) goes to a
 * chunk of its own, loaded only when an HTML-only mail arrives, instead of being parsed and
 * compiled at every cold start. Needs `outdir` instead of `outfile`.
 */
export const SPLITTING = {
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
} as const;
