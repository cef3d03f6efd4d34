import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LimitsSchema } from '../../core/config/schema.ts';
import type { ParsedMail } from '../../core/model.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { routeMail } from '../../core/stages/route/index.ts';
import { deskConfig, envelopeTo, fixture, noEnvelope } from './support.ts';

const parsed = async (url: URL): Promise<ParsedMail> => {
  const result = await parseMail(async (): Promise<Readable> => createReadStream(url), {
    limits: LimitsSchema.parse({}),
  });
  if (!result.ok) throw new Error(`parse stopped: ${result.reason}: ${result.message}`);
  return result.value;
};

const routeFixture = (name: string): URL => new URL(`../fixtures/mail/route/${name}`, import.meta.url);

describe('routeMail on mail from the real parse stage', () => {
  it.each([
    'bcc-only.eml',
    'two-desks.eml',
    'forwarded-gitlab-incoming.eml',
    'received-for-only.eml',
    'reply-with-desk-cc.eml',
  ])('routes %s as the header-level factory does, without an envelope', async (name) => {
    // Prepare
    const mail = await parsed(routeFixture(name));
    // Act
    const viaParser = routeMail(mail, noEnvelope, deskConfig);
    // Assess
    expect(viaParser).toEqual(routeMail(fixture(name), noEnvelope, deskConfig));
  });

  it('routes the corpus SES bounce by its envelope, not by the Gmail address in its To', async () => {
    // Prepare
    const mail = await parsed(
      new URL('../fixtures/corpus/emails/mailparser/delivery-status.eml', import.meta.url),
    );
    // Act
    const withEnvelope = routeMail(mail, envelopeTo('support+game@desk.example.com'), deskConfig);
    const withoutEnvelope = routeMail(mail, noEnvelope, deskConfig);
    // Assess
    expect(withEnvelope).toMatchObject({ ok: true, reason: 'envelope_recipients' });
    expect(withoutEnvelope).toMatchObject({
      ok: false,
      reason: 'no_route',
      message: 'No recipient routes to a configured project. Recipients seen (headers): xxxxx@gmail.com.',
    });
  });
});
