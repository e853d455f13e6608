import { type AeadAlgorithm, aeadOpen, aeadSealInto, DEFAULT_AEAD, NONCE_BYTES, TAG_BYTES } from '../../base/aead.js';
import {
  EpochKey,
  type EpochLimits,
  epochLimits,
  type KeyScheduleOptions,
  MAX_COUNTER,
  StreamPosition,
} from './key-schedule.js';
import { ReplayWindow } from './replay-window.js';
import { sealError } from './seal-error.js';

/**
 * Per-message AEAD for one direction of a session.
 *
 *   sealed  = counter (8 bytes, big-endian) || ciphertext || tag (16 bytes)
 *   nonce   = 4 zero bytes || counter (8 bytes, big-endian)          (96 bits)
 *   key     = the key of the counter's epoch (key-schedule.ts)
 *   aad     = what the caller binds to the message without sending it sealed (a frame header)
 *
 * Invariants:
 * - the nonce comes from the counter, never from randomness, and a sealer never uses a counter
 *   twice: counters only grow, and a key serves only its epoch's counters;
 * - the tag is always 16 bytes, pinned on the cipher and on the decipher;
 * - an opener hands out plaintext only after the tag verified, and a message it refuses (typed:
 *   truncated, tampered, replayed, too-old, out-of-order) changes none of its state;
 * - 'strict' ordering (ordered streams such as TCP): exactly the next counter is accepted, so a
 *   dropped, duplicated, moved or injected message is detected; 'window' ordering (unordered
 *   carriers): any counter inside the 2048-bit replay window is accepted once, in any order,
 *   within the previous, current or next key epoch.
 */
export const COUNTER_BYTES = 8;
/** Bytes a sealed message adds to its plaintext. */
export const SEAL_OVERHEAD = COUNTER_BYTES + TAG_BYTES;

export interface SealOptions extends KeyScheduleOptions {
  readonly algorithm?: AeadAlgorithm;
}

export type Ordering = 'strict' | 'window';

export interface OpenOptions extends SealOptions {
  /** 'strict' (default) for ordered streams, 'window' for carriers that may reorder. */
  readonly ordering?: Ordering;
}

const TWO_32 = 2 ** 32;

export class FrameSealer {
  readonly algorithm: AeadAlgorithm;
  /** Bytes 0..3 stay zero; 4..11 hold the counter. */
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  private readonly position: StreamPosition;

  constructor(key: Uint8Array, options: SealOptions = {}) {
    this.algorithm = options.algorithm ?? DEFAULT_AEAD;
    this.position = new StreamPosition(key, epochLimits(options));
  }

  /** The counter the next message will use. */
  get nextCounter(): number {
    return this.position.counter;
  }

  /** The current key epoch. */
  get epoch(): number {
    return this.position.epoch;
  }

  /** Seals `plaintext` into a new buffer: counter || ciphertext || tag. */
  seal(aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plaintext.length);
    this.sealInto(aad, plaintext, out, 0);
    return out;
  }

  /**
   * Seals `plaintext` into `out` at `offset` (SEAL_OVERHEAD + plaintext.length bytes): the caller
   * sizes its buffer once, e.g. a whole frame with its header in front, and nothing is copied again.
   * `plaintext` may be reused by the caller as soon as this returns.
   */
  sealInto(aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): void {
    const counter = this.position.counter;
    if (counter > MAX_COUNTER) {
      throw sealError('exhausted', 'the session has sealed 2^53 messages; reconnect to negotiate new keys');
    }
    const nonce = this.nonce;
    writeCounter(nonce, NONCE_BYTES - COUNTER_BYTES, counter);
    writeCounter(out, offset, counter);
    aeadSealInto(this.algorithm, this.position.key, nonce, aad, plaintext, out, offset + COUNTER_BYTES);
    this.position.advance(plaintext.length);
  }

  /** Zeroes the raw key bytes; the sealer is unusable after. */
  dispose(): void {
    this.position.wipe();
  }
}

export class FrameOpener {
  readonly algorithm: AeadAlgorithm;
  readonly ordering: Ordering;
  private readonly nonce = new Uint8Array(NONCE_BYTES);
  /** 'strict': the exact next counter and its key. */
  private readonly position: StreamPosition | undefined;
  /** 'window': the replay window and the keys of the epochs around the newest accepted one. */
  private readonly window: ReplayWindow | undefined;
  private readonly limits: EpochLimits;
  private previous: EpochKey | undefined;
  private current: EpochKey | undefined;
  private next: EpochKey | undefined;

