import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { KEY_BYTES } from '../../base/aead.js';
import { sealError } from './seal-error.js';

/**
 * Key epochs: one direction of a session changes key deterministically, without a message, before
 * any key wears out. Both sides compute the same schedule from what they already share.
 *
 *   key(0)     = the session key from the handshake (session-keys.ts)
 *   key(e + 1) = HKDF-SHA256(key(e), salt = none, info = "parley v1 rekey", 32 bytes)
 *   counters of epoch e start at e × epochMessages
 *
 * An epoch ends when it has sealed `epochMessages` messages or `epochBytes` bytes of plaintext,
 * whichever comes first; the next message then uses the first counter of the next epoch (after a
 * byte-triggered end the rest of the epoch's counters are skipped). A receiver of an ordered
 * stream sees the same sizes in the same order and so knows the exact next counter; a receiver of
 * an unordered stream takes the epoch from the counter.
 *
 * Why these limits (defaults): 2^32 messages and 2^36 bytes (64 GiB, 2^32 AES blocks) per key
 * keep AES-256-GCM's confidentiality advantage under about 2^-63 (blocks + messages ≤ 2^33,
 * squared over 2^129, draft-irtf-cfrg-aead-limits) and far inside ChaCha20-Poly1305's. Forgery
 * attempts are bounded by the protocol: the first frame that fails to open closes the connection.
 * With 2^53 counters (exact JavaScript integers) a session can hold 2^21 epochs before it is
 * exhausted and must be renegotiated.
 *
 * Forward secrecy within a session: a previous epoch's key cannot be computed from the current one
 * (HKDF is one-way); the raw bytes of a superseded key are zeroed.
 */
export interface KeyScheduleOptions {
  /** Messages per key epoch (default 2^32). A test hook: both sides must use the same value. */
  readonly epochMessages?: number;
  /** Plaintext bytes per key epoch (default 2^36). A test hook: both sides must use the same value. */
  readonly epochBytes?: number;
}

export const DEFAULT_EPOCH_MESSAGES = 2 ** 32;
export const DEFAULT_EPOCH_BYTES = 2 ** 36;
/** The last counter a sender may use: counters are exact JavaScript integers. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export interface EpochLimits {
  readonly epochMessages: number;
  readonly epochBytes: number;
}

export function epochLimits(options: KeyScheduleOptions = {}): EpochLimits {
  const epochMessages = options.epochMessages ?? DEFAULT_EPOCH_MESSAGES;
  const epochBytes = options.epochBytes ?? DEFAULT_EPOCH_BYTES;
  if (!Number.isSafeInteger(epochMessages) || epochMessages < 1 || epochMessages > DEFAULT_EPOCH_MESSAGES) {
    throw new RangeError(`epochMessages must be an integer in [1, 2^32], got ${epochMessages}`);
  }
  if (!Number.isSafeInteger(epochBytes) || epochBytes < 1 || epochBytes > DEFAULT_EPOCH_BYTES) {
    throw new RangeError(`epochBytes must be an integer in [1, 2^36], got ${epochBytes}`);
  }
  return { epochMessages, epochBytes };
}

/** One epoch's key: the raw bytes (to derive the next) and the KeyObject the cipher uses. */
export class EpochKey {
  readonly key: KeyObject;
  private raw: Uint8Array;

  constructor(
    readonly epoch: number,
    raw: Uint8Array,
  ) {
    if (raw.length !== KEY_BYTES) {
      throw sealError('bad-key', `session key is ${raw.length} bytes, expected ${KEY_BYTES}`);
    }
    this.raw = Uint8Array.from(raw);
    this.key = createSecretKey(this.raw);
  }

  next(): EpochKey {
    return new EpochKey(this.epoch + 1, new Uint8Array(hkdfSync('sha256', this.raw, EMPTY, REKEY_INFO, KEY_BYTES)));
  }

  /** Zeroes the raw bytes (the KeyObject's copy lives until it is collected). */
  wipe(): void {
    this.raw.fill(0);
  }
}

const EMPTY = new Uint8Array(0);
const REKEY_INFO = 'parley v1 rekey';

/**
 * The position of one direction of an ordered stream: the next counter, and the epoch's key.
 * The sealer and a strict opener each hold one and advance it with the same sizes.
 */
export class StreamPosition {
  /** The counter the next message uses. */
  counter = 0;
  private bytesInEpoch = 0;
  private current: EpochKey;

  constructor(
    key0: Uint8Array,
    private readonly limits: EpochLimits,
  ) {
    this.current = new EpochKey(0, key0);
  }

  get key(): KeyObject {
    return this.current.key;
  }

  get epoch(): number {
    return this.current.epoch;
  }

  /** Moves past a message of `plaintextLength` bytes sealed (or opened) at `counter`. */
  advance(plaintextLength: number): void {
    this.counter++;
    this.bytesInEpoch += plaintextLength;
    const nextEpochStart = (this.current.epoch + 1) * this.limits.epochMessages;
    if (this.counter === nextEpochStart || this.bytesInEpoch >= this.limits.epochBytes) {
      const next = this.current.next();
      this.current.wipe();
      this.current = next;
      this.counter = nextEpochStart;
      this.bytesInEpoch = 0;
    }
  }

  wipe(): void {
    this.current.wipe();
  }
}
