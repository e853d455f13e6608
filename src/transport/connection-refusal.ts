import type { Timer } from '../base/clock.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';

/**
 * Why a connection was refused at its handshake, as a value: the status code, a short reason a
 * program can act on (`bad-proof`, `untrusted-key`, `token-expired`, …), and the refuser's words.
 * A refusing side sends the reason in its GOODBYE (`refusal`), so the refused side learns it
 * typed, not only as text; the mesh keeps the last refusal per address and per peer id
 * (RefusalLog) and reports it, and a dial it fails rejects with `refusalError(refusal)`.
 *
 * Invariants: a reason read from a peer is one of REFUSAL_REASONS or `unknown`, never a peer's
 * made-up word; the log is bounded (MAX_REMEMBERED entries, the oldest forgotten first) and an
 * address or peer that completes a handshake is forgotten (its refusal is no longer current).
 */

/** The reasons a handshake is refused. */
export const REFUSAL_REASONS = [
  /** The peer presented no credentials, and this side requires them. */
  'no-credentials',
  /** The peer's key is not in the trust list. */
  'untrusted-key',
  /** The peer did not prove it holds the key it presented. */
  'bad-proof',
  /** The peer's secret proof does not verify: another cluster secret. */
  'wrong-secret',
  /** The peer authenticates in a way this side does not accept (no secret, no tokens, no TLS …). */
  'unsupported-method',
  /** The peer presented no CA-verified certificate. */
  'no-certificate',
  /** A token that does not verify (signature, issuer, audience, algorithm). */
  'bad-token',
  /** A token past its `exp`. */
  'token-expired',
  /** The `authenticate` hook refused, or failed. */
  'hook-refused',
  /** The node id claimed is not the one the credentials prove. */
  'id-mismatch',
  /** One side seals its frames and the other does not. */
  'encryption-mismatch',
  /** Another running node has this id. */
  'duplicate-id',
  /** Another protocol version. */
  'version-mismatch',
  /** Malformed handshake, packets out of order. */
  'protocol',
  /** The identity was authenticated once and is no longer trusted (trust list, token keys, expiry). */
  'revoked',
  /** Anything else (a refusal from a peer that did not say why). */
  'unknown',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

const KNOWN = new Set<string>(REFUSAL_REASONS);

/** A reason a peer sent, checked: an unknown word reads as `unknown`. */
export function refusalReasonOf(value: unknown): RefusalReason {
  return typeof value === 'string' && KNOWN.has(value) ? (value as RefusalReason) : 'unknown';
}

export interface ConnectionRefusal {
  readonly code: ErrorCode;
  readonly reason: RefusalReason;
  /** The refusing side's message (what it says to fix). */
  readonly message: string;
  /** `peer`: the other side refused this node; `local`: this node refused the peer. */
  readonly by: 'peer' | 'local';
  /** The address dialed, or the remote address of an accepted connection. */
  readonly address: string;
  /** The node id the peer claimed, when its HELLO arrived. */
  readonly peerId?: string | undefined;
  /** When (the mesh's timer). */
  readonly at: number;
}

/** The error a dial refused at its handshake fails with: the refusal's code, `details.reason` its reason. */
export function refusalError(refusal: ConnectionRefusal): ParleyError {
  const message = refusal.by === 'peer' ? `${refusal.address} refused this node: ${refusal.message}` : refusal.message;
  return new ParleyError(refusal.code, message, {
    details: {
      reason: refusal.reason,
      refusedBy: refusal.by,
      address: refusal.address,
      ...(refusal.peerId !== undefined ? { peerId: refusal.peerId } : {}),
    },
  });
}

/** The refusal an error carries, when it is one refusalError made. */
export function refusalOf(err: unknown): { code: ErrorCode; reason: RefusalReason; by: 'peer' | 'local' } | undefined {
  if (!(err instanceof ParleyError)) return undefined;
  const d = err.details as { reason?: unknown; refusedBy?: unknown } | undefined;
  if (typeof d !== 'object' || d === null || (d.refusedBy !== 'peer' && d.refusedBy !== 'local')) return undefined;
  return { code: err.code, reason: refusalReasonOf(d.reason), by: d.refusedBy };
}

/** How many addresses and peer ids the log remembers. */
const MAX_REMEMBERED = 1024;

/** The last refusal per address and per peer id (bounded), and who wants to hear of new ones. */
export class RefusalLog {
  private readonly byKey = new Map<string, ConnectionRefusal>();
  private readonly listeners = new Set<(refusal: ConnectionRefusal) => void>();

  constructor(private readonly timer: Timer) {}

  /** Records a refusal and tells the listeners; returns it. */
  record(fields: Omit<ConnectionRefusal, 'at'>): ConnectionRefusal {
    const refusal: ConnectionRefusal = { ...fields, at: this.timer.now() };
    this.remember(`address:${refusal.address}`, refusal);
    if (refusal.peerId !== undefined) this.remember(`peer:${refusal.peerId}`, refusal);
    for (const l of [...this.listeners]) {
      try {
        l(refusal);
      } catch {
        // a listener's bug is not the mesh's
      }
    }
    return refusal;
  }

  /** The last refusal of a connection to or from `address`, or of the peer `peerId`. */
  last(addressOrPeerId: string): ConnectionRefusal | undefined {
    return this.byKey.get(`address:${addressOrPeerId}`) ?? this.byKey.get(`peer:${addressOrPeerId}`);
  }

  /** A handshake with them succeeded: their refusal is history. */
  forget(address: string | undefined, peerId: string): void {
    if (address !== undefined) this.byKey.delete(`address:${address}`);
    this.byKey.delete(`peer:${peerId}`);
  }

  /** Calls `listener` for every refusal from now on; returns the function that stops it. */
  listen(listener: (refusal: ConnectionRefusal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private remember(key: string, refusal: ConnectionRefusal): void {
    this.byKey.delete(key);
    this.byKey.set(key, refusal);
    if (this.byKey.size > MAX_REMEMBERED) this.byKey.delete(this.byKey.keys().next().value!);
  }
}
