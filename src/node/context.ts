import type { CancelTimer, Timer } from '../base/clock.js';
import type { PeerIdentity } from '../transport/connection.js';
import type { Principal } from '../transport/principal.js';
import type { Meta, RequestOptions } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { AnyContract, ContractShape } from './service.js';

/**
 * Call options that the layers above the node add by module augmentation, so the compiler checks
 * them once the layer is imported (traffic adds `strategy`, `hashKey`, `idempotent`, `traffic`):
 *
 *   declare module 'parley/node/context.js' { interface CallOptionExtensions { myOption?: number } }
 *
 * Empty here on purpose: the node itself reads none of them.
 */
// biome-ignore lint/suspicious/noEmptyInterface: the extension point that other layers augment
export interface CallOptionExtensions {}

/** Options of one call: the node's own, plus those of imported layers (`CallOptionExtensions`). */
export interface CallOptions extends CallOptionExtensions {
  /** Deadline in ms from now. Default: the remaining budget of the calling context, else the action's or node's default. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
  /** Call this node, bypassing balancing. */
  readonly nodeId?: string;
  readonly meta?: Meta;
  /** The serving node runs calls with the same key at most once within its idempotency window. */
  readonly idempotencyKey?: string;
  /** 0 = critical … 3 = sheddable (default 1): a loaded server sheds the highest numbers first. */
  readonly priority?: number;
  /** The context this call is made from (set by ctx.call): inherits deadline, signal and meta. */
  readonly parent?: Context<ContractShape>;
}

export interface EmitOptions {
  readonly meta?: Meta;
  readonly parent?: Context<ContractShape> | EventContext<ContractShape>;
}

