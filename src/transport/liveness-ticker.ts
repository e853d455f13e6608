import type { CancelTimer, Timer } from '../base/clock.js';
import { PacketType } from '../wire/frame.js';
import { type LivenessSettings, livenessAction, livenessTickMs } from './liveness.js';
import type { Logger } from './logger.js';
import type { ConnectionState, PeerState } from './mesh-state.js';

/**
 * When the mesh checks its connections' liveness: every livenessTickMs, each check told whether
 * this process stalled before it; and what one check does to a connection (checkConnection).
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

/**
 * One connection's liveness step at `now`: livenessAction's verdict, carried out. `sending` is the
 * peer whose sending connection it is, if it is one (its outbound queue is watched).
 */
export function checkConnection(
  state: ConnectionState,
  sending: PeerState | undefined,
  now: number,
  settings: LivenessSettings,
  stalled: boolean,
  logger: Logger,
): void {
  // The queue drained since it was full: the peer reads, however slowly.
  if (sending?.outboundFullSince !== undefined && state.connection.pendingBytes < sending.queuedWhenFull) {
    sending.outboundFullSince = undefined;
  }
  const times = {
    openedAt: state.openedAt,
    lastReceived: state.lastReceived,
    handshaken: state.peerId !== undefined,
    pingOutstanding: state.pingSentAt !== undefined,
    outboundFullSince: sending?.outboundFullSince,
  };
  const action = livenessAction(times, now, settings, stalled);
  if (action.kind === 'close') state.connection.destroy(new Error(action.reason));
  else if (action.kind === 'drop') {
    logger.warn(`dropping the connection to '${state.peerId}': ${action.reason}`);
    state.connection.destroy(new Error(action.reason));
  } else if (action.kind === 'ping') sendPing(state, now);
}

/** Sends a PING and marks one outstanding; a closed or full connection is left to the close handler or the idle timeout. */
export function sendPing(state: ConnectionState, now: number): void {
  state.pingSentAt ??= now;
  try {
    state.connection.send(PacketType.PING, 0, 0, new Uint8Array(0));
  } catch {
    // closed or full
  }
}
