import { DEFAULT_RECONNECT_BACKOFF } from '../base/backoff.js';
import { systemTimer, type Timer } from '../base/clock.js';
import { jsonCodec } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType, packetName } from '../wire/frame.js';
import { FrameError } from '../wire/frame-decoder.js';
import { encodeGoodbye, type GoodbyeBody, type HelloBody, parseGoodbye } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { ErrorCode } from '../wire/status.js';
import { type Connection, isOutboundQueueFull, type PeerIdentity } from './connection.js';
import {
  type ConnectionRefusal,
  RefusalLog,
  type RefusalReason,
  refusalError,
  refusalReasonOf,
} from './connection-refusal.js';
import { type HelloProof, judgeHello, type KnownPeer, keepNewConnection } from './handshake.js';
import type { LivenessSettings } from './liveness.js';
import { checkConnection, LivenessTicker } from './liveness-ticker.js';
import { MAX_PING_BODY, type MeshEvents, type MeshOptions } from './mesh-options.js';
import { type ConnectionState, newConnectionState, newPeerState, type PeerState } from './mesh-state.js';
import { type Principal, unprovenPrincipal } from './principal.js';
import { Redialer } from './redialer.js';
import { probeOldConnection } from './restart-probe.js';
import type { ResolvedAuth } from './security/auth-options.js';
import { ConnectionAuth } from './security/connection-auth.js';
import { type Revocation, revocationOf, TokenExpiry } from './security/revocation.js';
import { SealedConnection } from './security/sealed-connection.js';

export { MAX_PING_BODY, type MeshEvents, type MeshOptions } from './mesh-options.js';

/** How long a duplicate connection stays open after losing the tie-break, so frames on it arrive. */
const DUPLICATE_GRACE_MS = 1000;

/**
 * The mesh moves frames between node ids: the table of peers and their connections, and the
 * receive path of every connection. Its decisions live beside it: handshake.ts (accept or refuse a
 * HELLO; which of two connections to one peer to keep), liveness.ts and liveness-ticker.ts (when
 * to PING, when a silent connection is dead), redialer.ts (when to redial a lost peer).
 *
 * Invariants:
 * - peers.get(id).connection, when set, is open and handshaken with node `id`;
 * - before its handshake completes (HELLO, and AUTH when `auth` is set), a connection gets nothing
 *   but the handshake: any other frame closes it, except frames that follow the peer's AUTH while
 *   its verdict is computed, which are held (bounded) and delivered once it is authenticated;
 * - with `auth`, a peer is entered in the table only with the principal its handshake proved, and
 *   every frame of a connection is delivered as coming from that connection's peer;
 * - the receive path never throws (receiveSafely): a frame that cannot be handled closes only its
 *   connection, and a peer whose outbound queue is full (it does not read) is dropped;
 * - onPeerDown fires once per loss of a peer's last connection; `graceful` when the peer said
 *   GOODBYE or this mesh is stopping, and only a non-graceful loss is redialed.
 */
export class Mesh {
  private readonly peers = new Map<string, PeerState>();
  private readonly connections = new Map<Connection, ConnectionState>();
  private readonly dialing = new Map<string, Promise<string>>();
  private readonly liveness: LivenessSettings;
  private readonly timer: Timer;
  private readonly redialer: Redialer;
  private readonly ticker: LivenessTicker;
  private readonly refusals: RefusalLog;
  private readonly expiry: TokenExpiry<ConnectionState>;
  /** The authentication options new connections use; replaced by updateAuth. */
  private auth: ResolvedAuth | undefined;
  private events: MeshEvents | undefined;
  private stopped = false;
  address: string | null = null;

  constructor(private readonly options: MeshOptions) {
    this.liveness = {
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 1000,
      idleTimeoutMs: options.idleTimeoutMs ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    };
    this.timer = options.timer ?? systemTimer;
    this.refusals = new RefusalLog(this.timer);
    this.auth = options.auth;
    this.expiry = new TokenExpiry(this.timer, (state, principal) =>
      this.revoke(state, { reason: 'token-expired', message: `the token of '${principal.name}' expired` }),
    );
    this.ticker = new LivenessTicker(this.timer, this.liveness, (stalled) => this.checkLiveness(stalled));
    this.redialer = new Redialer({
      timer: this.timer,
      random: options.random ?? Math.random,
      backoff: options.reconnect ?? DEFAULT_RECONNECT_BACKOFF,
    });
  }

