import { type BackoffOptions, backoffDelay } from '../base/backoff.js';
import type { CancelTimer, Timer } from '../base/clock.js';
import type { Random } from '../base/random.js';

/**
 * Redials lost peers with exponential backoff and full jitter: redial number n of a peer waits
 * uniform [0, min(maxMs, baseMs·2ⁿ)) ms. The caller says what a redial is and whether a failed
 * one should be retried; this only keeps the per-peer attempt counts and timers.
 *
 * Invariants: at most one redial timer per peer; a peer's attempt count grows by one per
 * scheduled redial and restarts at 0 on reset(); after cancelAll() nothing fires.
 */
export class Redialer {
  private readonly peers = new Map<string, { attempt: number; cancel: CancelTimer | undefined }>();

  constructor(
    private readonly options: { readonly timer: Timer; readonly random: Random; readonly backoff: BackoffOptions },
  ) {}

  /** Runs `redial` for `peerId` after the next backoff delay, replacing a redial already scheduled. */
  schedule(peerId: string, redial: () => void): void {
    let entry = this.peers.get(peerId);
    if (!entry) {
      entry = { attempt: 0, cancel: undefined };
      this.peers.set(peerId, entry);
    }
    entry.cancel?.();
    const delay = backoffDelay(entry.attempt++, this.options.backoff, this.options.random);
    const current = entry;
    current.cancel = this.options.timer.setTimeout(() => {
      current.cancel = undefined;
      redial();
    }, delay);
  }

  /** True while a redial of `peerId` is waiting for its delay. */
  isScheduled(peerId: string): boolean {
    return this.peers.get(peerId)?.cancel !== undefined;
  }

  /** The peer is back (or forgotten): cancels its redial and restarts its backoff. */
  reset(peerId: string): void {
    this.peers.get(peerId)?.cancel?.();
    this.peers.delete(peerId);
  }

  cancelAll(): void {
    for (const entry of this.peers.values()) entry.cancel?.();
    this.peers.clear();
  }
}
