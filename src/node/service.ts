import type { Context, EventContext } from './context.js';
import type { ParleyNode } from './node.js';

/**
 * Service definitions and the types that flow from them to callers.
 *
 *   const math = defineService({ name: 'math', actions: { add: (p: { a: number; b: number }) => p.a + p.b } });
 *   type Api = ContractOf<typeof math>;           // { 'math.add': { params: {a,b}; result: number } }
 *   const node = createNode<Api>({ ... });
 *   await node.call('math.add', { a: 1, b: 2 });  // typed params and result
 */

/**
 * An action's handler. Declare `ctx: Context<Api>` to type the handler's nested `ctx.call`/`ctx.send`
 * with the contract `Api` (the handler is still accepted wherever an ActionHandler is).
 */
// biome-ignore lint/suspicious/noExplicitAny: handlers may take any params; typed through defineService
export type ActionHandler<P = any, R = unknown> = (params: P, ctx: Context<any>) => R | Promise<R>;

/**
 * Action options that the layers above the node add by module augmentation (traffic adds
 * `traffic`, the action's policies), so the compiler checks them once the layer is imported.
 */
// biome-ignore lint/suspicious/noEmptyInterface: the extension point that other layers augment
export interface ActionOptionExtensions {}

export interface ActionOptions<H extends ActionHandler = ActionHandler> extends ActionOptionExtensions {
  readonly handler: H;
  /** Default deadline for calls of this action, in ms, when the caller gives none. */
  readonly timeout?: number;
  /** Safe to run more than once (retries of DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED, hedging). */
  readonly idempotent?: boolean;
}

export type ActionSpec = ActionHandler | ActionOptions;

// biome-ignore lint/suspicious/noExplicitAny: event payloads are untyped on the wire
export type EventHandler<T = any> = (payload: T, ctx: EventContext<any>) => unknown;

export interface EventOptions {
  readonly handler: EventHandler;
  /** Balanced events reach exactly one handler per group; the group defaults to the service name. */
  readonly group?: string;
}

export type EventSpec = EventHandler | EventOptions;

export interface ServiceDefinition<
  N extends string = string,
  A extends Record<string, ActionSpec> = Record<string, ActionSpec>,
> {
  readonly name: N;
  readonly actions?: A;
  /** Event name patterns (`order.*` one segment, `order.**` any depth) to handlers. */
  readonly events?: Record<string, EventSpec>;
  /** Published to other nodes with the service list. */
  readonly meta?: Record<string, unknown>;
  /** Called once the node has started (or at once when added to a running node). */
  readonly started?: (ctx: LifecycleContext) => void | Promise<void>;
  /** Called while the node stops, after in-flight work drained. */
  readonly stopped?: (ctx: LifecycleContext) => void | Promise<void>;
}

/** What a service's `started` / `stopped` hook gets: the node, e.g. to start a queue consumer on it (`queuesFor(node)`). */
export interface LifecycleContext {
  readonly nodeId: string;
  readonly node: ParleyNode;
}

/** Identity at runtime; keeps the literal service name and action types for ContractOf. */
export function defineService<const N extends string, A extends Record<string, ActionSpec>>(
  definition: ServiceDefinition<N, A>,
): ServiceDefinition<N, A> {
  return definition;
}

type HandlerOf<S> = S extends { handler: infer H } ? H : S;
// biome-ignore lint/suspicious/noExplicitAny: type-level extraction
type ParamsOf<S> = HandlerOf<S> extends (params: infer P, ...rest: any[]) => any ? P : never;
// biome-ignore lint/suspicious/noExplicitAny: type-level extraction
type ResultOf<S> = HandlerOf<S> extends (...args: any[]) => infer R ? Awaited<R> : never;

// biome-ignore lint/suspicious/noExplicitAny: type-level helper
type UnionToIntersection<U> = (U extends any ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

type ContractOfOne<S> =
  S extends ServiceDefinition<infer N, infer A>
    ? { [K in keyof A & string as `${N}.${K}`]: { params: ParamsOf<A[K]>; result: ResultOf<A[K]> } }
    : never;

/** The call contract of one service or a union of services: `'svc.action' → { params; result }`. */
export type ContractOf<S> = UnionToIntersection<ContractOfOne<S>>;

/** A contract that accepts any action name, params and result (the default). */
// biome-ignore lint/suspicious/noExplicitAny: the untyped default contract
export type AnyContract = Record<string, { params: any; result: any }>;

export type ContractShape = Record<string, { params: unknown; result: unknown }>;

/** The events a node emits and broadcasts: `'event.name' → payload`. */
export type EventShape = Record<string, unknown>;

/** An event contract that accepts any event name and payload (the default). */
// biome-ignore lint/suspicious/noExplicitAny: the untyped default contract
export type AnyEvents = Record<string, any>;

export function normalizeAction(spec: ActionSpec): ActionOptions {
  return typeof spec === 'function' ? { handler: spec } : spec;
}

export function normalizeEvent(spec: EventSpec, serviceName: string): { handler: EventHandler; group: string } {
  return typeof spec === 'function'
    ? { handler: spec, group: serviceName }
    : { handler: spec.handler, group: spec.group ?? serviceName };
}
