/** Reason codes of the deliver stage (DeliveryRecord.reason, TransientError.code). */
export const DeliverReason = {
  /** The issue was created. */
  issueCreated: 'issue_created',
  /** The note was added. */
  noteAdded: 'note_added',
  /** The ledger says this mail was already delivered to this project: nothing was sent again. */
  duplicateDelivery: 'duplicate_delivery',
  /** A crashed attempt had already made the issue or note; found by its hidden marker, nothing was made again. */
  recoveredByMarker: 'recovered_by_marker',
  /** TransientError code: another worker holds the delivery's lease. */
  deliveryInProgress: 'delivery_in_progress',
} as const;
export type DeliverReason = (typeof DeliverReason)[keyof typeof DeliverReason];
