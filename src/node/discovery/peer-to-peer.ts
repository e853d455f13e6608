import { type BackoffOptions, backoffDelay } from '../../base/backoff.js';
import { type CancelTimer, systemTimer, type Timer } from '../../base/clock.js';
import type { Random } from '../../base/random.js';
import { parseAddress } from '../../transport/tcp-transport.js';
import type { GossipEntry } from '../../wire/packets.js';
import type { Discovery, DiscoveryHost } from './discovery.js';

export interface PeerToPeerOptions {
  readonly seeds: readonly string[];
  /** How often every peer is told the addresses this node is connected to (default 1000 ms). */
  readonly gossipIntervalMs?: number;
  readonly seedBackoff?: BackoffOptions;
  /**
   * Most new dials gossip may start per gossip interval (default 16); addresses past it wait for a
   * later GOSSIP (every peer repeats its list each interval, so the mesh still converges).
   */
  readonly maxGossipDialsPerInterval?: number;
  /** Time and timers (default: the system's). */
  readonly timer?: Timer;
  /** Jitter of the seed redials (default Math.random). */
  readonly random?: Random;
}

/**
 * Peer-to-peer discovery: dial the seeds (retrying with backoff until each answers once), then
 * learn every other node's address from GOSSIP and dial it, so the nodes form a full mesh.
 * A node gossips only peers it is connected to, so a dead node drops out of gossip at once.
 *
 * What gossip can make a node do is bounded, since any peer can send it: GOSSIP counts only from
 * a connected (handshaken) peer — clients included: after a long partition members may have
 * forgotten each other, and a client connected to both sides is what reintroduces them; the
 * packet parser refuses more than MAX_GOSSIP_ENTRIES entries; an entry must name a dialable host:port that is
 * not this node and not an unspecified address (0.0.0.0, ::); and at most
 * maxGossipDialsPerInterval new dials start per interval, whoever asks.
 *
 * Invariant: dialsThisInterval ≤ maxGossipDialsPerInterval; it resets when an interval ends.
 */
export class PeerToPeerDiscovery implements Discovery {
  private host: DiscoveryHost | undefined;
  private cancelGossip: CancelTimer | undefined;
  private readonly seedTimers = new Set<CancelTimer>();
  private readonly dialing = new Set<string>();
  private readonly timer: Timer;
  private readonly random: Random;
  private readonly intervalMs: number;
  private readonly maxDials: number;
  private dialsThisInterval = 0;
  private stopped = false;

  constructor(private readonly options: PeerToPeerOptions) {
    this.timer = options.timer ?? systemTimer;
    this.random = options.random ?? Math.random;
    this.intervalMs = options.gossipIntervalMs ?? 1000;
    this.maxDials = options.maxGossipDialsPerInterval ?? 16;
  }

  async start(host: DiscoveryHost): Promise<void> {
    this.host = host;
    for (const seed of this.options.seeds) this.dialSeed(seed, 0);
    this.scheduleGossip();
  }

  peerUp(peerId: string): void {
    this.host?.sendGossip(peerId, this.host.connectedPeers());
  }

  gossip(from: string, entries: readonly GossipEntry[]): void {
    const host = this.host;
    if (!host || this.stopped) return;
    // Only a handshaken peer may point this node at others.
    if (!host.isConnected(from)) return;
    for (const e of entries) {
      if (this.dialsThisInterval >= this.maxDials) return;
      if (e.id === host.nodeId || host.isConnected(e.id) || this.dialing.has(e.address)) continue;
      if (!isDialable(e.address)) continue;
      this.dialsThisInterval++;
      this.dialing.add(e.address);
      host
        .connect(e.address)
        .catch(() => {})
        .finally(() => this.dialing.delete(e.address));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelGossip?.();
    for (const cancel of this.seedTimers) cancel();
    this.seedTimers.clear();
  }

  private scheduleGossip(): void {
    this.cancelGossip = this.timer.setTimeout(() => {
      if (this.stopped) return;
      this.dialsThisInterval = 0;
      this.gossipAll();
      this.scheduleGossip();
    }, this.intervalMs);
  }

  private dialSeed(seed: string, attempt: number): void {
    const host = this.host;
    if (!host || this.stopped) return;
    host.connect(seed).catch(() => {
      if (this.stopped) return;
      const delay = backoffDelay(attempt, this.options.seedBackoff ?? { baseMs: 100, maxMs: 2000 }, this.random);
      const cancel = this.timer.setTimeout(() => {
        this.seedTimers.delete(cancel);
        this.dialSeed(seed, attempt + 1);
      }, delay);
      this.seedTimers.add(cancel);
    });
  }

  private gossipAll(): void {
    const host = this.host;
    if (!host) return;
    const entries = host.connectedPeers();
    for (const id of host.peerIds()) host.sendGossip(id, entries);
  }
}

/** A host:port a peer may be told to dial: well-formed, and not an unspecified (wildcard) host. */
function isDialable(address: string): boolean {
  try {
    const { host } = parseAddress(address);
    return host !== '0.0.0.0' && host !== '::' && host !== '::0' && host !== '[::]';
  } catch {
    return false;
  }
}
