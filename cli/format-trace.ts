import type { DecisionTrace, DeliveryRecord } from '../core/trace.ts';

/**
 * The decision trace for a person: the outcome first, then one line per stage with its verdict and
 * reason code (the code names the rule's file: `auto_submitted` is core/stages/classify/rules/...),
 * then what was (or would be) created.
 */
export const formatTrace = (label: string, trace: DecisionTrace): string => {
  const lines: string[] = [];
  const target =
    trace.routes.length > 0 ? ` in ${trace.routes.map((route) => route.project).join(', ')}` : '';
  lines.push(
    `${label}: ${trace.outcome.toUpperCase()}${target} (${trace.reason})${trace.dryRun ? '  [dry run]' : ''}`,
  );
  lines.push(`  ${trace.message}`);
  const { mail } = trace;
  if (mail.from || mail.subject) {
    lines.push(`  from ${mail.from ?? '(none)'}, subject ${JSON.stringify(mail.subject ?? '')}`);
  }
  lines.push('  stages:');
  for (const stage of trace.stages) {
    const where = stage.project ? ` [${stage.project}]` : '';
    const message = stage.message ? ` — ${stage.message}` : '';
    lines.push(
      `    ${`${stage.stage}${where}`.padEnd(28)} ${stage.verdict.padEnd(14)} ${stage.reason}${message}`,
    );
  }
  for (const delivery of trace.deliveries) lines.push(...formatDelivery(delivery));
  return lines.join('\n');
};

const formatDelivery = (delivery: DeliveryRecord): string[] => {
  const lines: string[] = [];
  if (delivery.issue) {
    const { issue } = delivery;
    lines.push(
      `  issue in ${delivery.project}${issue.iid ? ` #${issue.iid}` : ''}${issue.url ? ` ${issue.url}` : ''}:`,
    );
    lines.push(`    title: ${issue.title}`);
    lines.push(
      `    labels: ${issue.labels.join(', ') || '(none)'}; confidential: ${issue.confidential ? 'yes' : 'no'}`,
    );
    for (const upload of issue.uploads) {
      lines.push(
        `    upload: ${upload.filename} (${upload.contentType}, ${upload.size} bytes${upload.inline ? ', inline' : ''})`,
      );
    }
    lines.push('    description:');
    for (const line of issue.description.split('\n')) lines.push(`      | ${line}`);
  }
  if (delivery.note) {
    const { note } = delivery;
    lines.push(`  ${note.internal ? 'internal ' : ''}comment on ${delivery.project}#${note.issueIid}:`);
    for (const line of note.body.split('\n')) lines.push(`      | ${line}`);
  }
  return lines;
};
