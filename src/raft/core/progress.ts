import { invariant } from './errors.js';
import { Inflights } from './inflights.js';

/**
 * How the leader replicates to one follower:
 * - 'probe': the leader does not know where the follower's log matches; it sends at most one
 *   MsgApp per heartbeat interval and backs `next` off on rejections.
 * - 'replicate': the logs match up to `match`; the leader streams entries optimistically
 *   (advancing `next` as it sends), bounded by the inflights buffer.
 * - 'snapshot': the follower needs a snapshot (the entries it lacks were compacted); nothing is
 *   sent until the snapshot is reported applied or failed.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * The leader's view of one follower.
 *
 * Invariant: 0 <= match < next. In 'snapshot' state, pendingSnapshot > 0.
 */
export class Progress {
  match: number;
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot being sent, in 'snapshot' state. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In 'probe' state: a probe is outstanding; in 'replicate': the inflights buffer is full. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflightMsgs: number, maxInflightBytes: number, isLearner: boolean) {
    this.match = 0;
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
    this.isLearner = isLearner;
    this.check();
  }

  check(): void {
    invariant(
      this.match >= 0 && this.match < this.next,
      () => `progress: need 0 <= match(${this.match}) < next(${this.next})`,
    );
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot's entries.
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
    this.check();
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    invariant(snapshotIndex > 0, 'snapshot index must be > 0');
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Bookkeeping after sending a MsgApp carrying `entries` entries (`bytes` payload) starting at next. */
  sentEntries(entries: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next += entries;
        this.inflights.add(this.next - 1, bytes);
      }
      this.msgAppFlowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      if (entries > 0) this.msgAppFlowPaused = true;
    } else {
      invariant(false, 'sending entries in snapshot state');
    }
  }

  /** The follower acknowledged `index`. Returns false if the ack is stale (index <= match). */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    if (this.next <= index) this.next = index + 1;
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * The follower rejected a MsgApp whose preceding index was `rejected`; `matchHint` is the
   * largest index that may match. Returns false when the rejection is stale (out of order).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // The rejection must be stale if it is at or below what we know matches.
      if (rejected <= this.match) return false;
      // Resend from right after the known match.
      this.next = this.match + 1;
      return true;
    }
    // Probe: the rejection must be for the probe we sent (next - 1), else it is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    this.check();
    return true;
  }

  /** Whether the leader should hold off sending MsgApp to this follower. */
  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.msgAppFlowPaused;
  }
}
