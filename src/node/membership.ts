import type { CancelTimer, Timer } from '../base/clock.js';
import type { Logger } from '../transport/logger.js';
import type { Mesh } from '../transport/mesh.js';
import type { Codec } from '../wire/codec.js';
import { PacketType, PROTOCOL_VERSION } from '../wire/frame.js';
import { encodeGossip, type GossipEntry, type HelloBody, type Meta, type NodeInfo } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Catalog } from './catalog.js';
import type { DiscoveryHost } from './discovery/discovery.js';
import type { EventSequences } from './event-sequences.js';
import type { LocalServices } from './local-services.js';
import type { PendingCalls } from './pending-calls.js';
import type { RequestServer } from './request-server.js';

/** A node's view of another node, for status displays. */
export interface PeerView {
  readonly id: string;
  readonly address: string | null;
  readonly connected: boolean;
  readonly services: NodeInfo['services'];
  readonly meta: Meta;
  readonly rttMs: number | undefined;
}

export interface MembershipDeps {
  readonly nodeId: string;
  /** Changes when the process restarts: peers tell a restart from a reconnect by it. */
  readonly incarnation: string;
  readonly meta: Meta;
  readonly maxFrameSize: number;
  /** How long a lost peer is redialed before it is forgotten, ms. */
  readonly failureTimeoutMs: number;
  readonly local: LocalServices;
  readonly catalog: Catalog;
  readonly pending: PendingCalls;
  readonly server: RequestServer;
  readonly sequences: EventSequences;
  readonly mesh: Mesh;
  readonly codec: Codec;
  readonly logger: Logger;
  readonly timer: Timer;
  /** False while the node stops: peers that connect then are not routed to. */
  readonly accepting: () => boolean;
  /** Discovery's hooks, once it started. */
  readonly discovery: () => { peerUp?(peerId: string): void } | undefined;
  /**
   * The mesh authenticates peers: the HELLO, sent before anyone is proven, names no services and
   * no meta; each peer gets them in an INFO once it is admitted.
   */
  readonly withholdUntilAuthenticated?: boolean;
}

/**
 * Who this node is to its peers, and what it knows of theirs: the HELLO and INFO it sends, the
 * Catalog updates on peer up / down / INFO / GOODBYE, the cleanup when a peer restarts or is lost,
 * and the host interface discovery drives the mesh through.
 *
 * Invariants: `version` of this node's info grows with every announced change; a peer seen with a
 * new incarnation has every call, handler and event sequence of its previous life failed or reset
 * before it is routed to; a lost peer is forgotten (catalog, mesh, server, sequences) exactly once,
 * `failureTimeoutMs` after it went down unless it came back, and at once when it left gracefully;
 * with `withholdUntilAuthenticated`, this node's services and meta reach a peer only after the
 * handshake proved who it is.
 */
export class Membership {
  private readonly forgetTimers = new Map<string, CancelTimer>();
  private infoVersion = 1;
  /** host:port peers dial, or null before start / for a node that does not listen. */
  address: string | null = null;

  constructor(private readonly deps: MembershipDeps) {}

  hello(): HelloBody {
    const info = this.info();
    return {
      protocol: PROTOCOL_VERSION,
      codec: this.deps.codec.name,
      maxFrameSize: this.deps.maxFrameSize,
      node: this.deps.withholdUntilAuthenticated ? { ...info, services: [], meta: {} } : info,
    };
  }

  info(): NodeInfo {
    const { nodeId, incarnation, local, meta } = this.deps;
    return { id: nodeId, address: this.address, incarnation, version: this.infoVersion, services: local.infos(), meta };
  }

  /** Tells every connected peer about a change in this node's services. */
  announce(): void {
    const { mesh, codec, logger } = this.deps;
    this.infoVersion++;
    const body = codec.encode(this.info());
    for (const peerId of mesh.connectedPeers()) {
      try {
        mesh.send(peerId, PacketType.INFO, codec.flag, 0, body);
      } catch (err) {
        logger.warn(`could not tell '${peerId}' about new services: ${(err as Error).message}`);
      }
    }
  }

  /** This node's full info to one (admitted) peer. */
  private sendInfo(peerId: string): void {
    const { mesh, codec, logger } = this.deps;
    try {
      mesh.send(peerId, PacketType.INFO, codec.flag, 0, codec.encode(this.info()));
    } catch (err) {
      logger.warn(`could not tell '${peerId}' about this node's services: ${(err as Error).message}`);
    }
  }

  /** An INFO packet: the peer's services changed. */
  onInfo(peerId: string, info: NodeInfo): void {
    if (info.id === peerId) this.deps.catalog.upsert(info, this.deps.mesh.isConnected(peerId));
  }

