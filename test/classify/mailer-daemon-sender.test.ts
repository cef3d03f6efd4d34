import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { mailerDaemonSender } from '../../core/stages/classify/rules/mailer-daemon-sender.ts';
import { context, corpus, fixture, withHeaders } from './support.ts';

describe('mailer_daemon_sender', () => {
  it('fires on a non-delivery report from postmaster@', () => {
    // Prepare
    const mail = fixture('mailer-daemon-sender.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(mailerDaemonSender.test(mail, context)).toBe('From=postmaster@example.net');
    expect(result).toMatchObject({ verdict: 'bounce', reason: 'mailer_daemon_sender' });
  });

  it('fires on SES’s own DSN from MAILER-DAEMON@amazonses.com (corpus), in any case', () => {
    const mail = corpus('mailparser/delivery-status.eml');
    expect(mailerDaemonSender.test(mail, context)).toBe('From=MAILER-DAEMON@amazonses.com');
  });

  it('fires on Exim’s Mailer-Daemon@ with a display name', () => {
    expect(mailerDaemonSender.test(fixture('failed-recipients-header.eml'), context)).toBe(
      'From=Mailer-Daemon@mx.example.net',
    );
  });

  it('does not fire on look-alike local parts or on the domain part', () => {
    expect(
      mailerDaemonSender.test(
        withHeaders([], { from: [{ name: '', address: 'postmaster-team@example.org' }] }),
        context,
      ),
    ).toBeUndefined();
    expect(
      mailerDaemonSender.test(
        withHeaders([], { from: [{ name: '', address: 'jane@mailer-daemon.example' }] }),
        context,
      ),
    ).toBeUndefined();
    expect(mailerDaemonSender.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
