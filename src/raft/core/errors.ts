import { ParleyError } from '../../wire/parley-error.js';
import type { ErrorCode } from '../../wire/status.js';

/**
 * Why the raft core (or a Storage) refused something. Carried in `ParleyError.details.reason`
 * so callers branch on a value, never on a message string.
 */
export type RaftErrorReason =
  /** A proposal was not accepted: no leader known, leader transfer in progress, or too many uncommitted bytes. Retry later. */
  | 'proposal-dropped'
  /** Storage: the requested index is below the first index (compacted into a snapshot). */
  | 'compacted'
  /** Storage: the requested index is above the last index. */
  | 'unavailable'
  /** Storage: the snapshot to apply/create is older than the one already held. */
  | 'snapshot-out-of-date'
  /** Storage: a snapshot is being built; the leader retries later. */
  | 'snapshot-temporarily-unavailable'
  /** step() was given a message type that only the node itself may generate (MsgHup, MsgBeat, ...). */
  | 'step-local-message'
  /** step() was given a response from a node that is not in the configuration. */
  | 'step-peer-not-found'
  /** The configuration (RaftConfig or a ConfChange) is invalid. */
  | 'invalid-config'
  /** A message from the network has a field of the wrong type or out of range (see wire-message.ts). */
  | 'invalid-message'
  /** An internal invariant was violated: a bug, never a user error. */
  | 'invariant';

const CODE_OF: Record<RaftErrorReason, ErrorCode> = {
  'proposal-dropped': 'UNAVAILABLE',
  compacted: 'OUT_OF_RANGE',
  unavailable: 'OUT_OF_RANGE',
  'snapshot-out-of-date': 'FAILED_PRECONDITION',
  'snapshot-temporarily-unavailable': 'UNAVAILABLE',
  'step-local-message': 'INVALID_ARGUMENT',
  'step-peer-not-found': 'NOT_FOUND',
  'invalid-config': 'INVALID_ARGUMENT',
  'invalid-message': 'INVALID_ARGUMENT',
  invariant: 'INTERNAL',
};

export function raftError(reason: RaftErrorReason, message: string): ParleyError {
  return new ParleyError(CODE_OF[reason], message, { details: { reason } });
}

/** True when `err` is a raft error with the given reason. */
export function isRaftError(err: unknown, reason: RaftErrorReason): err is ParleyError {
  return err instanceof ParleyError && (err.details as { reason?: unknown } | undefined)?.reason === reason;
}

/** Fails loudly: an invariant of the core does not hold. This is always a bug. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw raftError('invariant', `raft invariant violated: ${typeof message === 'string' ? message : message()}`);
  }
}

/** Refuses a proposal (or a local ReadIndex): the caller may retry, typically on another leader. */
export function dropProposal(why: string): never {
  throw raftError('proposal-dropped', `proposal dropped: ${why}`);
}
