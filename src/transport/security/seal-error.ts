import { ParleyError } from '../../wire/parley-error.js';
import type { ErrorCode } from '../../wire/status.js';

/**
 * Why a sealed message was refused (or could not be sealed). Carried in
 * `ParleyError.details.reason`, so callers branch on a value, never on a message string.
 */
export type SealErrorReason =
  /** Shorter than counter + tag (24 bytes): cut, or never sealed. */
  | 'truncated'
  /** The tag did not verify: a bit of the counter, ciphertext, tag or header (AAD) changed, the wrong key, or a frame that was never sealed. */
  | 'tampered'
  /** This counter was already accepted. */
  | 'replayed'
  /** The counter is older than the replay window (or than the previous key epoch). */
  | 'too-old'
  /** On a strictly ordered stream: a counter other than the next one (a frame was dropped, moved or injected). */
  | 'out-of-order'
  /** A frame in the clear where only sealed frames are accepted. */
  | 'unsealed'
  /** Sealed content that opened but is not a well-formed sequence of frames: the peer is broken. */
  | 'malformed'
  /** The sender's counter space is used up: the session must be renegotiated (a new handshake). */
  | 'exhausted'
  /** A key or public key of the wrong size or value (a low-order X25519 point, an all-zero shared secret). */
  | 'bad-key';

const CODE_OF: Record<SealErrorReason, ErrorCode> = {
  truncated: 'UNAUTHENTICATED',
  tampered: 'UNAUTHENTICATED',
  replayed: 'UNAUTHENTICATED',
  'too-old': 'UNAUTHENTICATED',
  'out-of-order': 'UNAUTHENTICATED',
  unsealed: 'UNAUTHENTICATED',
  malformed: 'INVALID_ARGUMENT',
  exhausted: 'RESOURCE_EXHAUSTED',
  'bad-key': 'UNAUTHENTICATED',
};

export function sealError(reason: SealErrorReason, message: string, cause?: unknown): ParleyError {
  return new ParleyError(CODE_OF[reason], message, { details: { reason }, cause });
}

/** True when `err` is a seal error, with the given reason when one is given. */
export function isSealError(err: unknown, reason?: SealErrorReason): err is ParleyError {
  if (!(err instanceof ParleyError)) return false;
  const got = (err.details as { reason?: unknown } | undefined)?.reason;
  return reason === undefined ? typeof got === 'string' && got in CODE_OF : got === reason;
}