  /** A GOODBYE: the peer is stopping; route elsewhere now, its connection stays for replies. */
  onGoodbye(peerId: string): void {
    this.deps.catalog.setAvailable(peerId, false);
  }

  onPeerUp(peerId: string, hello: HelloBody): void {
    const { catalog, sequences, pending, server, logger } = this.deps;
    this.forgetTimers.get(peerId)?.();
    this.forgetTimers.delete(peerId);
    const previous = catalog.get(peerId);
    if (previous && previous.info.incarnation !== hello.node.incarnation) {
      // The peer restarted: whatever it was doing for us, and we for it, is gone.
      sequences.resetSent(peerId);
      pending.failPeer(
        peerId,
        (action) =>
          new ParleyError(
            'UNAVAILABLE',
            `node '${peerId}' restarted before answering '${action}'; the action may or may not have run`,
          ),
      );
      server.abortFrom(peerId, new ParleyError('CANCELLED', `caller '${peerId}' restarted`));
      server.forget(peerId);
    }
    catalog.upsert(hello.node, this.deps.accepting());
    if (this.deps.withholdUntilAuthenticated) this.sendInfo(peerId);
    const where = hello.node.address ?? 'a client without a listen address';
    if (previous === undefined) logger.info(`node '${peerId}' joined (${where})`);
    else if (previous.info.incarnation !== hello.node.incarnation) logger.info(`node '${peerId}' restarted (${where})`);
    else logger.info(`node '${peerId}' is back (${where})`);
    this.deps.discovery()?.peerUp?.(peerId);
  }

  onPeerDown(peerId: string, graceful: boolean, reason: string): void {
    const { catalog, pending, server, logger, mesh, timer, failureTimeoutMs } = this.deps;
    catalog.setAvailable(peerId, false);
    pending.failPeer(
      peerId,
      (action) =>
        new ParleyError(
          'UNAVAILABLE',
          `node '${peerId}' disconnected before answering '${action}' (${reason}); the action may or may not have run`,
        ),
    );
    server.abortFrom(peerId, new ParleyError('CANCELLED', `caller '${peerId}' disconnected`));
    if (graceful) {
      this.forget(peerId);
      return;
    }
    logger.info(`lost node '${peerId}' (${reason}); redialing for ${failureTimeoutMs} ms`);
    this.forgetTimers.get(peerId)?.();
    const cancel = timer.setTimeout(() => {
      this.forgetTimers.delete(peerId);
      if (!mesh.isConnected(peerId)) {
        logger.info(`node '${peerId}' is gone`);
        this.forget(peerId);
      }
    }, failureTimeoutMs);
    this.forgetTimers.set(peerId, cancel);
  }

  /** This node and the nodes it knows, itself first, the others by id (for status displays). */
  peerViews(): PeerView[] {
    const { nodeId, local, meta, catalog, mesh } = this.deps;
    const self: PeerView = {
      id: nodeId,
      address: this.address,
      connected: true,
      services: local.infos(),
      meta,
      rttMs: 0,
    };
    const others = catalog.all().map(({ info, available }) => ({
      id: info.id,
      address: info.address,
      connected: available,
      services: info.services,
      meta: info.meta,
      rttMs: mesh.rtt(info.id),
    }));
    return [self, ...others.sort((a, b) => (a.id < b.id ? -1 : 1))];
  }

  /** Cancels the pending forget timers (the node stops). */
  stop(): void {
    for (const cancel of this.forgetTimers.values()) cancel();
    this.forgetTimers.clear();
  }

  discoveryHost(): DiscoveryHost {
    const { nodeId, mesh, catalog, codec } = this.deps;
    return {
      nodeId,
      connect: (address) => mesh.connect(address),
      isConnected: (id) => mesh.isConnected(id),
      peerIds: () => mesh.connectedPeers(),
      connectedPeers: () => {
        const out: GossipEntry[] = [];
        for (const id of mesh.connectedPeers()) {
          const info = catalog.get(id)?.info;
          if (info?.address) out.push({ id, address: info.address, incarnation: info.incarnation });
        }
        return out;
      },
      sendGossip: (peerId, entries) => {
        try {
          mesh.send(peerId, PacketType.GOSSIP, codec.flag, 0, codec.encode(encodeGossip(entries)));
        } catch {
          // disconnected or congested: the next round will tell it
        }
      },
    };
  }

  private forget(peerId: string): void {
    const { catalog, mesh, server, sequences } = this.deps;
    catalog.remove(peerId);
    mesh.forget(peerId);
    server.forget(peerId);
    sequences.forget(peerId);
  }
}
