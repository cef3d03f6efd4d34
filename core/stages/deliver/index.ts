export { claimDelivery, type DeliveryClaim, underClaim } from './claim.ts';
export {
  type DeliverContext,
  type DeliverInput,
  type DeliverPlanInput,
  type Delivery,
  deliverPlan,
} from './deliver.ts';
export { type DeliverIssueInput, deliverIssue, issueDelivery } from './issue.ts';
export { deliveryMarker, markerComment, withMarker } from './marker.ts';
export { type DeliverNoteInput, deliverNote, noteDelivery, notePlan, reopenNoteBody } from './note.ts';
export { DeliverReason } from './reasons.ts';
export { DEFAULT_UPLOAD_CONCURRENCY, replaceUploadLinks, uploadAll, uploadSummaries } from './uploads.ts';
