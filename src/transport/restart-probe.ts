import type { Timer } from '../base/clock.js';
import { sendPing } from './liveness-ticker.js';
import type { ConnectionState } from './mesh-state.js';

/**
 * Is a restarted peer's old connection alive? Asked when a newcomer proved the identity the old
 * connection proved (handshake.ts, verdict `probe`) while the old one was heard from lately: the
 * old connection gets a PING, and the answer is whether anything arrived on it within a few round
 * trips. Nothing: its process is gone (a crash, a frozen VM, a dead link) and the newcomer may
 * replace it at once instead of waiting for the idle timeout. Something: two live processes share
 * the identity, and the newcomer is a duplicate.
 *
 * Invariant: the probe lasts at least RESTART_PROBE_MS and four round trips, at most a quarter of
 * the handshake deadline (the newcomer is held meanwhile and must not time out); `answered` is
 * called exactly once.
 */

/** The least time an old connection has to answer before a proven newcomer replaces it. */
export const RESTART_PROBE_MS = 200;

export function probeOldConnection(
  timer: Timer,
  old: ConnectionState | undefined,
  rttMs: number | undefined,
  handshakeTimeoutMs: number,
  answered: (alive: boolean) => void,
): void {
  const since = timer.now();
  if (old) sendPing(old, since);
  const probeMs = Math.min(handshakeTimeoutMs / 4, Math.max(RESTART_PROBE_MS, 4 * (rttMs ?? 0)));
  timer.setTimeout(() => answered(old !== undefined && !old.connection.closed && old.lastReceived >= since), probeMs);
}
