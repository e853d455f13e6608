import { type BackoffOptions, backoffDelay, DEFAULT_RECONNECT_BACKOFF } from '../base/backoff.js';
import { jsonCodec } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType, PROTOCOL_VERSION, packetName } from '../wire/frame.js';
import { FrameError } from '../wire/frame-decoder.js';
import { encodeGoodbye, type GoodbyeBody, type HelloBody, parseGoodbye, parseHello } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Connection, PeerIdentity } from './connection.js';
import type { FaultInjector } from './fault-injector.js';
import type { Logger } from './logger.js';
import type { Transport } from './transport.js';

/** Largest PING body answered (bytes); a larger one is a protocol violation. Parley sends empty PINGs. */
export const MAX_PING_BODY = 64;

export interface MeshOptions {
  readonly localId: string;
  readonly transport: Transport;
  /** The HELLO this node sends; called for every handshake so it is always current. */
  readonly hello: () => HelloBody;
  readonly logger: Logger;
  /** Send a PING when nothing was received for this long (default 1000 ms). */
  readonly keepaliveIntervalMs?: number;
  /** Declare a connection dead when nothing was received for this long (default 5000 ms). */
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly reconnect?: BackoffOptions;
  /** Test-only: drops or delays frames received from chosen peers (see fault-injector.ts). Default: none. */
  readonly faults?: FaultInjector;
}

export interface MeshEvents {
  /** A peer is reachable (first connection, or back after a loss). */
  onPeerUp(peerId: string, hello: HelloBody): void;
  /** The peer's last connection closed. `graceful` when it had said GOODBYE. */
  onPeerDown(peerId: string, graceful: boolean, reason: string): void;
  /** Every frame other than HELLO/PING/PONG, from a handshaken peer. */
  onFrame(peerId: string, frame: Frame): void;
}

interface PeerState {
  readonly id: string;
  hello: HelloBody;
  /** Where to redial; the peer's listen address. */
  address: string | null;
  /** The connection used for sending. */
  connection: Connection | undefined;
  /** Duplicates kept open briefly so frames already on them are not lost. */
  readonly retired: Set<Connection>;
  /** The peer said GOODBYE: do not redial. */
  leaving: boolean;
  reconnectAttempt: number;
  reconnectTimer: NodeJS.Timeout | undefined;
  rttMs: number | undefined;
}

interface ConnectionState {
  readonly connection: Connection;
  readonly openedAt: number;
  lastReceived: number;
  peerId: string | undefined;
  pingSentAt: number | undefined;
  /** Resolves the dial that made it, once the handshake is done. */
  onHandshake?: (peerId: string) => void;
  onHandshakeError?: (err: Error) => void;
}

/**
 * The mesh moves frames between node ids. It runs the HELLO handshake on every connection, keeps
 * one connection per peer (when both sides dial at once, the connection dialed by the smaller id
 * wins on both sides), sends keepalive PINGs on idle connections, declares a silent connection
 * dead, and redials lost peers with exponential backoff and jitter until told to forget them.
 *
 * Invariant: peers.get(id).connection, when set, is open and handshaken with node `id`.
 */
export class Mesh {
  private readonly peers = new Map<string, PeerState>();
  private readonly connections = new Map<Connection, ConnectionState>();
  private readonly dialing = new Map<string, Promise<string>>();
  private readonly keepaliveIntervalMs: number;
  private readonly idleTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private timer: NodeJS.Timeout | undefined;
  private events: MeshEvents | undefined;
  private stopped = false;
  address: string | null = null;

  constructor(private readonly options: MeshOptions) {
    this.keepaliveIntervalMs = options.keepaliveIntervalMs ?? 1000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 5000;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
    this.backoff = options.reconnect ?? DEFAULT_RECONNECT_BACKOFF;
  }

  async start(events: MeshEvents): Promise<string | null> {
    this.events = events;
    this.address = await this.options.transport.listen((c) => this.adopt(c));
    const tick = Math.max(50, Math.min(this.keepaliveIntervalMs, this.idleTimeoutMs) / 4);
    this.timer = setInterval(() => this.checkLiveness(), tick);
    this.timer.unref();
    return this.address;
  }

  /** Dials `address` (once; concurrent calls share the attempt) and resolves with the peer's id. */
  connect(address: string): Promise<string> {
    if (this.stopped) return Promise.reject(new ParleyError('UNAVAILABLE', 'node is stopping'));
    for (const p of this.peers.values()) if (p.address === address && p.connection) return Promise.resolve(p.id);
    let pending = this.dialing.get(address);
    if (!pending) {
      pending = this.dial(address).finally(() => this.dialing.delete(address));
      this.dialing.set(address, pending);
    }
    return pending;
  }

