/**
 * Histories: what clients observed, as operations with a call time, a return time and an output.
 *
 * An operation whose outcome is unknown (the client timed out or lost its connection) has output
 * `UNKNOWN` and return time +∞: it may have taken effect at any point after its call, or never.
 *
 * Invariants of an `Operation`: `call <= return`; `output === UNKNOWN` ⇔ `return === Infinity`
 * (normalize() enforces the ⇐ direction by setting the return time of unknown operations to +∞).
 */

/** The output of an operation whose outcome is not known. */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Unknown = typeof UNKNOWN;

export interface Operation<Input, Output> {
  /** Who issued the operation; only used for printing (the checker orders by time alone). */
  readonly clientId: number | string;
  readonly input: Input;
  /** When the client sent the request. */
  readonly call: number;
  /** When the client got the response; +∞ when the outcome is unknown. */
  readonly return: number;
  readonly output: Output | Unknown;
}

export type History<Input, Output> = readonly Operation<Input, Output>[];

/** Returns a copy in which unknown outcomes return at +∞; throws on `call > return`. */
export function normalize<I, O>(history: History<I, O>): Operation<I, O>[] {
  return history.map((op, i) => {
    if (op.output === UNKNOWN) return op.return === Infinity ? op : { ...op, return: Infinity };
    if (!(op.call <= op.return)) throw new RangeError(`operation ${i}: call ${op.call} after return ${op.return}`);
    return op;
  });
}

/**
 * Records a history from a running test. Times come from `clock` (by default a logical counter that
 * increases by one per event, which keeps the real-time order and nothing else).
 */
export class HistoryRecorder<Input, Output> {
  private readonly ops: Operation<Input, Output>[] = [];
  private readonly pending = new Map<number, { clientId: number | string; input: Input; call: number }>();
  private nextHandle = 0;
  private tick = 0;

  constructor(private readonly clock: () => number = () => this.tick++) {}

  /** The client sends a request; returns a handle for ok()/unknown(). */
  invoke(clientId: number | string, input: Input): number {
    const handle = this.nextHandle++;
    this.pending.set(handle, { clientId, input, call: this.clock() });
    return handle;
  }

  /** The client got a definite response. */
  ok(handle: number, output: Output): void {
    const p = this.take(handle);
    this.ops.push({ ...p, return: this.clock(), output });
  }

  /** The client gave up (timeout, lost connection): the operation may or may not have taken effect. */
  unknown(handle: number): void {
    const p = this.take(handle);
    this.ops.push({ ...p, return: Infinity, output: UNKNOWN });
  }

  /** Completed operations plus, as unknown outcomes, every operation still pending. */
  history(): Operation<Input, Output>[] {
    const open = [...this.pending.values()].map((p) => ({ ...p, return: Infinity, output: UNKNOWN as Unknown }));
    return [...this.ops, ...open];
  }

  private take(handle: number) {
    const p = this.pending.get(handle);
    if (p === undefined) throw new Error(`unknown or completed operation handle ${handle}`);
    this.pending.delete(handle);
    return p;
  }
}

/**
 * A node of the doubly linked list of call and return events the search walks (Wing & Gong).
 * A call entry points at its return entry (`match`); a return entry has `match === undefined`.
 */
export interface Entry {
  /** Index of the operation in the (partition's) history. */
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * Builds the event list: a sentinel head followed by every call and return sorted by time.
 * At equal times calls come before returns, so operations that touch are treated as concurrent
 * (the permissive reading). Unknown outcomes return at +∞, after every known event.
 */
export function buildEntries<I, O>(history: History<I, O>): Entry {
  const events: Entry[] = [];
  history.forEach((op, id) => {
    const ret: Entry = { id, isCall: false, time: op.return, match: undefined, prev: undefined, next: undefined };
    const call: Entry = { id, isCall: true, time: op.call, match: ret, prev: undefined, next: undefined };
    events.push(call, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Entry = { id: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}
