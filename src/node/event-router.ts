import type { Logger } from '../transport/logger.js';
import type { Mesh } from '../transport/mesh.js';
import { localPrincipal, type Principal } from '../transport/principal.js';
import { type Codec, codecForFlags } from '../wire/codec.js';
import { type Frame, PacketType } from '../wire/frame.js';
import { encodeEvent, type Meta, parseEvent } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Authorizer } from './authorization/authorizer.js';
import type { Catalog } from './catalog.js';
import { type CallOptions, type EmitOptions, type EventContext, type Messenger, mergeMeta } from './context.js';
import { validateEventName } from './event-pattern.js';
import type { EventSequences } from './event-sequences.js';
import type { LocalServices } from './local-services.js';
import { isThenable } from './thenable.js';

export interface EventRouterDeps {
  readonly nodeId: string;
  readonly local: LocalServices;
  readonly catalog: Catalog;
  readonly sequences: EventSequences;
  readonly mesh: Mesh;
  readonly codec: Codec;
  readonly logger: Logger;
  /** The node, for the call/emit methods of event contexts. */
  readonly messenger: Messenger;
  /** Whether a peer may send (emit) an event, and whether a peer may receive (subscribe to) one. */
  readonly authorizer: Authorizer;
}

interface EmitGroup {
  readonly group: string;
  /** [group], allocated once. */
  readonly groupList: string[];
  readonly nodes: readonly string[];
  /** This node has a handler in the group: it takes the event itself. */
  readonly local: boolean;
  /** Round-robin position among `nodes`. */
  next: number;
}

/**
 * Events, both ways: `emit` reaches one handler per subscribed group (this node when it has one in
 * the group, else round-robin over the group's nodes); `broadcast` reaches every matching handler;
 * `receive` delivers an EVENT packet to the local handlers it names.
 *
 * Under a policy, an EVENT from a peer whose principal may not emit it is dropped (counted,
 * audited), and an event is never routed to a peer whose principal may not receive it: emit
 * balances each group among the allowed peers only, broadcast skips the others.
 *
 * Invariants: a cached emit plan reflects the current subscriptions and policy (invalidate() is
 * called on every change of local services, of the catalog and of the policy); inFlight counts
 * the asynchronous handlers started and not yet settled.
 */
export class EventRouter {
  private readonly plans = new Map<string, EmitGroup[]>();
  private running = 0;

  constructor(private readonly deps: EventRouterDeps) {}

  /** Asynchronous event handlers that have started and not yet settled (a graceful stop waits for them). */
  get inFlight(): number {
    return this.running;
  }

  invalidate(): void {
    this.plans.clear();
  }

  /** Rejects with RESOURCE_EXHAUSTED when a target's queue is full (the receiver sees the gap). */
  async emit(event: string, payload: unknown, options: EmitOptions): Promise<void> {
    const plan = this.plans.get(event) ?? this.plan(event);
    if (plan.length === 0) return;
    const meta = mergeMeta(options.parent?.meta, options.meta);
    const self = this.deps.nodeId;
    if (plan.length === 1) {
      const only = plan[0]!;
      const target = only.local ? self : only.nodes[only.next++ % only.nodes.length]!;
      if (target === self) this.deliverLocal(event, payload, meta, only.groupList, self, 0, 0);
      else this.send(target, event, payload, only.groupList, meta);
      return;
    }
    const perNode = new Map<string, string[]>();
    for (const g of plan) addTo(perNode, g.local ? self : g.nodes[g.next++ % g.nodes.length]!, g.group);
    let failure: ParleyError | undefined;
    for (const [nodeId, groups] of perNode) {
      if (nodeId === self) this.deliverLocal(event, payload, meta, groups, self, 0, 0);
      else {
        try {
          this.send(nodeId, event, payload, groups, meta);
        } catch (err) {
          failure ??= err as ParleyError;
        }
      }
    }
    if (failure) throw failure;
  }

  async broadcast(event: string, payload: unknown, options: EmitOptions): Promise<void> {
    validateEventName(event);
    const meta = mergeMeta(options.parent?.meta, options.meta);
    const nodes = new Set<string>();
    // Unreachable subscribers count too: their sequence numbers advance, so they see the gap.
    for (const s of this.deps.catalog.allSubscribersOf(event)) nodes.add(s.nodeId);
    if (this.deps.authorizer.enabled) for (const n of nodes) if (!this.mayReceive(n, event)) nodes.delete(n);
    let failure: ParleyError | undefined;
    for (const nodeId of nodes) {
      try {
        this.send(nodeId, event, payload, null, meta);
      } catch (err) {
        failure ??= err as ParleyError;
      }
    }
    if (this.deps.local.matching(event).length > 0)
      this.deliverLocal(event, payload, meta, null, this.deps.nodeId, 0, 0);
    if (failure) throw failure;
  }

