import type { CancelTimer, Timer } from '../base/clock.js';
import { type LivenessSettings, livenessTickMs } from './liveness.js';

/**
 * When the mesh checks its connections' liveness: every livenessTickMs, each check told whether
 * this process stalled before it.
 *
 * Invariants: checks never overlap and stop for good at stop(); a check that runs later than
 * half the idle timeout after it was due reports `stalled` — this process did not run (GC, a
 * blocking handler, a paused VM), so what peers sent meanwhile is still unread in the sockets and
 * silence proves nothing yet (livenessAction then closes nothing).
 */
export class LivenessTicker {
  private cancel: CancelTimer | undefined;
  private stopped = false;

  constructor(
    private readonly timer: Timer,
    private readonly settings: LivenessSettings,
    private readonly check: (stalled: boolean) => void,
  ) {}

  start(): void {
    const tickMs = livenessTickMs(this.settings);
    const due = this.timer.now() + tickMs;
    this.cancel = this.timer.setTimeout(() => {
      if (this.stopped) return;
      this.check(this.timer.now() - due > this.settings.idleTimeoutMs / 2);
      this.start();
    }, tickMs);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }
}
