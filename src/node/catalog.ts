import { type Clock, wallTimer } from '../base/clock.js';
import type { NodeInfo } from '../wire/packets.js';
import type { Endpoint } from './balancer.js';
import { compilePattern } from './event-pattern.js';

export interface RemoteSubscriber {
  readonly nodeId: string;
  readonly group: string;
}

interface RemoteNode {
  info: NodeInfo;
  /** Connected and not leaving: may be routed to. */
  available: boolean;
  readonly since: number;
}

/**
 * What the other nodes offer, as learned by discovery. Lookups on the call path are one Map get
 * of a prebuilt array; indexes are rebuilt on change, which is rare.
 *
 * Invariant: endpointsFor(a) lists exactly the available nodes whose info has action a.
 */
export class Catalog {
  /** `clock` stamps when each node was first seen (`since`). */
  constructor(private readonly clock: Clock = wallTimer) {}

  private readonly nodes = new Map<string, RemoteNode>();
  private actionIndex = new Map<string, Endpoint[]>();
  private subscriptions: { nodeId: string; group: string; matches: (e: string) => boolean }[] = [];
  private readonly subscriberCache = new Map<string, RemoteSubscriber[]>();
  private readonly allSubscriberCache = new Map<string, RemoteSubscriber[]>();
  private readonly listeners = new Set<() => void>();

  upsert(info: NodeInfo, available: boolean): void {
    const existing = this.nodes.get(info.id);
    if (existing) {
      existing.info = info;
      existing.available = available;
    } else {
      this.nodes.set(info.id, { info, available, since: this.clock.now() });
    }
    this.rebuild();
  }

  setAvailable(nodeId: string, available: boolean): void {
    const node = this.nodes.get(nodeId);
    if (!node || node.available === available) return;
    node.available = available;
    this.rebuild();
  }

  remove(nodeId: string): boolean {
    const removed = this.nodes.delete(nodeId);
    if (removed) this.rebuild();
    return removed;
  }

  get(nodeId: string): { info: NodeInfo; available: boolean; since: number } | undefined {
    return this.nodes.get(nodeId);
  }

  all(): { info: NodeInfo; available: boolean; since: number }[] {
    return [...this.nodes.values()];
  }

  isAvailable(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.available === true;
  }

  /** Available nodes offering `action`, as endpoints (prebuilt: do not mutate). */
  endpointsFor(action: string): readonly Endpoint[] {
    return this.actionIndex.get(action) ?? EMPTY;
  }

  /** Subscriptions of available nodes matching `event` (do not mutate the array). */
  subscribersOf(event: string): readonly RemoteSubscriber[] {
    return this.lookup(this.subscriberCache, event, true);
  }

  /** Subscriptions matching `event` of every known node, reachable or not (broadcast counts them). */
  allSubscribersOf(event: string): readonly RemoteSubscriber[] {
    return this.lookup(this.allSubscriberCache, event, false);
  }

  private lookup(cache: Map<string, RemoteSubscriber[]>, event: string, availableOnly: boolean): RemoteSubscriber[] {
    let subs = cache.get(event);
    if (!subs) {
      subs = [];
      for (const s of this.subscriptions) {
        if (s.matches(event) && (!availableOnly || this.nodes.get(s.nodeId)?.available))
          subs.push({ nodeId: s.nodeId, group: s.group });
      }
      if (cache.size > 10_000) cache.clear();
      cache.set(event, subs);
    }
    return subs;
  }

  /** Called after every change; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private rebuild(): void {
    const index = new Map<string, Endpoint[]>();
    const subs: typeof this.subscriptions = [];
    const sorted = [...this.nodes.values()].sort((a, b) => (a.info.id < b.info.id ? -1 : 1));
    for (const node of sorted) {
      const endpoint: Endpoint = { nodeId: node.info.id, meta: node.info.meta };
      for (const service of node.info.services) {
        for (const e of service.events)
          subs.push({ nodeId: node.info.id, group: e.group, matches: compilePattern(e.pattern) });
        if (!node.available) continue;
        for (const action of service.actions) {
          const full = `${service.name}.${action}`;
          const list = index.get(full);
          if (list) list.push(endpoint);
          else index.set(full, [endpoint]);
        }
      }
    }
    this.actionIndex = index;
    this.subscriptions = subs;
    this.subscriberCache.clear();
    this.allSubscriberCache.clear();
    for (const l of [...this.listeners]) l();
  }
}

const EMPTY: readonly Endpoint[] = Object.freeze([]);