  isConnected(peerId: string): boolean {
    return this.peers.get(peerId)?.connection !== undefined;
  }

  connectedPeers(): string[] {
    const out: string[] = [];
    for (const p of this.peers.values()) if (p.connection) out.push(p.id);
    return out;
  }

  peerIdentity(peerId: string): PeerIdentity | undefined {
    return this.peers.get(peerId)?.connection?.peerIdentity;
  }

  rtt(peerId: string): number | undefined {
    return this.peers.get(peerId)?.rttMs;
  }

  /** Queues a frame to a peer. Throws UNAVAILABLE when not connected, RESOURCE_EXHAUSTED when full. */
  send(peerId: string, type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    const connection = this.peers.get(peerId)?.connection;
    if (!connection) throw new ParleyError('UNAVAILABLE', `node '${peerId}' is not connected`);
    connection.send(type, flags, stream, body);
  }

  /** Sends GOODBYE to every peer: they stop routing to this node but keep the connection for replies. */
  goodbye(body: GoodbyeBody): void {
    const bytes = encodeGoodbye(body);
    for (const p of this.peers.values()) {
      try {
        p.connection?.send(PacketType.GOODBYE, FrameFlag.JSON, 0, bytes);
        p.connection?.flush();
      } catch {
        // A full or closed connection cannot be told; it will see the close.
      }
    }
  }