  /** An EVENT packet from a peer. */
  receive(peerId: string, frame: Frame): void {
    let event: ReturnType<typeof parseEvent>;
    try {
      event = parseEvent(codecForFlags(frame.flags).decode(frame.body));
    } catch (err) {
      this.deps.logger.warn(`dropped a malformed EVENT packet from '${peerId}': ${(err as Error).message}`);
      return;
    }
    const incarnation = this.deps.catalog.get(peerId)?.info.incarnation ?? '';
    const missed = this.deps.sequences.receive(peerId, incarnation, event.seq);
    if (missed > 0) this.deps.logger.warn(`missed ${missed} event(s) from '${peerId}' before seq ${event.seq}`);
    const { authorizer } = this.deps;
    // Numbered first, so a refused event is not later mistaken for a gap; then dropped, counted, audited.
    if (
      authorizer.enabled &&
      authorizer.check(this.deps.mesh.peerPrincipal(peerId), { kind: 'emit', event: event.name })
    )
      return;
    this.deliverLocal(event.name, event.payload, event.meta, event.groups, peerId, event.seq, missed);
  }

  /** Groups subscribed to `event` anywhere, with their candidate nodes; cached until membership changes. */
  private plan(event: string): EmitGroup[] {
    validateEventName(event);
    const self = this.deps.nodeId;
    const groups = new Map<string, string[]>();
    for (const s of this.deps.local.matching(event)) addTo(groups, s.group, self);
    const checked = this.deps.authorizer.enabled;
    for (const s of this.deps.catalog.subscribersOf(event))
      if (!checked || this.mayReceive(s.nodeId, event)) addTo(groups, s.group, s.nodeId);
    const plan: EmitGroup[] = [];
    for (const [group, nodes] of groups)
      plan.push({ group, groupList: [group], nodes, local: nodes.includes(self), next: 0 });
    if (this.plans.size > 10_000) this.plans.clear();
    this.plans.set(event, plan);
    return plan;
  }

  /**
   * True when the policy lets the principal of peer `nodeId` receive `event` (denials are counted
   * and audited). A peer not connected right now has no principal to judge: it is kept (send()
   * only advances its sequence number, so it sees the gap) and judged when it is back.
   */
  private mayReceive(nodeId: string, event: string): boolean {
    const principal = this.deps.mesh.peerPrincipal(nodeId);
    return principal === undefined || this.deps.authorizer.check(principal, { kind: 'subscribe', event }) === undefined;
  }

  /** Sends one EVENT; throws RESOURCE_EXHAUSTED when the queue to the node is full. */
  private send(nodeId: string, event: string, payload: unknown, groups: string[] | null, meta: Meta | null): void {
    const { sequences, mesh, codec } = this.deps;
    const seq = sequences.next(nodeId);
    if (!mesh.isConnected(nodeId)) return; // counted in seq: the receiver sees the gap
    let body: Uint8Array;
    try {
      body = codec.encode(encodeEvent({ name: event, payload, groups, seq, meta }));
    } catch (err) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `payload of event '${event}' cannot be encoded with ${codec.name}: ${(err as Error).message}`,
      );
    }
    try {
      mesh.send(nodeId, PacketType.EVENT, codec.flag, 0, body);
    } catch (err) {
      if (ParleyError.is(err, 'UNAVAILABLE')) return;
      throw err;
    }
  }

  /** Runs the local handlers an event is for: all matching (groups = null) or one per listed group. */
  private deliverLocal(
    event: string,
    payload: unknown,
    meta: Meta | null,
    groups: readonly string[] | null,
    senderId: string,
    seq: number,
    missed: number,
  ): void {
    let served: string[] | undefined;
    for (const sub of this.deps.local.matching(event)) {
      if (groups !== null) {
        if (!groups.includes(sub.group)) continue;
        if (groups.length === 1) {
          if (served) continue;
          served = groups as string[];
        } else {
          served ??= [];
          if (served.includes(sub.group)) continue;
          served.push(sub.group);
        }
      }
      const ctx = new DeliveredEvent(
        this.deps.messenger,
        this.deps.mesh,
        this.deps.nodeId,
        senderId,
        event,
        sub.group,
        meta ?? EMPTY_META,
        seq,
        missed,
      );
      try {
        const r = sub.handler(payload, ctx);
        if (isThenable(r)) {
          this.running++;
          r.then(
            () => this.running--,
            (err) => {
              this.running--;
              this.failed(event, sub.service, err);
            },
          );
        }
      } catch (err) {
        this.failed(event, sub.service, err);
      }
    }
  }

  private failed(event: string, service: string, err: unknown): void {
    this.deps.logger.warn(
      `handler of event '${event}' in service '${service}' failed: ${(err as Error)?.message ?? String(err)}`,
    );
  }
}

const EMPTY_META: Meta = Object.freeze({}) as Meta;

function addTo(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (!list) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}

/** The context of one event delivery (a class: one allocation, methods on the prototype). */
class DeliveredEvent implements EventContext {
  constructor(
    private readonly node: Messenger,
    private readonly mesh: Pick<Mesh, 'peerPrincipal'>,
    readonly nodeId: string,
    readonly callerId: string,
    readonly event: string,
    readonly group: string,
    readonly meta: Meta,
    readonly seq: number,
    readonly missed: number,
  ) {}

  /** Looked up when read: most handlers never ask, and the lookup is then free. */
  get principal(): Principal | undefined {
    return this.callerId === this.nodeId ? localPrincipal(this.nodeId) : this.mesh.peerPrincipal(this.callerId);
  }

  call(action: string, params?: unknown, options: CallOptions = {}): Promise<unknown> {
    return this.node.call(action, params, { ...options, meta: mergeMeta(this.meta, options.meta) ?? undefined });
  }

  emit(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.node.emit(event, payload, { ...options, parent: this });
  }

  broadcast(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.node.broadcast(event, payload, { ...options, parent: this });
  }
}
