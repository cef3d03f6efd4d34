import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { failedRecipientsHeader } from '../../core/stages/classify/rules/failed-recipients-header.ts';
import { context, fixture } from './support.ts';

describe('failed_recipients_header', () => {
  it('fires on an Exim bounce and wins over its Auto-Submitted: auto-replied', () => {
    // Prepare
    const mail = fixture('failed-recipients-header.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(failedRecipientsHeader.test(mail, context)).toBe('X-Failed-Recipients=old-customer@example.net');
    expect(result).toMatchObject({ verdict: 'bounce' });
    expect(result.ok && result.value.signals).toEqual([
      'mailer_daemon_sender: From=Mailer-Daemon@mx.example.net',
      'failed_recipients_header: X-Failed-Recipients=old-customer@example.net',
      'auto_submitted: Auto-Submitted=auto-replied',
    ]);
  });

  it('does not fire without the header', () => {
    expect(failedRecipientsHeader.test(fixture('null-return-path.eml'), context)).toBeUndefined();
  });
});
