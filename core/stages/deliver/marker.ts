import { sha256Hex } from '../../state/json.ts';

/**
 * The hidden delivery marker: an HTML comment at the end of the issue description or note body,
 * `<!-- postdesk:pd-<24 hex> -->`, which GitLab's Markdown renders as nothing. After a crash
 * between the forge call and the ledger's completion, the next worker searches for it
 * (`findIssueByMarker` / `findNoteByMarker`) instead of creating a second issue.
 *
 * Why a hash of (mail id, project path) rather than the ids themselves:
 * - searchable: one token of fixed shape, made only of `[a-z0-9-]`, that GitLab's issue search
 *   and a plain substring test both find, and that cannot collide with words in customer text;
 * - deterministic: every retry of the same mail for the same project computes the same marker,
 *   and two projects that receive the same mail get different markers;
 * - not guessable and no PII: the SES message id is not known to customers, the marker reveals
 *   neither it nor any address, and 96 bits make an accidental match practically impossible.
 */
export const deliveryMarker = (mailId: string, projectPath: string): string =>
  `pd-${sha256Hex(`${mailId}\0${projectPath}`, 24)}`;

export const markerComment = (marker: string): string => `<!-- postdesk:${marker} -->`;

/** The text with the marker comment appended on its own paragraph. */
export const withMarker = (text: string, marker: string): string => {
  const body = text.replace(/\s+$/, '');
  return body === '' ? markerComment(marker) : `${body}\n\n${markerComment(marker)}`;
};
