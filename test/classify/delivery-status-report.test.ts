import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { deliveryStatusReport } from '../../core/stages/classify/rules/delivery-status-report.ts';
import { context, corpus, fixture, withHeaders } from './support.ts';

describe('delivery_status_report', () => {
  it('fires on SES’s multipart/report DSN (corpus: mailparser/delivery-status.eml)', () => {
    // Prepare
    const mail = corpus('mailparser/delivery-status.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(deliveryStatusReport.test(mail, context)).toBe(
      'Content-Type=multipart/report; report-type=delivery-status',
    );
    expect(result).toMatchObject({ verdict: 'bounce', reason: 'mailer_daemon_sender' });
    expect(result.ok && result.value.signals).toContain(
      'delivery_status_report: Content-Type=multipart/report; report-type=delivery-status',
    );
  });

  it('compares type and parameter case-insensitively', () => {
    const mail = withHeaders([], {
      contentType: 'Multipart/Report',
      contentTypeParams: { 'report-type': 'Delivery-Status' },
    });
    expect(deliveryStatusReport.test(mail, context)).toBeDefined();
  });

  it('does not fire on a read receipt (report-type=disposition-notification)', () => {
    // Prepare
    const mail = fixture('read-receipt-mdn.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(deliveryStatusReport.test(mail, context)).toBeUndefined();
    expect(result).toMatchObject({ verdict: 'human' });
  });
});