  constructor(key: Uint8Array, options: OpenOptions = {}) {
    this.algorithm = options.algorithm ?? DEFAULT_AEAD;
    this.ordering = options.ordering ?? 'strict';
    this.limits = epochLimits(options);
    if (this.ordering === 'strict') {
      this.position = new StreamPosition(key, this.limits);
    } else {
      this.window = new ReplayWindow();
      this.current = new EpochKey(0, key);
    }
  }

  /** Verifies and decrypts a sealed message; throws a seal error (ParleyError) naming what failed. */
  open(aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (sealed.length < SEAL_OVERHEAD) {
      throw sealError(
        'truncated',
        `sealed message of ${sealed.length} bytes is shorter than its ${SEAL_OVERHEAD}-byte counter and tag`,
      );
    }
    const hi = readU32(sealed, 0);
    const counter = hi * TWO_32 + readU32(sealed, 4);
    if (counter > MAX_COUNTER) {
      throw sealError('tampered', `message counter above 2^53, which no Parley sender uses`);
    }
    const nonce = this.nonce;
    for (let i = 0; i < COUNTER_BYTES; i++) nonce[NONCE_BYTES - COUNTER_BYTES + i] = sealed[i]!;
    const ciphertext = sealed.subarray(COUNTER_BYTES, sealed.length - TAG_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    return this.position
      ? this.openStrict(counter, nonce, aad, ciphertext, tag)
      : this.openWindowed(counter, nonce, aad, ciphertext, tag);
  }

  private openStrict(
    counter: number,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array {
    const position = this.position!;
    if (counter !== position.counter) {
      throw counter < position.counter
        ? sealError('replayed', `message counter ${counter} was already used (next expected ${position.counter})`)
        : sealError(
            'out-of-order',
            `message counter ${counter} skips ahead of ${position.counter}: a message was dropped or injected`,
          );
    }
    const plaintext = aeadOpen(this.algorithm, position.key, nonce, aad, ciphertext, tag);
    position.advance(plaintext.length);
    return plaintext;
  }

  private openWindowed(
    counter: number,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array {
    const window = this.window!;
    const verdict = window.check(counter);
    if (verdict === 'replayed') throw sealError('replayed', `message counter ${counter} was already accepted`);
    if (verdict === 'too-old') {
      throw sealError(
        'too-old',
        `message counter ${counter} is older than the replay window (newest ${window.highest})`,
      );
    }
    const current = this.current!;
    const epoch = Math.floor(counter / this.limits.epochMessages);
    let key: EpochKey | undefined;
    if (epoch === current.epoch) key = current;
    else if (epoch === current.epoch - 1) key = this.previous;
    else if (epoch === current.epoch + 1) key = this.next ??= current.next();
    else if (epoch > current.epoch) {
      throw sealError('out-of-order', `message counter ${counter} is more than one key epoch ahead`);
    }
    if (!key) throw sealError('too-old', `message counter ${counter} belongs to a key epoch already forgotten`);
    const plaintext = aeadOpen(this.algorithm, key.key, nonce, aad, ciphertext, tag);
    window.accept(counter);
    if (key === this.next) {
      this.previous?.wipe();
      this.previous = current;
      this.current = key;
      this.next = undefined;
    }
    return plaintext;
  }

  /** Zeroes the raw key bytes; the opener is unusable after. */
  dispose(): void {
    this.position?.wipe();
    this.previous?.wipe();
    this.current?.wipe();
    this.next?.wipe();
  }
}

function writeCounter(target: Uint8Array, offset: number, counter: number): void {
  const hi = Math.floor(counter / TWO_32);
  const lo = counter >>> 0;
  target[offset] = hi >>> 24;
  target[offset + 1] = (hi >>> 16) & 0xff;
  target[offset + 2] = (hi >>> 8) & 0xff;
  target[offset + 3] = hi & 0xff;
  target[offset + 4] = lo >>> 24;
  target[offset + 5] = (lo >>> 16) & 0xff;
  target[offset + 6] = (lo >>> 8) & 0xff;
  target[offset + 7] = lo & 0xff;
}

function readU32(data: Uint8Array, offset: number): number {
  return ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
}
