/**
 * When a connection is pinged or declared dead, as a pure decision over its timestamps: the mesh
 * calls `livenessAction` for every connection on each tick and acts on the answer.
 *
 * Invariants: a connection without a completed handshake is closed once it is older than
 * handshakeTimeoutMs; a connection silent (nothing received) for more than idleTimeoutMs is
 * closed; a handshaken connection silent for keepaliveIntervalMs gets one PING, and no other
 * until a frame arrives (the PONG, or anything else); a connection whose outbound queue has been
 * full for more than idleTimeoutMs is closed as a peer that does not read, even if it keeps
 * sending (a peer that only sends is not alive for our purposes); on a tick that comes after this
 * process stalled, nothing is closed (what peers sent meanwhile is still unread): a handshaken
 * connection without a PING outstanding is pinged instead, and the next tick decides.
 */
export interface LivenessSettings {
  readonly keepaliveIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
}

/** The timestamps of one connection (ms on the mesh's clock). */
export interface ConnectionTimes {
  readonly openedAt: number;
  readonly lastReceived: number;
  readonly handshaken: boolean;
  /** A PING was sent and nothing has arrived since. */
  readonly pingOutstanding: boolean;
  /** When a send first failed because the outbound queue was full, if none succeeded since. */
  readonly outboundFullSince?: number | undefined;
}

export type LivenessAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'ping' }
  | { readonly kind: 'close'; readonly reason: string }
  /** The peer does not read: close it and say so (a warning, unlike a silent peer). */
  | { readonly kind: 'drop'; readonly reason: string };

const NONE: LivenessAction = { kind: 'none' };
const PING: LivenessAction = { kind: 'ping' };

export function livenessAction(c: ConnectionTimes, now: number, s: LivenessSettings, stalled = false): LivenessAction {
  const silent = now - c.lastReceived;
  if (stalled) return c.handshaken && !c.pingOutstanding ? PING : NONE;
  if (!c.handshaken && now - c.openedAt > s.handshakeTimeoutMs) {
    return { kind: 'close', reason: `no HELLO, or no authentication, within ${s.handshakeTimeoutMs} ms` };
  }
  if (silent > s.idleTimeoutMs)
    return { kind: 'close', reason: `nothing received for ${silent} ms: peer unresponsive` };
  if (c.outboundFullSince !== undefined && now - c.outboundFullSince > s.idleTimeoutMs) {
    return {
      kind: 'drop',
      reason: `its outbound queue has been full for ${now - c.outboundFullSince} ms: the peer does not read what this node sends`,
    };
  }
  if (c.handshaken && !c.pingOutstanding && silent >= s.keepaliveIntervalMs) return PING;
  return NONE;
}

/** How often the mesh checks: a quarter of the shorter period, at least every 50 ms. */
export function livenessTickMs(s: LivenessSettings): number {
  return Math.max(50, Math.min(s.keepaliveIntervalMs, s.idleTimeoutMs) / 4);
}
