import type { HelloBody } from '../wire/packets.js';
import type { Connection } from './connection.js';
import type { Principal } from './principal.js';
import type { ConnectionAuth } from './security/connection-auth.js';

/**
 * What the mesh remembers of a peer and of a connection: the rows of its two tables. Plain
 * records; the mesh (mesh.ts) is the only writer.
 *
 * Invariants: a PeerState's `connection`, when set, is open and handshaken with node `id`; a
 * ConnectionState's `peerId` is set once, by admission, and `principal` (with `auth`) before it.
 */

export interface PeerState {
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
  rttMs: number | undefined;
  /**
   * When a send to it first failed with a full outbound queue, while the queue has not moved since
   * (no send succeeded, and the bytes queued never dropped below `queuedWhenFull`).
   */
  outboundFullSince: number | undefined;
  queuedWhenFull: number;
}

export interface ConnectionState {
  readonly connection: Connection;
  readonly openedAt: number;
  lastReceived: number;
  /** The address this node dialed to make it (undefined: accepted). */
  dialed: string | undefined;
  /** The id the peer's HELLO claims, once it arrived (before admission too). */
  claimedId: string | undefined;
  peerId: string | undefined;
  pingSentAt: number | undefined;
  /** The connection's authentication, when the mesh authenticates peers. */
  auth: ConnectionAuth | undefined;
  /** The peer's HELLO, kept while its authentication runs. */
  peerHello: Uint8Array | undefined;
  /** Who the handshake proved the peer is. */
  principal: Principal | undefined;
  /**
   * Without a proof (a mesh without `auth`): the peer's claim, made once per connection (its TLS
   * identity never changes) instead of once per request served.
   */
  unproven: Principal | undefined;
  /** This side refused the connection: what still arrives on it is dropped unread. */
  refused: boolean;
  /** Authenticated, held while a restarted peer's old connection is probed: frames are held. */
  probing: boolean;
  /** Resolves the dial that made it, once the handshake is done. */
  onHandshake?: (peerId: string) => void;
  onHandshakeError?: (err: Error) => void;
}

export function newConnectionState(connection: Connection, now: number): ConnectionState {
  return {
    connection,
    openedAt: now,
    lastReceived: now,
    dialed: undefined,
    claimedId: undefined,
    peerId: undefined,
    pingSentAt: undefined,
    auth: undefined,
    peerHello: undefined,
    principal: undefined,
    unproven: undefined,
    refused: false,
    probing: false,
  };
}

export function newPeerState(id: string, hello: HelloBody): PeerState {
  return {
    id,
    hello,
    address: hello.node.address,
    connection: undefined,
    retired: new Set(),
    leaving: false,
    rttMs: undefined,
    outboundFullSince: undefined,
    queuedWhenFull: 0,
  };
}
