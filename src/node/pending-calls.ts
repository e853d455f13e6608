import { ParleyError } from '../wire/parley-error.js';

interface PendingCall {
  readonly peerId: string;
  readonly action: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ParleyError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Outgoing remote calls waiting for their RESPONSE, by request id. Ids are unique per node (not
 * per connection), so a response is matched whichever connection to the peer carries it.
 *
 * Invariant: an id is in the map until it is settled exactly once (response, timeout, cancel,
 * or peer loss); its timer and abort listener are removed when it settles.
 */
export class PendingCalls {
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;

  get size(): number {
    return this.calls.size;
  }

  /**
   * Registers a call. `onGiveUp` runs when the deadline passes or the signal aborts (the caller
   * sends CANCEL to the peer); the promise is then rejected with DEADLINE_EXCEEDED or CANCELLED.
   */
  create(
    peerId: string,
    action: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onGiveUp: (id: number) => void,
  ): { id: number; promise: Promise<unknown> } {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    let entry!: PendingCall;
    const promise = new Promise<unknown>((resolve, reject) => {
      entry = { peerId, action, resolve, reject, timer: undefined, signal: undefined, onAbort: undefined };
    });
    this.calls.set(id, entry);
    if (timeoutMs > 0) {
      entry.timer = setTimeout(() => {
        if (this.settle(id, peerId, undefined, deadlineError(action, peerId, timeoutMs))) onGiveUp(id);
      }, timeoutMs);
    }
    if (signal) {
      entry.signal = signal;
      entry.onAbort = () => {
        if (
          this.settle(
            id,
            peerId,
            undefined,
            new ParleyError('CANCELLED', `call to '${action}' was cancelled by the caller`),
          )
        ) {
          onGiveUp(id);
        }
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return { id, promise };
  }

  /** Settles call `id` if it is pending and was sent to `peerId`; returns whether it was. */
  settle(id: number, peerId: string, value: unknown, error?: ParleyError): boolean {
    const entry = this.calls.get(id);
    if (!entry || entry.peerId !== peerId) return false;
    this.calls.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    if (error) entry.reject(error);
    else entry.resolve(value);
    return true;
  }

  /** Rejects every call waiting on `peerId` (the peer disconnected). */
  failPeer(peerId: string, error: (action: string) => ParleyError): void {
    for (const [id, entry] of this.calls)
      if (entry.peerId === peerId) this.settle(id, peerId, undefined, error(entry.action));
  }

  failAll(error: (action: string) => ParleyError): void {
    for (const [id, entry] of this.calls) this.settle(id, entry.peerId, undefined, error(entry.action));
  }
}

function deadlineError(action: string, peerId: string, timeoutMs: number): ParleyError {
  return new ParleyError(
    'DEADLINE_EXCEEDED',
    `call to '${action}' on node '${peerId}' got no answer within ${timeoutMs} ms; raise the timeout or check the handler`,
  );
}