  async start(events: MeshEvents): Promise<string | null> {
    this.events = events;
    this.address = await this.options.transport.listen((c) => this.adopt(c));
    this.ticker.start();
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

  /**
   * Who the connected peer is, as its handshake proved it. On a mesh without `auth`, a peer with a
   * CA-verified TLS certificate is named by it and every other peer by its claimed id, marked
   * unauthenticated.
   */
  peerPrincipal(peerId: string): Principal | undefined {
    const connection = this.peers.get(peerId)?.connection;
    if (!connection) return undefined;
    const state = this.connections.get(connection);
    if (!state) return unprovenPrincipal(peerId, connection.peerIdentity);
    return state.principal ?? (state.unproven ??= unprovenPrincipal(peerId, connection.peerIdentity));
  }

  /** The last refusal of a handshake with `address` (dialed or accepted) or the peer `peerId`, either way; until one succeeds. */
  lastRefusal(addressOrPeerId: string): ConnectionRefusal | undefined {
    return this.refusals.last(addressOrPeerId);
  }

  /** Calls `listener` on every refusal, by a peer or by this node; returns the function that stops it. */
  onRefusal(listener: (refusal: ConnectionRefusal) => void): () => void {
    return this.refusals.listen(listener);
  }

  rtt(peerId: string): number | undefined {
    return this.peers.get(peerId)?.rttMs;
  }

  /**
   * Queues a frame to a peer. Throws UNAVAILABLE when not connected, RESOURCE_EXHAUSTED when the
   * frame is too large or the outbound queue is full; a queue that stays full past the idle
   * timeout gets the peer dropped (liveness.ts).
   */
  send(peerId: string, type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    const peer = this.peers.get(peerId);
    const connection = peer?.connection;
    if (!peer || !connection) throw new ParleyError('UNAVAILABLE', `node '${peerId}' is not connected`);
    try {
      connection.send(type, flags, stream, body);
    } catch (err) {
      if (isOutboundQueueFull(err) && peer.outboundFullSince === undefined) {
        peer.outboundFullSince = this.timer.now();
        peer.queuedWhenFull = connection.pendingBytes;
      }
      throw err;
    }
    if (peer.outboundFullSince !== undefined) peer.outboundFullSince = undefined;
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
    this.redialer.reset(peerId);
    p.connection?.close();
    for (const c of p.retired) c.close();
  }

  /**
   * Replaces the trust list and token keys (a reloaded file): new handshakes use `next`, and every
   * authenticated connection whose identity no longer holds under it is closed (revocation.ts).
   * The method and sealing must not change.
   */
  updateAuth(next: ResolvedAuth): void {
    this.auth = next;
    for (const state of [...this.connections.values()]) this.recheck(state);
  }

  /** Closes every connection (after flushing) and stops listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker.stop();
    this.redialer.cancelAll();
    const listening = this.options.transport.close();
    for (const c of [...this.connections.keys()]) c.close();
    await listening;
  }

  private async dial(address: string): Promise<string> {
    const connection = await this.options.transport.dial(address);
    return new Promise<string>((resolve, reject) => {
      const state = this.adopt(connection);
      state.dialed = address;
      state.onHandshake = resolve;
      state.onHandshakeError = reject;
    });
  }

  private adopt(raw: Connection): ConnectionState {
    const now = this.timer.now();
    const { auth } = this;
    const { sealing } = this.options;
    // Sealing is switched on by the handshake (security/connection-auth.ts), both ways at agreed points.
    const connection = auth?.seal ? new SealedConnection(raw, sealing) : raw;
    const state = newConnectionState(connection, now);
    if (auth) {
      state.auth = new ConnectionAuth(auth, connection, {
        authenticated: (principal) => this.onAuthenticated(state, principal),
        refused: (code, reason, message) => this.refuse(state, code, message, reason),
      });
    }
    this.connections.set(connection, state);
    connection.setHandlers({
      onFrame: (frame) => this.receiveSafely(state, frame),
      onClose: (error) => this.onClose(state, error),
    });
    if (this.stopped) {
      connection.destroy(new Error('node is stopping'));
      return state;
    }
    const own = this.options.hello();
    const hello = jsonCodec.encode(state.auth ? { ...own, auth: state.auth.helloAuth() } : own);
    state.auth?.sentHello(hello);
    connection.send(PacketType.HELLO, FrameFlag.JSON, 0, hello);
    return state;
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
    if (state.refused) return;
    state.lastReceived = this.timer.now();
    const peerId = state.peerId;
    if (!peerId && frame.type !== PacketType.HELLO && frame.type !== PacketType.GOODBYE) {
      if (frame.type === PacketType.AUTH && state.auth) {
        state.auth.onAuth(frame.body);
        return;
      }
      // The peer may send as soon as it has verified this side; its own verdict may take a moment.
      if (state.auth && (state.auth.verifying || state.probing)) {
        if (!state.auth.hold(frame)) {
          const message = 'protocol violation: too much sent before authentication completed';
          this.refuse(state, 'RESOURCE_EXHAUSTED', message, 'protocol');
        }
        return;
      }
      // Nothing but the handshake is accepted, or answered, before it completes.
      this.protocolError(state, `${packetName(frame.type)} before ${state.peerHello ? 'authentication' : 'HELLO'}`);
      return;
    }
    switch (frame.type) {
      case PacketType.AUTH:
        this.protocolError(state, 'AUTH after the handshake');
        return;
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
          if (peer) peer.rttMs = this.timer.now() - state.pingSentAt;
          state.pingSentAt = undefined;
        }
        return;
      case PacketType.GOODBYE: {
        const body = safeGoodbye(frame);
        if (!peerId || body.refusal !== undefined) {
          // Refused at the handshake (or, admitted by this side without authentication, by the peer's).
          const refusal = this.refusals.record({
            code: body.code === 'OK' ? 'UNAVAILABLE' : body.code,
            reason: refusalReasonOf(body.refusal),
            message: body.reason,
            by: 'peer',
            address: state.dialed ?? state.connection.remoteAddress,
            peerId: state.claimedId,
          });
          this.options.logger.warn(`${refusal.address} refused the connection: ${body.reason}`);
          if (!peerId) {
            state.onHandshakeError?.(refusalError(refusal));
            state.connection.close();
            return;
          }
        } else if (body.code !== 'OK') this.options.logger.warn(`'${peerId}' closed the connection: ${body.reason}`);
        const peer = this.peers.get(peerId);
        // An expired token is redialed (a token function may give a fresh one); other refusals are final.
        if (peer && body.refusal !== 'token-expired') peer.leaving = true;
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
    this.refuse(state, 'INTERNAL', `this node failed to handle a ${packetName(frame.type)}`, undefined);
  }

  private onHello(state: ConnectionState, frame: Frame): void {
    if (state.peerId || state.peerHello) {
      this.protocolError(state, 'a second HELLO on one connection');
      return;
    }
    const verdict = this.judge(frame.body, state.auth ? 'pending' : 'none');
    if (verdict.kind === 'accept' || verdict.kind === 'probe') state.claimedId = verdict.hello.node.id;
    if (verdict.kind === 'self') {
      state.onHandshakeError?.(new ParleyError('INVALID_ARGUMENT', 'dialed this node itself'));
      state.connection.close();
      return;
    }
    if (verdict.kind === 'refuse') {
      this.refuse(state, verdict.code, verdict.reason, verdict.refusal);
      return;
    }
    if (!state.auth) {
      this.admit(state, verdict.hello, verdict.kind === 'accept' && verdict.restarted);
      return;
    }
    state.peerHello = frame.body.slice();
    state.auth.onPeerHello(state.peerHello, verdict.hello);
  }

  private judge(helloBody: Uint8Array, proof: HelloProof) {
    const local = { id: this.options.localId, incarnation: this.options.hello().node.incarnation };
    return judgeHello(helloBody, local, (id) => this.knownPeer(id), this.liveness.keepaliveIntervalMs, proof);
  }

  /** The peer proved who it is: judge its HELLO again (the table may have changed), admit it, deliver what it sent meanwhile. */
  private onAuthenticated(state: ConnectionState, principal: Principal): void {
    if (this.connections.get(state.connection) !== state || state.connection.closed || this.stopped) return;
    const verdict = this.judge(state.peerHello!, principal);
    if (verdict.kind === 'self') {
      this.refuse(state, 'INVALID_ARGUMENT', 'dialed this node itself', 'protocol');
      return;
    }
    if (verdict.kind === 'refuse') {
      this.refuse(state, verdict.code, verdict.reason, verdict.refusal);
      return;
    }
    if (verdict.kind === 'probe') {
      this.probeRestart(state, principal, verdict.hello);
      return;
    }
    this.enter(state, principal, verdict.hello, verdict.restarted);
  }

  /** Admits an authenticated connection and delivers what it sent meanwhile. */
  private enter(state: ConnectionState, principal: Principal, hello: HelloBody, restarted: boolean): void {
    state.probing = false;
    state.principal = principal;
    this.admit(state, hello, restarted);
    this.expiry.watch(state, principal);
    // Authenticated under options a reload has replaced since: judged again under the new ones.
    if (state.auth!.options !== this.auth) this.recheck(state);
    for (const frame of state.auth!.takeHeld()) {
      if (state.connection.closed) return;
      this.receiveSafely(state, frame);
    }
  }

  /** A restarted peer proved its old connection's identity: the newcomer waits for the old one's probe (restart-probe.ts). */
  private probeRestart(state: ConnectionState, principal: Principal, hello: HelloBody): void {
    const peer = this.peers.get(hello.node.id)!;
    const old = peer.connection && this.connections.get(peer.connection);
    state.probing = true;
    probeOldConnection(this.timer, old, peer.rttMs, this.liveness.handshakeTimeoutMs, (alive) => {
      if (this.connections.get(state.connection) !== state || state.connection.closed || this.stopped) return;
      if (alive && peer.connection === old?.connection) {
        const reason = `node id '${hello.node.id}' is already used by a running node that proves the same identity; give every node its own key or certificate`;
        this.refuse(state, 'ALREADY_EXISTS', reason, 'duplicate-id');
        return;
      }
      this.options.logger.info(
        `'${hello.node.id}' restarted: its old connection did not answer; the new one replaces it`,
      );
      this.enter(state, principal, hello, true);
    });
  }

  /** Enters a handshaken connection in the peer table. */
  private admit(state: ConnectionState, hello: HelloBody, restarted: boolean): void {
    const peerId = hello.node.id;
    state.peerId = peerId;
    this.refusals.forget(state.dialed, peerId);
    let peer = this.peers.get(peerId);
    const wasUp = peer?.connection !== undefined;
    if (!peer) {
      peer = newPeerState(peerId, hello);
      this.peers.set(peerId, peer);
    }
    peer.hello = hello;
    peer.address = hello.node.address ?? peer.address;
    peer.leaving = false;
    peer.outboundFullSince = undefined;
    this.redialer.reset(peerId);

    const current = peer.connection;
    if (current && !restarted) {
      // Two connections to one peer: both sides keep the one dialed by the smaller id.
      const keepNew = keepNewConnection(this.options.localId, peerId, current, state.connection);
      const loser = keepNew ? current : state.connection;
      if (keepNew) peer.connection = state.connection;
      peer.retired.add(loser);
      this.timer.setTimeout(() => loser.close(), DUPLICATE_GRACE_MS);
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

  /** The peer whose sending connection this is, if it is one. */
  private sendingPeer(state: ConnectionState): PeerState | undefined {
    const peer = state.peerId === undefined ? undefined : this.peers.get(state.peerId);
    return peer?.connection === state.connection ? peer : undefined;
  }

  /** What the handshake needs to know of a peer: its incarnation and how long its connection is silent. */
  private knownPeer(peerId: string): KnownPeer | undefined {
    const peer = this.peers.get(peerId);
    if (!peer) return undefined;
    const open = peer.connection && !peer.connection.closed ? this.connections.get(peer.connection) : undefined;
    return {
      incarnation: peer.hello.node.incarnation,
      address: peer.address,
      silentMs: open ? this.timer.now() - open.lastReceived : undefined,
      principal: open?.principal,
    };
  }

  private onClose(state: ConnectionState, error: Error | undefined): void {
    this.connections.delete(state.connection);
    this.expiry.forget(state);
    const reason = error?.message ?? 'closed';
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
    this.events?.onPeerDown(peer.id, peer.leaving || this.stopped, reason);
    if (!peer.leaving && !this.stopped && peer.address) this.scheduleReconnect(peer);
  }

  private scheduleReconnect(peer: PeerState): void {
    this.redialer.schedule(peer.id, () => {
      if (this.stopped || this.peers.get(peer.id) !== peer || peer.connection || !peer.address) return;
      this.connect(peer.address).catch(() => {
        if (this.peers.get(peer.id) === peer && !peer.connection && !peer.leaving && !this.stopped) {
          this.scheduleReconnect(peer);
        }
      });
    });
  }

  private checkLiveness(stalled: boolean): void {
    const now = this.timer.now();
    for (const state of [...this.connections.values()]) {
      checkConnection(state, this.sendingPeer(state), now, this.liveness, stalled, this.options.logger);
    }
  }

  /** Judges an admitted connection again under the current options; closes it if its identity no longer holds. */
  private recheck(state: ConnectionState): void {
    const { auth } = this;
    const principal = state.principal;
    if (!auth || !principal || !state.auth || state.refused) return;
    void revocationOf(principal, state.auth.peerProof, auth).then((why) => {
      if (why && this.auth === auth) this.revoke(state, why);
    });
  }

  private revoke(state: ConnectionState, why: Revocation): void {
    if (state.refused || state.connection.closed || !state.principal) return;
    // Not redialed from here: a revoked peer comes back by dialing, and is judged then.
    const peer = state.peerId === undefined ? undefined : this.peers.get(state.peerId);
    if (peer?.connection === state.connection) peer.leaving = true;
    this.refuse(state, 'UNAUTHENTICATED', `${why.message}; it must authenticate again`, why.reason);
    this.options.onRevoked?.(state.peerId ?? state.connection.remoteAddress, state.principal, why);
  }

  private protocolError(state: ConnectionState, what: string): void {
    this.refuse(state, 'INVALID_ARGUMENT', `protocol violation: ${what}`, 'protocol');
  }

  /**
   * Closes a connection with a GOODBYE saying why. With a `refusal` reason (a handshake refused, an
   * identity revoked) the GOODBYE carries it and the refusal is recorded; the dial, if any, fails with it.
   */
  private refuse(state: ConnectionState, code: ErrorCode, message: string, refusal: RefusalReason | undefined): void {
    if (state.refused) return;
    state.refused = true;
    const address = state.dialed ?? state.connection.remoteAddress;
    this.options.logger.warn(`refusing connection ${state.dialed ? 'to' : 'from'} ${address}: ${message}`);
    try {
      const body = { code, reason: message, ...(refusal ? { refusal } : {}) };
      state.connection.send(PacketType.GOODBYE, FrameFlag.JSON, 0, encodeGoodbye(body));
    } catch {
      // already closed
    }
    const peerId = state.peerId ?? state.claimedId;
    const recorded = refusal && this.refusals.record({ code, reason: refusal, message, by: 'local', address, peerId });
    state.onHandshakeError?.(recorded ? refusalError(recorded) : new ParleyError(code, message));
    state.connection.close();
  }
}

function safeGoodbye(frame: Frame): GoodbyeBody {
  try {
    return parseGoodbye(jsonCodec.decode(frame.body));
  } catch {
    return { code: 'UNKNOWN', reason: 'unreadable GOODBYE' };
  }
}
