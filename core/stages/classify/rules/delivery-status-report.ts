import type { ClassifyRule } from '../types.ts';

/**
 * `Content-Type: multipart/report; report-type=delivery-status`: a DSN in the RFC 3464 format
 * (FreeScout `detectBounceByHeaders`). Both compared case-insensitively, as MIME says.
 */
export const deliveryStatusReport: ClassifyRule<'delivery_status_report'> = {
  reason: 'delivery_status_report',
  kind: 'bounce',
  test(mail) {
    if (mail.contentType.toLowerCase() !== 'multipart/report') return undefined;
    const reportType = mail.contentTypeParams['report-type']?.trim().toLowerCase();
    return reportType === 'delivery-status'
      ? 'Content-Type=multipart/report; report-type=delivery-status'
      : undefined;
  },
};
