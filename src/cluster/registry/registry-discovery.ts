import { sleep as baseSleep } from '../../base/abort.js';
import { backoffDelay } from '../../base/backoff.js';
import { liveTimer } from '../../base/clock.js';
import type { KvEvent } from '../../kv/types.js';
import type { Discovery, DiscoveryHost } from '../../node/discovery/discovery.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import type { NodeOptions } from '../../node/options.js';
import { KvClient } from '../client/kv-client.js';
import type { KvWatch } from '../client/kv-watch.js';
import type { LeaseKeeper } from '../client/lease-keeper.js';
import { REGISTRY_PREFIX } from '../contract.js';

export { REGISTRY_PREFIX };
export const DEFAULT_REGISTRY_TTL_MS = 5000;

export interface RegistryOptions {
  /** KV cluster members (host:port). */
  readonly servers: readonly string[];
  /** Lease TTL of this node's registration (default 5000 ms). */
  readonly ttlMs?: number;
  /** How often unconnected servers and registered nodes are dialed again (default 1000 ms). */
  readonly redialMs?: number;
}

/** What a node publishes about itself in the registry. */
export interface Registration {
  readonly id: string;
  readonly address: string;
}

const decoder = new TextDecoder();

/**
 * Discovery through the KV registry. The node dials the servers; once the KV answers, it
 * registers `{ id, address }` under `/parley/registry/nodes/<id>` with a lease kept alive in the
 * background, reads the prefix, watches it from the read's revision + 1, and dials every
 * registered address. A dead node's key goes when its lease expires; `stop()` revokes the lease
 * so a graceful stop removes it at once. Service lists still travel in HELLO/INFO.
 *
 * The registry needs a KV client, which needs the node: `attach(node)` before `node.start()`
 * (createRegisteredNode does both).
 */
export class RegistryDiscovery implements Discovery {
  private host: DiscoveryHost | undefined;
  private node: ParleyNode | undefined;
  private kv: KvClient | undefined;
  private readonly known = new Map<string, string>();
  private readonly dialing = new Set<string>();
  private keeper: LeaseKeeper | undefined;
  private lease = 0;
  private watch: KvWatch | undefined;
  private redialTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private registeredOnce!: () => void;
  /** Resolves once this node is registered (or, for a node that does not listen, watching). */
  readonly registered = new Promise<void>((resolve) => {
    this.registeredOnce = resolve;
  });

  constructor(private readonly options: RegistryOptions) {}

  attach(node: ParleyNode): void {
    this.node = node;
  }

  /** The nodes currently registered (id → address). */
  members(): ReadonlyMap<string, string> {
    return this.known;
  }

  async start(host: DiscoveryHost): Promise<void> {
    if (this.node === undefined) throw new Error('RegistryDiscovery.attach(node) must be called before start');
    this.host = host;
    this.kv = new KvClient(this.node, { timeoutMs: 30_000 });
    for (const s of this.options.servers) this.dial(s);
    this.redialTimer = setInterval(() => this.redial(), this.options.redialMs ?? 1000);
    this.redialTimer.unref();
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.redialTimer);
    this.watch?.cancel();
    this.keeper?.stop();
    const kv = this.kv;
    if (kv !== undefined && this.lease !== 0) {
      // Graceful stop: remove the registration now rather than at lease expiry (bounded wait).
      await Promise.race([kv.lease.revoke(this.lease).catch(() => {}), sleep(2000)]);
    }
    await kv?.close();
  }

  private async run(): Promise<void> {
    const kv = this.kv!;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        if (this.node!.address !== null && this.lease === 0) await this.register(kv, this.node!.address);
        const r = await kv.range({ prefix: REGISTRY_PREFIX });
        for (const k of r.kvs) this.learn(k.value);
        const w = kv.watch({ prefix: REGISTRY_PREFIX }, { startRevision: r.revision + 1 });
        this.watch = w;
        w.on((events) => this.onEvents(events));
        this.registeredOnce();
        const err = await w.closed;
        if (err === null || this.stopped) return;
        // The watch fell behind a compaction: list and watch again (registration stays).
        this.known.clear();
        attempt = -1;
      } catch {
        await sleep(backoffDelay(attempt, { baseMs: 100, maxMs: 2000 }));
      }
    }
  }

  private async register(kv: KvClient, address: string): Promise<void> {
    const ttlMs = this.options.ttlMs ?? DEFAULT_REGISTRY_TTL_MS;
    const { id } = await kv.lease.grant(ttlMs);
    if (this.stopped) {
      await kv.lease.revoke(id).catch(() => {});
      return;
    }
    this.lease = id;
    const me: Registration = { id: this.node!.id, address };
    await kv.put(`${REGISTRY_PREFIX}${me.id}`, JSON.stringify(me), { lease: id });
    const keeper = kv.lease.keepAlive(id);
    this.keeper = keeper;
    // Lost (e.g. this process was paused past the TTL): register again under a new lease.
    void keeper.lost.then(() => {
      if (this.stopped || this.keeper !== keeper) return;
      this.lease = 0;
      void this.register(kv, address).catch(() => {});
    });
  }

  private onEvents(events: readonly KvEvent[]): void {
    for (const e of events) {
      const id = decoder.decode(e.kv.key).slice(REGISTRY_PREFIX.length);
      if (e.type === 'DELETE') this.known.delete(id);
      else this.learn(e.kv.value);
    }
  }

  private learn(value: Uint8Array): void {
    let reg: Registration;
    try {
      reg = JSON.parse(decoder.decode(value)) as Registration;
    } catch {
      return; // not ours: ignore
    }
    if (typeof reg?.id !== 'string' || typeof reg.address !== 'string') return;
    this.known.set(reg.id, reg.address);
    if (reg.id !== this.host?.nodeId && !this.host?.isConnected(reg.id)) this.dial(reg.address);
  }

  private redial(): void {
    const host = this.host;
    if (host === undefined || this.stopped) return;
    const connected = new Set(host.connectedPeers().map((p) => p.address));
    for (const s of this.options.servers) if (!connected.has(s)) this.dial(s);
    for (const [id, address] of this.known) if (id !== host.nodeId && !host.isConnected(id)) this.dial(address);
  }

  private dial(address: string): void {
    const host = this.host;
    if (host === undefined || this.stopped || this.dialing.has(address)) return;
    this.dialing.add(address);
    host
      .connect(address)
      .catch(() => {})
      .finally(() => this.dialing.delete(address));
  }
}

/** A node that registers itself in, and discovers the others through, the KV registry on `servers`. */
export function createRegisteredNode(
  options: Omit<NodeOptions, 'discovery' | 'seeds'> & { servers: readonly string[]; registryTtlMs?: number },
): { node: ParleyNode; registry: RegistryDiscovery } {
  const { servers, registryTtlMs, ...nodeOptions } = options;
  const registry = new RegistryDiscovery({ servers, ttlMs: registryTtlMs });
  const node = createNode({ ...nodeOptions, discovery: registry });
  registry.attach(node);
  return { node, registry };
}

/** A wait that keeps the process alive (a registration retry or the revoke's grace must not be cut short). */
function sleep(ms: number): Promise<void> {
  return baseSleep(ms, undefined, liveTimer);
}
