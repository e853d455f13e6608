import { type Timer, wallTimer } from '../../base/clock.js';
import { ParleyError } from '../../wire/parley-error.js';

/**
 * Keeps a lease alive in the background: a keep-alive every ttl/3 (the first at once). `lost`
 * resolves when the lease is gone (expired or revoked: NOT_FOUND) — whoever relied on it must
 * stop acting on its behalf. Transient failures are retried at the next tick.
 */
export class LeaseKeeper {
  /** Resolves with the error once the lease is known to be gone; never rejects. */
  readonly lost: Promise<ParleyError>;
  private resolveLost!: (err: ParleyError) => void;
  private cancelBeat: () => void = () => {};
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly keepAlive: (id: number) => Promise<{ ttlMs: number }>,
    private readonly onStop: () => void,
    private readonly timer: Timer = wallTimer,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve;
    });
    void this.beat();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelBeat();
    this.onStop();
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    let ttlMs = 3000;
    try {
      const r = await this.keepAlive(this.id);
      ttlMs = r.ttlMs;
    } catch (err) {
      if (ParleyError.is(err, 'NOT_FOUND')) {
        this.resolveLost(ParleyError.from(err));
        this.stop();
        return;
      }
    }
    if (this.stopped) return;
    this.cancelBeat = this.timer.setTimeout(() => void this.beat(), Math.max(50, Math.floor(ttlMs / 3)));
  }
}
