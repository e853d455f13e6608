import { hash32 } from '../base/hash32.js';
import { ParleyError } from '../wire/parley-error.js';

/**
 * Which partition of a stream a message key goes to: `hash32(key) mod partitions`, so all the
 * messages of one key land in one partition, in publish order.
 *
 * Invariant: the mapping is part of the stored data's meaning. A key must map to the same
 * partition on every member, client and version, for as long as a stream exists; the test pins
 * known values, and changing the hash would re-route keys of existing streams (breaking per-key
 * order). That is also why a stream's partition count cannot change (stream-config.ts).
 */

/** The partition (0-based) of `key` in a stream of `partitions` partitions. */
export function partitionOfKey(key: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new ParleyError('INVALID_ARGUMENT', `partitions must be an integer ≥ 1, not ${String(partitions)}`);
  }
  return partitions === 1 ? 0 : hash32(key) % partitions;
}
