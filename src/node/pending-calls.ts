import { systemTimer, type Timer } from '../base/clock.js';
import { type DeadlineEntry, DeadlineWheel } from '../base/deadline-wheel.js';
import { ParleyError } from '../wire/parley-error.js';

interface PendingCall extends DeadlineEntry {
  readonly id: number;
  readonly peerId: string;
  readonly action: string;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ParleyError) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface PendingCallsOptions {
  /**
   * Runs when a call gives up (its deadline passed or its signal aborted) after its promise was
   * rejected: the caller tells the peer (CANCEL) so the handler stops.
   */
  onGiveUp?: (peerId: string, id: number) => void;
  /** Time for deadlines (default: the system timer). */
  timer?: Timer;
}

const MAX_ID = 0xffffffff;
const INITIAL_SLOTS = 64;
/**
 * An emptied table up to this size is kept: callers with up to half as many calls in flight
 * empty it every round trip (at concurrency 100 every batch of responses settles them all), and
 * starting again at INITIAL_SLOTS regrew it twice per round. Larger ones (after a burst) shrink.
 */
const KEPT_SLOTS = 4096;

/**
 * Outgoing remote calls waiting for their RESPONSE, by request id. Ids are unique per node (not
 * per connection), so a response is matched whichever connection to the peer carries it.
 *
 * Storage: a call lives in `slots[id & mask]`, an open table indexed by the id itself. A new id
 * is the next counter value whose slot is free (ids skip over slots held by long-running calls),
 * and the table doubles when half full; this replaces a Map whose hash table, rebuilt every few
 * hundred calls, was a large part of a caller's garbage. An emptied table larger than KEPT_SLOTS
 * starts again small. Deadlines share one DeadlineWheel timer.
 *
 * Invariants:
 * - an id is in the table until it is settled exactly once (response, timeout, cancel, or peer
 *   loss); its deadline and abort listener are removed when it settles;
 * - `slots[i]`, when set, holds the only pending call whose `id & mask === i`; since the table
 *   only grows (or resets when empty), ids distinct modulo the old size stay distinct modulo the
 *   new one.
 */
export class PendingCalls {
  private slots: (PendingCall | undefined)[] = emptySlots(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private nextId = 1;
  private readonly deadlines: DeadlineWheel<PendingCall>;
  private readonly onGiveUp: (peerId: string, id: number) => void;

  constructor(options: PendingCallsOptions = {}) {
    this.onGiveUp = options.onGiveUp ?? (() => {});
    this.deadlines = new DeadlineWheel<PendingCall>((call) => this.expire(call), options.timer ?? systemTimer);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Registers a call. When the deadline (`timeoutMs` > 0) passes or the signal aborts, the
   * promise is rejected with DEADLINE_EXCEEDED or CANCELLED (see abortedCallError) and `onGiveUp` runs.
   */
  create(
    peerId: string,
    action: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): { id: number; promise: Promise<unknown> } {
    const id = this.allocateId();
    let resolve!: (value: unknown) => void;
    let reject!: (error: ParleyError) => void;
    const promise = new Promise<unknown>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    const entry: PendingCall = {
      id,
      peerId,
      action,
      timeoutMs,
      resolve,
      reject,
      signal: undefined,
      onAbort: undefined,
      deadlineBucket: undefined,
      deadlinePrev: undefined,
      deadlineNext: undefined,
    };
    this.slots[id & this.mask] = entry;
    this.count++;
    if (timeoutMs > 0) this.deadlines.add(entry, timeoutMs);
    if (signal) {
      entry.signal = signal;
      entry.onAbort = () => {
        if (this.settle(id, peerId, undefined, abortedCallError(action, signal))) this.onGiveUp(peerId, id);
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return { id, promise };
  }

  /** Settles call `id` if it is pending and was sent to `peerId`; returns whether it was. */
  settle(id: number, peerId: string, value: unknown, error?: ParleyError): boolean {
    const index = id & this.mask;
    const entry = this.slots[index];
    if (!entry || entry.id !== id || entry.peerId !== peerId) return false;
    this.slots[index] = undefined;
    if (--this.count === 0 && this.slots.length > KEPT_SLOTS) this.reset();
    this.deadlines.cancel(entry);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    if (error) entry.reject(error);
    else entry.resolve(value);
    return true;
  }

  /** Rejects every call waiting on `peerId` (the peer disconnected). */
  failPeer(peerId: string, error: (action: string) => ParleyError): void {
    for (const entry of this.inIdOrder()) {
      if (entry.peerId === peerId) this.settle(entry.id, peerId, undefined, error(entry.action));
    }
  }

  /** Rejects every call and drops the deadline timer (the node is stopping). */
  failAll(error: (action: string) => ParleyError): void {
    for (const entry of this.inIdOrder()) this.settle(entry.id, entry.peerId, undefined, error(entry.action));
    this.deadlines.clear();
  }

  private expire(entry: PendingCall): void {
    if (this.settle(entry.id, entry.peerId, undefined, deadlineError(entry.action, entry.peerId, entry.timeoutMs))) {
      this.onGiveUp(entry.peerId, entry.id);
    }
  }

  private allocateId(): number {
    if (this.count * 2 >= this.slots.length) this.grow();
    let id = this.nextId;
    while (this.slots[id & this.mask] !== undefined) id = id >= MAX_ID ? 1 : id + 1;
    this.nextId = id >= MAX_ID ? 1 : id + 1;
    return id;
  }

  private grow(): void {
    const slots = emptySlots(this.slots.length * 2);
    const mask = slots.length - 1;
    for (const entry of this.slots) if (entry) slots[entry.id & mask] = entry;
    this.slots = slots;
    this.mask = mask;
  }

  private reset(): void {
    this.slots = emptySlots(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
  }

  /** A snapshot of the pending calls, oldest id first (settling while iterating is safe). */
  private inIdOrder(): PendingCall[] {
    const entries: PendingCall[] = [];
    for (const entry of this.slots) if (entry) entries.push(entry);
    return entries.sort((a, b) => a.id - b.id);
  }
}

function emptySlots(n: number): (PendingCall | undefined)[] {
  return new Array<PendingCall | undefined>(n).fill(undefined);
}

/**
 * Why a call whose signal aborted failed: DEADLINE_EXCEEDED when the signal is a context's that
 * ran out of time (a nested call cut off by its parent's deadline is a deadline, not a
 * cancellation, wherever the race between the two timers ends), else CANCELLED.
 */
export function abortedCallError(action: string, signal: AbortSignal): ParleyError {
  const reason: unknown = signal.reason;
  if (reason instanceof ParleyError && reason.code === 'DEADLINE_EXCEEDED') {
    return new ParleyError('DEADLINE_EXCEEDED', `call to '${action}' was cut off by its caller's deadline`);
  }
  return new ParleyError('CANCELLED', `call to '${action}' was cancelled by the caller`);
}

function deadlineError(action: string, peerId: string, timeoutMs: number): ParleyError {
  return new ParleyError(
    'DEADLINE_EXCEEDED',
    `call to '${action}' on node '${peerId}' got no answer within ${timeoutMs} ms; raise the timeout or check the handler`,
  );
}
