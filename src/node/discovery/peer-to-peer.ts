import { type BackoffOptions, backoffDelay } from '../../base/backoff.js';
import type { GossipEntry } from '../../wire/packets.js';
import type { Discovery, DiscoveryHost } from './discovery.js';

export interface PeerToPeerOptions {
  readonly seeds: readonly string[];
  /** How often every peer is told the addresses this node is connected to (default 1000 ms). */
  readonly gossipIntervalMs?: number;
  readonly seedBackoff?: BackoffOptions;
}

/**
 * Peer-to-peer discovery: dial the seeds (retrying with backoff until each answers once), then
 * learn every other node's address from GOSSIP and dial it, so the nodes form a full mesh.
 * A node gossips only peers it is connected to, so a dead node drops out of gossip at once.
 */
export class PeerToPeerDiscovery implements Discovery {
  private host: DiscoveryHost | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly seedTimers = new Set<NodeJS.Timeout>();
  private readonly dialing = new Set<string>();
  private stopped = false;

  constructor(private readonly options: PeerToPeerOptions) {}

  async start(host: DiscoveryHost): Promise<void> {
    this.host = host;
    for (const seed of this.options.seeds) this.dialSeed(seed, 0);
    this.timer = setInterval(() => this.gossipAll(), this.options.gossipIntervalMs ?? 1000);
    this.timer.unref();
  }

  peerUp(peerId: string): void {
    this.host?.sendGossip(peerId, this.host.connectedPeers());
  }

  gossip(_from: string, entries: readonly GossipEntry[]): void {
    const host = this.host;
    if (!host || this.stopped) return;
    for (const e of entries) {
      if (e.id === host.nodeId || host.isConnected(e.id) || this.dialing.has(e.address)) continue;
      this.dialing.add(e.address);
      host
        .connect(e.address)
        .catch(() => {})
        .finally(() => this.dialing.delete(e.address));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const t of this.seedTimers) clearTimeout(t);
    this.seedTimers.clear();
  }

  private dialSeed(seed: string, attempt: number): void {
    const host = this.host;
    if (!host || this.stopped) return;
    host.connect(seed).catch(() => {
      if (this.stopped) return;
      const delay = backoffDelay(attempt, this.options.seedBackoff ?? { baseMs: 100, maxMs: 2000 });
      const t = setTimeout(() => {
        this.seedTimers.delete(t);
        this.dialSeed(seed, attempt + 1);
      }, delay);
      t.unref();
      this.seedTimers.add(t);
    });
  }

  private gossipAll(): void {
    const host = this.host;
    if (!host) return;
    const entries = host.connectedPeers();
    for (const id of host.peerIds()) host.sendGossip(id, entries);
  }
}
