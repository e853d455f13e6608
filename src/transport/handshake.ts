import { jsonCodec } from '../wire/codec.js';
import { PROTOCOL_VERSION } from '../wire/frame.js';
import { type HelloBody, parseHello } from '../wire/packets.js';
import type { RefusalReason } from './connection-refusal.js';
import type { Principal } from './principal.js';

/**
 * The mesh's handshake decisions, as pure functions: what to do with a HELLO, and which of two
 * connections to one peer to keep. No I/O, no clock: the caller passes what it knows (how long a
 * connection has been silent) and acts on the verdict.
 *
 * Invariants:
 * - a HELLO is accepted only if it parses, speaks PROTOCOL_VERSION, and claims an id that is
 *   neither this node's nor that of another live process (a connected peer heard from within two
 *   keepalive intervals under a different incarnation: a duplicate id, not a restart — accepting it
 *   would make the two oust each other forever), unless the newcomer proved the same identity as
 *   the old connection did: then the old one is probed (`probe`) and replaced unless it answers;
 * - both ends of a pair of connections keep the same one: the connection dialed by the smaller id.
 */

/** This node, as a HELLO must not claim to be. */
export interface LocalIdentity {
  readonly id: string;
  readonly incarnation: string;
}

/** What this node knows of the peer a HELLO claims to be, if anything. */
export interface KnownPeer {
  readonly incarnation: string;
  readonly address: string | null;
  /** Milliseconds since its open sending connection last received a frame; undefined: none open. */
  readonly silentMs: number | undefined;
  /** Who that open connection's handshake proved the peer is (meshes with `auth`). */
  readonly principal?: Principal | undefined;
}

/**
 * What the newcomer proved, when its HELLO is judged: `none` on a mesh without authentication
 * (the HELLO is all there is), `pending` before its proof arrived (judged again once it did), or
 * the principal it proved.
 */
export type HelloProof = 'none' | 'pending' | Principal;

export type HelloVerdict =
  | {
      readonly kind: 'accept';
      readonly hello: HelloBody;
      /** The peer was known under another incarnation: its previous process is gone. */
      readonly restarted: boolean;
    }
  /** This node dialed itself (its own address was among the seeds): close quietly. */
  | { readonly kind: 'self' }
  /**
   * The peer restarted and proved the same identity as its old, still open connection, which was
   * heard from recently: probe the old connection (a PING); replace it unless it answers.
   */
  | { readonly kind: 'probe'; readonly hello: HelloBody }
  | {
      readonly kind: 'refuse';
      readonly code: 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS';
      readonly refusal: RefusalReason;
      readonly reason: string;
    };

/** Decides what to do with a HELLO's body. `known` is looked up by the id the HELLO claims. */
export function judgeHello(
  body: Uint8Array,
  local: LocalIdentity,
  known: (peerId: string) => KnownPeer | undefined,
  keepaliveIntervalMs: number,
  proof: HelloProof = 'none',
): HelloVerdict {
  let hello: HelloBody;
  try {
    hello = parseHello(jsonCodec.decode(body));
  } catch (err) {
    return {
      kind: 'refuse',
      code: 'INVALID_ARGUMENT',
      refusal: 'protocol',
      reason: `protocol violation: malformed HELLO (${(err as Error).message})`,
    };
  }
  if (hello.protocol !== PROTOCOL_VERSION) {
    return {
      kind: 'refuse',
      code: 'FAILED_PRECONDITION',
      refusal: 'version-mismatch',
      reason: `peer speaks Parley protocol ${hello.protocol}, this node speaks ${PROTOCOL_VERSION}; run the same Parley major version on both nodes`,
    };
  }
  const peerId = hello.node.id;
  if (peerId === local.id) {
    if (hello.node.incarnation === local.incarnation) return { kind: 'self' };
    return {
      kind: 'refuse',
      code: 'ALREADY_EXISTS',
      refusal: 'duplicate-id',
      reason: `node id '${peerId}' is already used by another running node; give every node a unique id`,
    };
  }
  const peer = known(peerId);
  const restarted = peer !== undefined && peer.incarnation !== hello.node.incarnation;
  if (restarted && peer.silentMs !== undefined && peer.silentMs < 2 * keepaliveIntervalMs) {
    if (proof === 'pending') return { kind: 'accept', hello, restarted };
    if (proof !== 'none' && sameIdentity(proof, peer.principal)) return { kind: 'probe', hello };
    return {
      kind: 'refuse',
      code: 'ALREADY_EXISTS',
      refusal: 'duplicate-id',
      reason: `node id '${peerId}' is already used by a running node${peer.address ? ` at ${peer.address}` : ''}; give every node a unique id`,
    };
  }
  return { kind: 'accept', hello, restarted };
}

/** Both proven, by the same means, as the same name. */
function sameIdentity(a: Principal, b: Principal | undefined): boolean {
  return b !== undefined && a.authenticated && b.authenticated && a.via === b.via && a.name === b.name;
}

/**
 * Two connections to one peer (both sides dialed at once): true when the newly handshaken one
 * should replace the current one. The connection dialed by the smaller id (byte-wise) wins, so
 * both sides pick the same connection without talking about it.
 */
export function keepNewConnection(
  localId: string,
  peerId: string,
  current: { readonly outbound: boolean },
  incoming: { readonly outbound: boolean },
): boolean {
  const winner = localId < peerId ? localId : peerId;
  const dialer = (c: { readonly outbound: boolean }) => (c.outbound ? localId : peerId);
  return dialer(incoming) === winner && dialer(current) !== winner;
}
