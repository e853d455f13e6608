import type { Clock } from '../base/clock.js';
import type { Meta } from '../wire/packets.js';
import type { CallOptions, Context } from './context.js';
import type { LocalAction } from './local-services.js';

/** One outgoing call as it travels down the caller-side pipeline. */
export interface OutgoingCall {
  readonly action: string;
  readonly params: unknown;
  readonly options: CallOptions;
  /** Merged meta (parent context's, then the call's). */
  readonly meta: Meta | null;
  /** Absolute deadline on the node's clock (`MiddlewareHost.clock`), or undefined. */
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
  /** Nodes not to pick (e.g. tried by an earlier attempt). */
  readonly exclude?: ReadonlySet<string>;
}

/** What a middleware learns of the node whose call chain it joins. */
export interface MiddlewareHost {
  readonly nodeId: string;
  /** The node's clock (`NodeOptions.timer`): `OutgoingCall.deadline` is a time on it. */
  readonly clock: Clock;
  /**
   * True when this node hosts `action`: the dispatcher then runs a call here, without asking the
   * balancer, unless the call gives a `nodeId` or excludes this node.
   */
  servesLocally(action: string): boolean;
}

export type CallHandler = (call: OutgoingCall) => Promise<unknown>;
export type ActionInvoke = (params: unknown, ctx: Context) => unknown;

/**
 * A middleware wraps the caller-side call path and/or local action handlers. Wrapping happens
 * once — the call chain when the node is created, a handler when its service is added — never
 * per call.
 */
export interface Middleware {
  readonly name: string;
  /**
   * Wraps every outgoing call. `next` picks a node and sends (or runs locally); it picks and sends
   * synchronously, so the balancer's `onStart` has run for a picked node when `next` returns.
   */
  call?(next: CallHandler, host: MiddlewareHost): CallHandler;
  /** Wraps one local action's handler (server side). */
  action?(next: ActionInvoke, action: Omit<LocalAction, 'invoke'>): ActionInvoke;
}
