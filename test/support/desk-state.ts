import type { Clock, ObjectStore } from '../../core/ports.ts';
import { systemClock } from '../../core/ports.ts';
import { type DeskState, objectStoreState } from '../../core/state/index.ts';

/**
 * The desk's state on an object store, as the pipeline and the outbound code get it. A test that
 * only reads what a run wrote may leave the clock at the wall clock; one that writes passes its own.
 */
export const deskState = (store: ObjectStore, clock: Clock = systemClock): DeskState =>
  objectStoreState(store, { clock });