  /** Stops redialing a peer and closes its connections. */
  forget(peerId: string): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    this.peers.delete(peerId);
    clearTimeout(p.reconnectTimer);
    p.connection?.close();
    for (const c of p.retired) c.close();
  }

  /** Closes every connection (after flushing) and stops listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const p of this.peers.values()) clearTimeout(p.reconnectTimer);
    const listening = this.options.transport.close();
    for (const c of [...this.connections.keys()]) c.close();
    await listening;
  }

  private async dial(address: string): Promise<string> {
    const connection = await this.options.transport.dial(address);
    return new Promise<string>((resolve, reject) => {
      const state = this.adopt(connection);
      state.onHandshake = resolve;
      state.onHandshakeError = reject;
    });
  }

  private adopt(connection: Connection): ConnectionState {
    const now = Date.now();
    const state: ConnectionState = {
      connection,
      openedAt: now,
      lastReceived: now,
      peerId: undefined,
      pingSentAt: undefined,
    };
    this.connections.set(connection, state);
    connection.setHandlers({
      onFrame: (frame) => this.onFrame(state, frame),
      onClose: (error) => this.onClose(state, error),
    });
    if (this.stopped) {
      connection.destroy(new Error('node is stopping'));
      return state;
    }
    const hello = jsonCodec.encode(this.options.hello());
    connection.send(PacketType.HELLO, FrameFlag.JSON, 0, hello);
    return state;
  }

  private onFrame(state: ConnectionState, frame: Frame): void {
    const faults = this.options.faults;
    if (faults !== undefined) {
      const from = state.peerId ?? helloSender(frame);
      const take = (f: Frame) => this.receiveSafely(state, f);
      if (from !== undefined && faults.intercept(from, frame, take, () => !state.connection.closed)) return;
    }
    this.receiveSafely(state, frame);
  }

  /**
   * The receive path never throws: whatever handling a frame throws (a reply that cannot be queued
   * because the peer does not read, a bug) closes that one connection, with a log line; it must
   * not reach the socket's event handler, where it would crash the process.
   */
  private receiveSafely(state: ConnectionState, frame: Frame): void {
    try {
      this.receive(state, frame);
    } catch (err) {
      this.dropAfterError(state, frame, err);
    }
  }

  private receive(state: ConnectionState, frame: Frame): void {
    state.lastReceived = Date.now();
    const peerId = state.peerId;
    if (!peerId && frame.type !== PacketType.HELLO && frame.type !== PacketType.GOODBYE) {
      // Nothing but the handshake is accepted, or answered, before HELLO.
      this.protocolError(state, `${packetName(frame.type)} before HELLO`);
      return;
    }
    switch (frame.type) {
      case PacketType.HELLO:
        this.onHello(state, frame);
        return;
      case PacketType.PING:
        if (frame.body.length > MAX_PING_BODY) {
          this.protocolError(state, `PING body of ${frame.body.length} bytes (at most ${MAX_PING_BODY})`);
          return;
        }
        state.connection.send(PacketType.PONG, 0, frame.stream, frame.body.slice());
        return;
      case PacketType.PONG:
        if (state.pingSentAt !== undefined && peerId) {
          const peer = this.peers.get(peerId);
          if (peer) peer.rttMs = Date.now() - state.pingSentAt;
          state.pingSentAt = undefined;
        }
        return;
      case PacketType.GOODBYE: {
        const body = safeGoodbye(frame);
        if (!peerId) {
          this.options.logger.warn(`peer at ${state.connection.remoteAddress} refused the connection: ${body.reason}`);
          state.onHandshakeError?.(new ParleyError('UNAVAILABLE', `peer refused the connection: ${body.reason}`));
          state.connection.close();
          return;
        }
        const peer = this.peers.get(peerId);
        if (peer) peer.leaving = true;
        this.events?.onFrame(peerId, frame);
        return;
      }
      default:
        this.events?.onFrame(peerId!, frame);
    }
  }

  /** Closes a connection whose frame could not be handled; a full outbound queue means the peer does not read. */
  private dropAfterError(state: ConnectionState, frame: Frame, err: unknown): void {
    const who = state.peerId ? `'${state.peerId}' (${state.connection.remoteAddress})` : state.connection.remoteAddress;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ParleyError && err.code === 'RESOURCE_EXHAUSTED') {
      this.options.logger.warn(
        `dropping the connection to ${who}: it does not read what this node sends (${state.connection.pendingBytes} bytes queued): ${message}`,
      );
      // A GOODBYE cannot be queued behind a full queue; the close tells the peer.
      state.connection.destroy(err);
      return;
    }
    this.options.logger.error(
      `closing the connection to ${who}: handling a ${packetName(frame.type)} failed: ${message}`,
    );
    this.refuse(state, 'INTERNAL', `this node failed to handle a ${packetName(frame.type)}`);
  }

  private onHello(state: ConnectionState, frame: Frame): void {
    if (state.peerId) {
      this.protocolError(state, 'a second HELLO on one connection');
      return;
    }
    let hello: HelloBody;
    try {
      hello = parseHello(jsonCodec.decode(frame.body));
    } catch (err) {
      this.protocolError(state, `malformed HELLO (${(err as Error).message})`);
      return;
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.refuse(
        state,
        'FAILED_PRECONDITION',
        `peer speaks Parley protocol ${hello.protocol}, this node speaks ${PROTOCOL_VERSION}; run the same Parley major version on both nodes`,
      );
      return;
    }
    const peerId = hello.node.id;
    if (peerId === this.options.localId) {
      if (hello.node.incarnation === this.options.hello().node.incarnation) {
        // We dialed ourselves (e.g. our own address was among the seeds).
        state.onHandshakeError?.(new ParleyError('INVALID_ARGUMENT', 'dialed this node itself'));
        state.connection.close();
      } else {
        this.refuse(
          state,
          'ALREADY_EXISTS',
          `node id '${peerId}' is already used by another running node; give every node a unique id`,
        );
      }
      return;
    }
    const existing = this.peers.get(peerId);
    if (existing?.connection && existing.hello.node.incarnation !== hello.node.incarnation) {
      // Another process claims the id of a peer we are connected to. If that connection is alive
      // (heard from within two keepalive intervals) this is a duplicate id, not a restart: refuse the
      // newcomer, or the two would oust each other forever. A restart finds the old connection
      // closed or silent.
      const current = this.connections.get(existing.connection);
      if (current && !existing.connection.closed && Date.now() - current.lastReceived < 2 * this.keepaliveIntervalMs) {
        this.refuse(
          state,
          'ALREADY_EXISTS',
          `node id '${peerId}' is already used by a running node${existing.address ? ` at ${existing.address}` : ''}; give every node a unique id`,
        );
        return;
      }
    }
    state.peerId = peerId;
    let peer = existing;
    const wasUp = peer?.connection !== undefined;
    if (!peer) {
      peer = {
        id: peerId,
        hello,
        address: hello.node.address,
        connection: undefined,
        retired: new Set(),
        leaving: false,
        reconnectAttempt: 0,
        reconnectTimer: undefined,
        rttMs: undefined,
      };
      this.peers.set(peerId, peer);
    }
    const restarted = peer.hello.node.incarnation !== hello.node.incarnation;
    peer.hello = hello;
    peer.address = hello.node.address ?? peer.address;
    peer.leaving = false;
    peer.reconnectAttempt = 0;
    clearTimeout(peer.reconnectTimer);
    peer.reconnectTimer = undefined;

    const current = peer.connection;
    if (current && !restarted) {
      // Two connections to one peer: keep the one dialed by the smaller id, on both sides.
      const dialer = (c: Connection) => (c.outbound ? this.options.localId : peerId);
      const winner = this.options.localId < peerId ? this.options.localId : peerId;
      const keepNew = dialer(state.connection) === winner && dialer(current) !== winner;
      const loser = keepNew ? current : state.connection;
      if (keepNew) peer.connection = state.connection;
      peer.retired.add(loser);
      setTimeout(() => loser.close(), 1000).unref();
    } else {
      if (current) {
        // The peer restarted: its old connection is stale.
        peer.retired.add(current);
        current.close();
      }
      peer.connection = state.connection;
    }
    state.onHandshake?.(peerId);
    if (!wasUp || restarted) this.events?.onPeerUp(peerId, hello);
  }

  private onClose(state: ConnectionState, error: Error | undefined): void {
    this.connections.delete(state.connection);
    const reason = describeClose(error);
    if (error && !(error instanceof FrameError))
      this.options.logger.debug(`connection ${state.connection.remoteAddress} closed: ${reason}`);
    if (error instanceof FrameError) {
      this.options.logger.warn(
        `closed connection with ${state.peerId ?? state.connection.remoteAddress}: ${error.message}`,
      );
    }
    if (!state.peerId) {
      state.onHandshakeError?.(
        new ParleyError(
          'UNAVAILABLE',
          `connection to ${state.connection.remoteAddress} closed during handshake: ${reason}`,
        ),
      );
      return;
    }
    const peer = this.peers.get(state.peerId);
    if (!peer) return;
    peer.retired.delete(state.connection);
    if (peer.connection !== state.connection) return;
    peer.connection = undefined;
    // Promote a still-open duplicate rather than declaring the peer down.
    for (const spare of peer.retired) {
      if (!spare.closed) {
        peer.retired.delete(spare);
        peer.connection = spare;
        return;
      }
    }
    this.events?.onPeerDown(peer.id, peer.leaving, reason);
    if (!peer.leaving && !this.stopped && peer.address) this.scheduleReconnect(peer);
  }

  private scheduleReconnect(peer: PeerState): void {
    const delay = backoffDelay(peer.reconnectAttempt++, this.backoff);
    clearTimeout(peer.reconnectTimer);
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = undefined;
      if (this.stopped || this.peers.get(peer.id) !== peer || peer.connection || !peer.address) return;
      this.connect(peer.address).catch(() => {
        if (this.peers.get(peer.id) === peer && !peer.connection && !peer.leaving) this.scheduleReconnect(peer);
      });
    }, delay);
    peer.reconnectTimer.unref();
  }

  private checkLiveness(): void {
    const now = Date.now();
    for (const state of this.connections.values()) {
      const silent = now - state.lastReceived;
      if (!state.peerId && now - state.openedAt > this.handshakeTimeoutMs) {
        state.connection.destroy(new Error(`no HELLO within ${this.handshakeTimeoutMs} ms`));
      } else if (silent > this.idleTimeoutMs) {
        state.connection.destroy(new Error(`nothing received for ${silent} ms: peer unresponsive`));
      } else if (silent >= this.keepaliveIntervalMs && state.pingSentAt === undefined && state.peerId) {
        state.pingSentAt = now;
        try {
          state.connection.send(PacketType.PING, 0, 0, new Uint8Array(0));
        } catch {
          // closed or full: the close handler or the idle timeout deals with it
        }
      }
    }
  }

  private protocolError(state: ConnectionState, what: string): void {
    this.refuse(state, 'INVALID_ARGUMENT', `protocol violation: ${what}`);
  }

  private refuse(state: ConnectionState, code: GoodbyeBody['code'], reason: string): void {
    this.options.logger.warn(`refusing connection from ${state.connection.remoteAddress}: ${reason}`);
    try {
      state.connection.send(PacketType.GOODBYE, FrameFlag.JSON, 0, encodeGoodbye({ code, reason }));
    } catch {
      // already closed
    }
    state.onHandshakeError?.(new ParleyError('UNAVAILABLE', reason));
    state.connection.close();
  }
}

/** The id a HELLO claims, so that fault rules apply to the handshake too; undefined when unreadable. */
function helloSender(frame: Frame): string | undefined {
  if (frame.type !== PacketType.HELLO) return undefined;
  try {
    return parseHello(jsonCodec.decode(frame.body)).node.id;
  } catch {
    return undefined;
  }
}

function safeGoodbye(frame: Frame): GoodbyeBody {
  try {
    return parseGoodbye(jsonCodec.decode(frame.body));
  } catch {
    return { code: 'UNKNOWN', reason: 'unreadable GOODBYE' };
  }
}

function describeClose(error: Error | undefined): string {
  if (!error) return 'closed';
  return error.message;
}
