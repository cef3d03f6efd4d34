import { readFileSync } from 'node:fs';
import type { ParsedMail } from '../../core/model.ts';
import type { ClassifyContext } from '../../core/stages/classify/index.ts';
import { buildMail, type HeaderList, mailFromEml } from '../support/mail-factory.ts';

/** The desk every classify test runs for: desk.example.com, one alias. */
export const context: ClassifyContext = {
  domain: 'desk.example.com',
  isDeskAddress: (address) => {
    const lower = address.trim().toLowerCase();
    return lower.endsWith('@desk.example.com') || lower === 'help@acme.example';
  },
  loopHeader: 'x-postdesk-loop',
};

/** Raw bytes of a fixture under test/fixtures/mail/classify/. */
export const fixtureBytes = (name: string): Buffer =>
  readFileSync(new URL(`../fixtures/mail/classify/${name}`, import.meta.url));

/** A fixture from test/fixtures/mail/classify/, through the header-level mail factory. */
export const fixture = (name: string): ParsedMail => mailFromEml(fixtureBytes(name));

/** A fixture from the real-mail corpus (test/fixtures/corpus/emails/). */
export const corpus = (path: string): ParsedMail =>
  mailFromEml(readFileSync(new URL(`../fixtures/corpus/emails/${path}`, import.meta.url)));

/** A plain human mail with extra headers on top. */
export const withHeaders = (extra: HeaderList, overrides: Partial<ParsedMail> = {}): ParsedMail =>
  buildMail(
    [
      ['From', 'Jane Doe <jane.doe@example.org>'],
      ['To', 'support+game@desk.example.com'],
      ['Subject', 'Save files disappear'],
      ['Message-ID', '<m1@example.org>'],
      ...extra,
    ],
    overrides,
  );
