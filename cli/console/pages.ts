import type { FileIssueView, FileThread } from '../../adapters/forges/file/index.ts';
import type { ProjectConfig } from '../../core/config/schema.ts';
import type { QuarantineEntry } from '../../core/state/quarantine.ts';
import type { Participant } from '../../core/state/tickets.ts';
import type { DecisionTrace } from '../../core/trace.ts';
import type { QueueEntry } from '../local-queue.ts';
import { type Html, html, raw } from './html.ts';
import type { OutboxMail } from './outbox.ts';

/** The console's pages, server-rendered. Every value from mail or the forge goes through `html`. */

export interface TicketRow {
  issue: FileIssueView;
  customers: Participant[];
  lastActivity: string;
}

const when = (iso: string | Date): string => {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace('T', ' ').slice(0, 19);
};

const ticketUrl = (project: ProjectConfig, iid: number): string =>
  `/tickets/${encodeURIComponent(project.key)}/${iid}`;

const csrfField = (token: string): Html => html`<input type="hidden" name="csrf" value="${token}">`;

const customerList = (customers: readonly Participant[]): Html =>
  html`${customers.map(
    (customer, index) =>
      html`${index > 0 ? ', ' : ''}<span class="customer" title="${customer.address}">${customer.name || customer.address}</span>`,
  )}`;

export const ticketsPage = (
  projects: { project: ProjectConfig; rows: TicketRow[] }[],
  forgeNote: string | undefined,
): Html =>
  html`<h1>Tickets</h1>
${forgeNote === undefined ? '' : html`<p class="notice">${forgeNote}</p>`}
${projects.map(
  ({ project, rows }) => html`<section class="project">
<h2>${project.path} <small>mail to ${project.key}</small></h2>
${
  rows.length === 0
    ? html`<p class="empty">No tickets yet.</p>`
    : html`<table class="tickets"><thead><tr><th>#</th><th>Title</th><th>State</th><th>Labels</th><th>Customer</th><th>Last activity</th></tr></thead><tbody>
${rows.map(
  (
    row,
  ) => html`<tr data-iid="${row.issue.iid}"><td>${row.issue.iid}</td><td><a href="${ticketUrl(project, row.issue.iid)}">${row.issue.title}</a></td>
<td><span class="state ${row.issue.state}">${row.issue.state === 'opened' ? 'open' : 'closed'}</span></td>
<td>${row.issue.labels.map((label) => html`<span class="label">${label}</span> `)}</td>
<td>${customerList(row.customers)}</td><td>${when(row.lastActivity)}</td></tr>`,
)}
</tbody></table>`
}
</section>`,
)}`;

export type ThreadItem =
  | { kind: 'description'; at: string; html: string }
  | { kind: 'note'; at: string; id: number; internal: boolean; author?: string | undefined; html: string }
  | { kind: 'sent'; at: string; mail: OutboxMail };

const threadItem = (item: ThreadItem): Html => {
  switch (item.kind) {
    case 'description':
      return html`<article class="entry description"><header>Opened ${when(item.at)}</header><div class="md">${raw(item.html)}</div></article>`;
    case 'note':
      return html`<article class="entry note ${item.internal ? 'internal' : 'public'}" data-note="${item.id}">
<header>${item.internal ? 'Internal note' : 'Comment'} ${item.author === undefined ? 'by the desk (customer mail)' : html`by <b>${item.author}</b>`} · ${when(item.at)}</header>
<div class="md">${raw(item.html)}</div></article>`;
    case 'sent':
      return html`<article class="entry sent"><header>Mail sent to ${item.mail.to} · ${when(item.mail.date)}</header>
<p class="subject">${item.mail.subject}</p><pre class="mailtext">${item.mail.text}</pre>
<p class="meta">Reply-To: ${item.mail.replyTo}</p></article>`;
  }
};

export const traceTable = (trace: DecisionTrace): Html =>
  html`<details class="trace" data-mail="${trace.mailId}"><summary>${when(trace.receivedAt)} · ${trace.mail.from ?? '(no sender)'} · ${trace.mail.subject ?? ''} → <b>${trace.outcome}</b> (${trace.reason})</summary>
<p>${trace.message}</p>
<table><thead><tr><th>Stage</th><th>Project</th><th>Verdict</th><th>Reason</th><th>ms</th></tr></thead><tbody>
${trace.stages.map(
  (stage) =>
    html`<tr><td>${stage.stage}</td><td>${stage.project ?? ''}</td><td>${stage.verdict}</td><td><code>${stage.reason}</code>${stage.message === undefined ? '' : html` ${stage.message}`}</td><td>${stage.ms.toFixed(1)}</td></tr>`,
)}
</tbody></table></details>`;

