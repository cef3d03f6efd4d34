import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every mail file under test/fixtures (the public corpus and the project's own), for the hostile-corpus run. */

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });

export interface CorpusMail {
  /** Path under test/fixtures/, e.g. `corpus/emails/mailparser/spam.eml`. */
  name: string;
  bytes: Buffer;
}

/** `.eml` files under `corpus/` (the public corpus). */
export const corpusMails = (): CorpusMail[] =>
  walk(join(FIXTURES, 'corpus'))
    .filter((path) => path.endsWith('.eml'))
    .sort()
    .map((path) => ({ name: relative(FIXTURES, path), bytes: readFileSync(path) }));

/** `.eml` and `.bin` files under `mail/` (mails written for this project, hostile shapes included). */
export const projectMails = (): CorpusMail[] =>
  walk(join(FIXTURES, 'mail'))
    .filter((path) => path.endsWith('.eml') || path.endsWith('.bin'))
    .sort()
    .map((path) => ({ name: relative(FIXTURES, path), bytes: readFileSync(path) }));
