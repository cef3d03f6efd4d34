import { createReadStream, readdirSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LimitsSchema } from '../../core/config/schema.ts';
import type { ParsedMail } from '../../core/model.ts';
import { classifyMail, isNoReplySender } from '../../core/stages/classify/index.ts';
import { parseMail } from '../../core/stages/parse/index.ts';
import { context, fixture } from './support.ts';

const limits = LimitsSchema.parse({});

/** Runs a file through the real parse stage, as the pipeline does. */
const parsed = async (url: URL): Promise<ParsedMail> => {
  const result = await parseMail(async (): Promise<Readable> => createReadStream(url), { limits });
  if (!result.ok) throw new Error(`parse stopped: ${result.reason}: ${result.message}`);
  return result.value;
};

const corpusUrl = (path: string): URL => new URL(`../fixtures/corpus/emails/${path}`, import.meta.url);
const fixtureUrl = (name: string): URL => new URL(`../fixtures/mail/classify/${name}`, import.meta.url);

describe('classify on mail from the real parse stage', () => {
  it('calls SES’s own bounce (corpus delivery-status.eml) a bounce, by sender and by report type', async () => {
    // Prepare
    const mail = await parsed(corpusUrl('mailparser/delivery-status.eml'));
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(result).toMatchObject({ ok: true, verdict: 'bounce', reason: 'mailer_daemon_sender' });
    expect(result.ok && result.value.signals).toEqual([
      'mailer_daemon_sender: From=MAILER-DAEMON@amazonses.com',
      'delivery_status_report: Content-Type=multipart/report; report-type=delivery-status',
    ]);
  });

  it('leaves the corpus bulk spam human (spam is SES’s verdict), but never acknowledges its noreply sender', async () => {
    // Prepare
    const mail = await parsed(corpusUrl('mailparser/spam.eml'));
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(result).toMatchObject({ ok: true, verdict: 'human' });
    expect(mail.from.map((box) => isNoReplySender(box.address))).toEqual([true]);
  });

  it('agrees with the header-level factory on every classify fixture', async () => {
    for (const name of readdirSync(fixtureUrl('./'))) {
      if (!name.endsWith('.eml')) continue;
      // Prepare
      const real = await parsed(fixtureUrl(name));
      // Act
      const viaParser = classifyMail(real, context);
      const viaFactory = classifyMail(fixture(name), context);
      // Assess
      expect(viaParser, name).toEqual(viaFactory);
    }
  });
});