export const ticketPage = (
  project: ProjectConfig,
  thread: FileThread,
  customers: readonly Participant[],
  items: readonly ThreadItem[],
  traces: readonly DecisionTrace[],
): Html => {
  const { issue } = thread;
  return html`<h1>${project.path}#${issue.iid} <span class="title">${issue.title}</span></h1>
<p class="meta"><span class="state ${issue.state}">${issue.state === 'opened' ? 'open' : 'closed'}</span>
${issue.confidential ? html`<span class="label">confidential</span>` : ''}
${issue.labels.map((label) => html`<span class="label">${label}</span> `)}
Customers: ${customerList(customers)}</p>
<section class="thread">${items.map(threadItem)}</section>
<section class="traces"><h2>Inbound mail, stage by stage</h2>
${traces.length === 0 ? html`<p class="empty">No decision traces kept for this ticket.</p>` : traces.map(traceTable)}
</section>`;
};

export const replyBox = (
  project: ProjectConfig,
  iid: number,
  state: 'opened' | 'closed',
  csrf: string,
): Html =>
  html`<form class="reply" method="post" action="/-/reply/${encodeURIComponent(project.key)}/${iid}">
${csrfField(csrf)}
<h2>Answer</h2>
<textarea name="message" rows="6" placeholder="Write the answer in Markdown" aria-label="Answer"></textarea>
<p><label><input type="radio" name="visibility" value="public" checked> Public (mailed to the customer)</label>
<label><input type="radio" name="visibility" value="internal"> Internal note</label></p>
<p><label>Then <select name="state"><option value="">leave it ${state === 'opened' ? 'open' : 'closed'}</option>
${state === 'opened' ? html`<option value="close">close the ticket</option>` : html`<option value="reopen">reopen the ticket</option>`}</select></label>
<button type="submit">Send</button></p>
</form>`;

export const mailPage = (traces: readonly DecisionTrace[]): Html =>
  html`<h1>Mail</h1><p>Every mail the desk ran, newest first, with its decision trace.</p>
${traces.length === 0 ? html`<p class="empty">No mail yet.</p>` : traces.map(traceTable)}`;

export const quarantinePage = (entries: readonly QuarantineEntry[], csrf: string): Html =>
  html`<h1>Quarantine</h1>
${
  entries.length === 0
    ? html`<p class="empty">Nothing in quarantine.</p>`
    : entries.map(
        (
          entry,
        ) => html`<section class="quarantined" data-id="${entry.id}"><h2><code>${entry.id}</code> ${entry.reason}</h2>
<p>${entry.message}</p>${traceTable(entry.trace)}
${
  entry.releasedAt === undefined
    ? html`<form method="post" action="/-/quarantine/${encodeURIComponent(entry.id)}/release">${csrfField(csrf)}<button type="submit">Release</button></form>`
    : html`<p class="meta">Released ${when(entry.releasedAt)}</p>`
}</section>`,
      )
}`;

export const dlqPage = (entries: readonly QueueEntry[], csrf: string): Html =>
  html`<h1>Dead letters</h1>
${
  entries.length === 0
    ? html`<p class="empty">No dead letters.</p>`
    : html`<table><thead><tr><th>Mail</th><th>Received</th><th>Attempts</th><th>Error</th><th></th></tr></thead><tbody>
${entries.map(
  (
    entry,
  ) => html`<tr data-id="${entry.id}"><td><code>${entry.id}</code></td><td>${when(entry.receivedAt)}</td><td>${entry.attempts}</td>
<td>${entry.lastError === undefined ? '' : `${entry.lastError.code}: ${entry.lastError.message}`}</td>
<td><form method="post" action="/-/dlq/${encodeURIComponent(entry.id)}/redrive">${csrfField(csrf)}<button type="submit">Redrive</button></form></td></tr>`,
)}</tbody></table>`
}`;

export const messagePage = (title: string, text: string, back: string): Html =>
  html`<h1>${title}</h1><p>${text}</p><p><a href="${back}">Back</a></p>`;
