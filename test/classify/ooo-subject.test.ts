import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { oooSubject } from '../../core/stages/classify/rules/ooo-subject.ts';
import { cpuMs } from '../support/cpu-time.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('ooo_subject', () => {
  it('fires on Outlook’s German "Abwesenheitsnotiz:" with no other header', () => {
    // Prepare
    const mail = fixture('ooo-subject-de.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(oooSubject.test(mail, context)).toBe('Subject=Abwesenheitsnotiz: Rechnung 2024-117');
    expect(result).toMatchObject({ verdict: 'out_of_office', reason: 'ooo_subject' });
  });

  it('fires on a Japanese "自動応答:" subject written as an ISO-2022-JP encoded word', () => {
    const mail = fixture('ooo-subject-ja.eml');
    expect(mail.subject).toBe('自動応答: 請求書の件');
    expect(oooSubject.test(mail, context)).toBe('Subject=自動応答: 請求書の件');
  });

  it.each([
    'Automatic reply: Printer is broken',
    'Out of Office: Printer is broken',
    'Out of Office AutoReply: Printer is broken',
    'Out of the office',
    'AUTOMATIC REPLY',
    'Auto-Reply: Printer',
    'Autoreply: Printer',
    'Automatische Antwort: Drucker',
    'Réponse automatique : Imprimante',
    'Respuesta automática: Impresora',
    'Risposta automatica: Stampante',
    'Automatisch antwoord: Printer',
    'Automatiskt svar: Skrivare',
    'Автоматический ответ: Принтер',
    '自動返信：プリンター',
    '自动回复: 打印机',
    '自動回覆: 印表機',
  ])('fires on %j', (subject) => {
    expect(oooSubject.test(withHeaders([], { subject }), context)).toBeDefined();
  });

  it.each([
    'Re: Automatic reply: is the out of office setting supported?',
    'Out of office hours support?',
    'Automatic replyers are annoying',
    'Question about our Abwesenheitsnotiz template',
    '',
  ])('does not fire on a person’s subject %j', (subject) => {
    expect(oooSubject.test(withHeaders([], { subject }), context)).toBeUndefined();
  });

  it('classifies the person replying to an auto-reply as human', () => {
    expect(classifyMail(fixture('human-ooo-words.eml'), context)).toMatchObject({ verdict: 'human' });
  });

  it('stays linear on a hostile 200 kB subject', () => {
    const subject = `${'out of office '.repeat(15_000)}x`;
    const started = cpuMs();
    expect(oooSubject.test(withHeaders([], { subject }), context)).toBeUndefined();
    expect(cpuMs() - started).toBeLessThan(200);
  });
});
