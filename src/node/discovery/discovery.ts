import type { GossipEntry } from '../../wire/packets.js';

/** What a discovery mechanism may ask of its node. */
export interface DiscoveryHost {
  readonly nodeId: string;
  /** Dials a node and resolves with its id once the handshake is done. */
  connect(address: string): Promise<string>;
  isConnected(nodeId: string): boolean;
  /** Connected peers with a listen address. */
  connectedPeers(): GossipEntry[];
  /** Every connected peer id, clients without a listen address included. */
  peerIds(): string[];
  /** Sends a GOSSIP packet to one peer. */
  sendGossip(peerId: string, entries: readonly GossipEntry[]): void;
}

/**
 * Finds the other nodes and tells the node which to connect to. Service lists travel in each
 * connection's HELLO/INFO, so discovery only has to make the node dial the right addresses.
 * Implementations: PeerToPeerDiscovery (seeds + gossip); a registry-backed one plugs in here.
 */
export interface Discovery {
  start(host: DiscoveryHost): Promise<void>;
  /** A peer connected (gossip uses it to share what it knows at once). */
  peerUp?(peerId: string): void;
  /** A GOSSIP packet arrived. */
  gossip?(fromPeerId: string, entries: readonly GossipEntry[]): void;
  stop(): Promise<void>;
}
