export { claimDelivery, type DeliveryClaim, underClaim } from './claim.ts';
export { type DeliverIssueInput, deliverIssue } from './issue.ts';
export { deliveryMarker, markerComment, withMarker } from './marker.ts';
export { type DeliverNoteInput, deliverNote, reopenNoteBody } from './note.ts';
export { DeliverReason } from './reasons.ts';
export { DEFAULT_UPLOAD_CONCURRENCY, replaceUploadLinks, uploadAll } from './uploads.ts';
