import { readFileSync } from 'node:fs';
import { parseConfig } from '../../core/config/parse.ts';
import type { DeskConfig } from '../../core/config/schema.ts';
import type { Envelope, ParsedMail } from '../../core/model.ts';
import { mailFromEml } from '../support/mail-factory.ts';

/** A desk with three projects, parsed through the real schema so defaults are the documented ones. */
export const deskConfig: DeskConfig = parseConfig(`domain: desk.example.com
forge: { kind: gitlab, url: https://gitlab.example.com }
projects:
  - path: acme/game
    key: game
    id: 42
    aliases: [help@acme.example]
  - path: acme/web-shop
    key: shop
    id: 7
  - path: Acme.Corp/Game_Engine
    key: engine
    id: 1001
`);

export const noEnvelope: Envelope = { recipients: [], mailFrom: undefined };

export const envelopeTo = (...recipients: string[]): Envelope => ({
  recipients,
  mailFrom: 'jane.doe@example.org',
});

/** A fixture under test/fixtures/mail/route/. */
export const fixture = (name: string): ParsedMail =>
  mailFromEml(readFileSync(new URL(`../fixtures/mail/route/${name}`, import.meta.url)));

/** Builds a config from a projects YAML block, for one-off cases. */
export const configWith = (projects: string, extra = ''): DeskConfig =>
  parseConfig(`domain: desk.example.com
forge: { kind: gitlab, url: https://gitlab.example.com }
${extra}projects:
${projects}`);