/** What a handler's context can do: the node's messaging API, untyped. */
export interface Messenger {
  call(action: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  send(action: string, params?: unknown, options?: CallOptions): void;
  emit(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
  broadcast(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
}

/** What a Context is made of; `deadline`, `signal`, `peerIdentity` and `options` may be left out. */
export interface ContextInit {
  readonly messenger: Messenger;
  /** The node's clock: reads the deadline, sets the deadline timer behind `signal`. */
  readonly timer: Timer;
  readonly nodeId: string;
  readonly callerId: string;
  readonly action: string;
  readonly meta: Meta;
  readonly deadline?: number | undefined;
  /** The caller's signal (local calls): aborting it aborts this context. */
  readonly signal?: AbortSignal | undefined;
  readonly peerIdentity?: PeerIdentity | undefined;
  /** Who made the call, as the connection's handshake proved it (this node for local calls). */
  readonly principal?: Principal | undefined;
  readonly options?: RequestOptions | undefined;
}

const NO_OPTIONS: RequestOptions = Object.freeze({});

/**
 * The context of one action invocation. The AbortController behind `signal` is created only
 * when a handler reads `signal`, so handlers that ignore cancellation cost nothing.
 *
 * Invariant: once aborted, `signal.aborted` stays true and `signal.reason` is a ParleyError.
 */
export class Context<C extends ContractShape = AnyContract> {
  /** This node. */
  readonly nodeId: string;
  /** The node that made the call (this node for local calls). */
  readonly callerId: string;
  readonly action: string;
  readonly meta: Meta;
  /** Absolute deadline on the node's clock (`NodeOptions.timer`, epoch ms by default), or undefined for none. */
  readonly deadline: number | undefined;
  /** The caller's TLS certificate identity, when connected with mutual TLS. */
  readonly peerIdentity: PeerIdentity | undefined;
  /**
   * Who made the call, as the connection's handshake proved it; `principal.authenticated` is
   * false on a mesh without an authentication mode. This node's own principal for local calls.
   */
  readonly principal: Principal | undefined;
  /** Per-call options sent by the caller (idempotency key, priority). */
  readonly options: RequestOptions;
  private readonly messenger: Messenger;
  private readonly clock: Timer;
  private readonly parentSignal: AbortSignal | undefined;
  private controller: AbortController | undefined;
  private abortReason: ParleyError | undefined;
  private cancelTimer: CancelTimer | undefined;
  private onParentAbort: (() => void) | undefined;
  private done = false;

  constructor(init: ContextInit) {
    this.messenger = init.messenger;
    this.clock = init.timer;
    this.nodeId = init.nodeId;
    this.callerId = init.callerId;
    this.action = init.action;
    this.meta = init.meta;
    this.deadline = init.deadline;
    this.parentSignal = init.signal;
    this.peerIdentity = init.peerIdentity;
    this.principal = init.principal;
    this.options = init.options ?? NO_OPTIONS;
  }

  get idempotencyKey(): string | undefined {
    return this.options.idempotencyKey;
  }

  get priority(): number | undefined {
    return this.options.priority;
  }

  /** Aborted when the caller cancels, the deadline passes, or the node stops. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.abortReason) controller.abort(this.abortReason);
      else {
        const parent = this.parentSignal;
        if (parent) {
          if (parent.aborted) controller.abort(toParleyError(parent.reason));
          else if (!this.done) {
            // Removed in finish(): a long-lived parent signal must not collect one listener per call.
            this.onParentAbort = () => this.abort(toParleyError(parent.reason));
            parent.addEventListener('abort', this.onParentAbort, { once: true });
          }
        }
        if (this.deadline !== undefined && !this.done) {
          const left = this.deadline - this.clock.now();
          const expire = () =>
            this.abort(new ParleyError('DEADLINE_EXCEEDED', `deadline of action '${this.action}' passed`));
          if (left <= 0) expire();
          else this.cancelTimer = this.clock.setTimeout(expire, left);
        }
      }
    }
    return this.controller.signal;
  }

  /** Milliseconds left before the deadline (Infinity when there is none). */
  get remainingMs(): number {
    return this.deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, this.deadline - this.clock.now());
  }

  /** Why the context was aborted (caller cancelled, deadline passed, node stopping), or undefined. */
  get abortedWith(): ParleyError | undefined {
    if (this.abortReason) return this.abortReason;
    const parent = this.parentSignal;
    return parent?.aborted ? toParleyError(parent.reason) : undefined;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined || this.parentSignal?.aborted === true;
  }

  abort(reason: ParleyError): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.cancelTimer?.();
    this.controller?.abort(reason);
  }

  /** Called by the node when the handler has finished. */
  finish(): void {
    this.done = true;
    this.cancelTimer?.();
    if (this.onParentAbort) {
      this.parentSignal?.removeEventListener('abort', this.onParentAbort);
      this.onParentAbort = undefined;
    }
  }

  /** A nested call: inherits the remaining deadline, cancellation and meta. */
  call<K extends keyof C & string>(
    action: K,
    params?: C[K]['params'],
    options: CallOptions = {},
  ): Promise<C[K]['result']> {
    return this.messenger.call(action, params, { ...options, parent: this }) as Promise<C[K]['result']>;
  }

  /** A nested one-way message (inherits meta). */
  send<K extends keyof C & string>(action: K, params?: C[K]['params'], options: CallOptions = {}): void {
    this.messenger.send(action, params, { ...options, parent: this });
  }

  emit(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.messenger.emit(event, payload, { ...options, parent: this });
  }

  broadcast(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.messenger.broadcast(event, payload, { ...options, parent: this });
  }
}

/** The context of one event delivery; declare `ctx: EventContext<Api>` to type its `call` with a contract. */
export interface EventContext<C extends ContractShape = AnyContract> {
  readonly nodeId: string;
  /** The node that emitted the event. */
  readonly callerId: string;
  /**
   * Who emitted it, as its connection's handshake proved it (this node's own principal for local
   * events; undefined when the sender is no longer connected when the handler reads it).
   */
  readonly principal: Principal | undefined;
  readonly event: string;
  readonly group: string;
  readonly meta: Meta;
  /** The sender's sequence number for this receiver (0 for local deliveries). */
  readonly seq: number;
  /** Events from this sender that never arrived just before this one (a gap after a reconnect). */
  readonly missed: number;
  call<K extends keyof C & string>(action: K, params?: C[K]['params'], options?: CallOptions): Promise<C[K]['result']>;
  emit(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
  broadcast(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
}

export function toParleyError(reason: unknown): ParleyError {
  if (reason instanceof ParleyError) return reason;
  if (reason instanceof Error && reason.name === 'AbortError')
    return new ParleyError('CANCELLED', 'the call was cancelled');
  if (reason === undefined) return new ParleyError('CANCELLED', 'the call was cancelled');
  return new ParleyError(
    'CANCELLED',
    `the call was cancelled: ${reason instanceof Error ? reason.message : String(reason)}`,
  );
}

/** The meta a call or event carries: the parent context's, overridden by its own. */
export function mergeMeta(parent: Meta | undefined, own: Meta | undefined): Meta | null {
  if (!parent || Object.keys(parent).length === 0) return own ?? null;
  if (!own) return parent;
  return { ...parent, ...own };
}
