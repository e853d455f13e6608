import { randomBytes } from 'node:crypto';
import { jsonCodec } from '../../wire/codec.js';
import { type Frame, FrameFlag, PacketType } from '../../wire/frame.js';
import type { HelloBody } from '../../wire/packets.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { ErrorCode } from '../../wire/status.js';
import type { Connection } from '../connection.js';
import type { RefusalReason } from '../connection-refusal.js';
import type { Principal } from '../principal.js';
import type { ConnectInfo, ResolvedAuth } from './auth-options.js';
import {
  type AuthBody,
  ephemeralKeyOf,
  type HandshakeRole,
  type HelloAuth,
  handshakeTranscript,
  keyProof,
  NONCE_BYTES,
  parseAuthBody,
  parseHelloAuth,
  secretProof,
  tlsPrincipalName,
  verifyKeyProof,
  verifySecretProof,
} from './handshake-auth.js';
import { canonicalPublicKey } from './node-keys.js';
import type { PresentedProof } from './revocation.js';
import type { SealedConnection } from './sealed-connection.js';
import { deriveSessionKeys, generateEphemeral, type SessionKeys } from './session-keys.js';

/**
 * The authentication state machine of one connection: what it puts in this side's HELLO, what it
 * does with the peer's HELLO and AUTH, and the verdict it gives the mesh (authenticated with a
 * principal, or refused with a code and a reason). The proofs are handshake-auth.ts's; the mesh
 * owns the connection and acts on the verdict.
 *
 * Sequence (both sides run the same machine; the dialer's HELLO is first in the transcript):
 * - HELLO carries this side's nonce, ephemeral key, method and seal flag;
 * - on the peer's HELLO: a member (key, secret, TLS) or a side with nothing to prove sends AUTH
 *   at once, then seals its outbound; a token holder sends nothing yet;
 * - on the peer's AUTH: the proof is checked synchronously, inbound is opened (later frames are
 *   sealed), then the slow checks (token, hook) run; a token holder sends its token only now that
 *   the server is proven, sealed (or over TLS), then is done;
 * - the verdict: authenticated(principal) or refused(code, reason), exactly once.
 *
 * Invariants: a token is never sent before the peer's proof verified, nor on a link that is
 * neither sealed nor TLS; a member's claimed node id equals the name its key or certificate
 * proves, and a node id a trusted key owns is never granted to anyone else; nothing is decided on
 * the claimed id alone unless a secret proved membership (every secret holder is a member).
 */

/** What the handshake needs of a connection to switch its sealing on (SealedConnection). */
export type SealableConnection = Pick<SealedConnection, 'sealOutbound' | 'openInbound'>;

export interface AuthVerdictHandler {
  authenticated(principal: Principal): void;
  /** `reason` is what a program acts on (connection-refusal.ts), `message` what a user reads. */
  refused(code: ErrorCode, reason: RefusalReason, message: string): void;
}

type Phase = 'awaiting-hello' | 'awaiting-auth' | 'verifying' | 'done';

/** Frames held while a peer's AUTH is verified (a peer may send as soon as it has verified us). */
const MAX_HELD_FRAMES = 256;
const MAX_HELD_BYTES = 1024 * 1024;

export class ConnectionAuth {
  private readonly nonce = randomBytes(NONCE_BYTES).toString('base64url');
  private readonly ephemeral = generateEphemeral();
  private readonly role: HandshakeRole;
  private phase: Phase = 'awaiting-hello';
  private ownHello: Uint8Array | undefined;
  private peerHello: HelloBody | undefined;
  private peerAuth: HelloAuth | undefined;
  private presented: PresentedProof = {};
  private transcript: Uint8Array | undefined;
  private keys: SessionKeys | undefined;
  private sentAuth = false;
  private inboundOpen = false;
  private held: Frame[] = [];
  private heldBytes = 0;

  constructor(
    private readonly auth: ResolvedAuth,
    /** A SealedConnection when `auth.seal`. */
    private readonly connection: Connection & Partial<SealableConnection>,
    private readonly verdict: AuthVerdictHandler,
  ) {
    this.role = connection.outbound ? 'dialer' : 'listener';
  }

  /** The `auth` field of this side's HELLO. */
  helloAuth(): HelloAuth {
    return {
      v: 1,
      nonce: this.nonce,
      ephemeral: Buffer.from(this.ephemeral.publicKey).toString('base64url'),
      method: this.auth.method,
      ...(this.auth.keyPair ? { publicKey: this.auth.keyPair.publicKey } : {}),
      seal: this.auth.seal,
    };
  }

  /** This side's HELLO exactly as sent. */
  sentHello(bytes: Uint8Array): void {
    this.ownHello = bytes;
  }

  /** The options this connection was judged by (a reload may have replaced them since). */
  get options(): ResolvedAuth {
    return this.auth;
  }

  /** What the peer presented that can be judged again when the options change (revocation.ts). */
  get peerProof(): PresentedProof {
    return this.presented;
  }

  /** The peer's AUTH arrived and its verdict is not in: frames that follow are held, not refused. */
  get verifying(): boolean {
    return this.phase === 'verifying';
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  /**
   * Keeps a frame that arrived while the peer's AUTH is verified; false when the peer sent more
   * than MAX_HELD_FRAMES / MAX_HELD_BYTES before its verdict (the caller refuses it).
   */
  hold(frame: Frame): boolean {
    this.heldBytes += frame.body.length;
    if (this.held.length >= MAX_HELD_FRAMES || this.heldBytes > MAX_HELD_BYTES) return false;
    this.held.push({ ...frame, body: frame.body.slice() });
    return true;
  }

  /** The frames held so far, in arrival order, handed over once. */
  takeHeld(): Frame[] {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    return held;
  }

  /** The peer's HELLO (already judged acceptable): its body bytes, exactly as received. */
  onPeerHello(body: Uint8Array, hello: HelloBody): void {
    if (this.phase !== 'awaiting-hello' || !this.ownHello) {
      this.protocolError('a second HELLO');
      return;
    }
    let peerAuth: HelloAuth | undefined;
    try {
      peerAuth = parseHelloAuth(hello.auth);
    } catch (err) {
      const e = ParleyError.from(err);
      this.refuse(e.code, 'protocol', e.message);
      return;
    }
    const id = hello.node.id;
    if (!peerAuth) {
      this.refuse(
        'UNAUTHENTICATED',
        'no-credentials',
        `node '${id}' sent no credentials: this node requires authentication; configure the same auth mode on it (auth.key, auth.secret, auth.tls or auth.token)`,
      );
      return;
    }
    if (peerAuth.seal !== this.auth.seal) {
      this.refuse(
        'FAILED_PRECONDITION',
        'encryption-mismatch',
        `node '${id}' ${peerAuth.seal ? 'encrypts' : 'does not encrypt'} its messages and this node ${this.auth.seal ? 'does' : 'does not'}; set auth.encrypt the same on every node`,
      );
      return;
    }
    this.peerHello = hello;
    this.peerAuth = peerAuth;
    const peer = body.slice();
    this.transcript =
      this.role === 'dialer' ? handshakeTranscript(this.ownHello, peer) : handshakeTranscript(peer, this.ownHello);
    this.phase = 'awaiting-auth';
    if (this.auth.method !== 'token') this.sendAuth(this.ownProof());
    // A token holder's AUTH comes sealed: it sends only after our AUTH, which comes first.
    if (peerAuth.method === 'token') this.openInbound();
  }

  /** The peer's AUTH. */
  onAuth(body: Uint8Array): void {
    if (this.phase !== 'awaiting-auth') {
      this.protocolError(this.phase === 'awaiting-hello' ? 'AUTH before HELLO' : 'a second AUTH');
      return;
    }
    let parsed: AuthBody;
    try {
      parsed = parseAuthBody(jsonCodec.decode(body));
    } catch (err) {
      this.refuse('INVALID_ARGUMENT', 'protocol', ParleyError.from(err).message);
      return;
    }
    const proven = this.checkProof(parsed);
    if (proven.refused) {
      this.refuse('UNAUTHENTICATED', proven.refused.reason, proven.refused.message);
      return;
    }
    this.openInbound();
    this.phase = 'verifying';
    void this.conclude(parsed, proven.principal);
  }

  private ownProof(): AuthBody {
    const transcript = this.transcript!;
    switch (this.auth.method) {
      case 'key':
        return { proof: keyProof(this.auth.keyPair!.privateKey, transcript, this.role) };
      case 'secret':
        return { proof: secretProof(this.auth.secret!, transcript, this.role) };
      default:
        return {};
    }
  }

  /** The synchronous part of judging the peer: its proof, and the principal it proves. */
  private checkProof(body: AuthBody): {
    principal?: Principal;
    refused?: { reason: RefusalReason; message: string };
  } {
    const hello = this.peerHello!;
    const peerAuth = this.peerAuth!;
    const id = hello.node.id;
    const peerRole: HandshakeRole = this.role === 'dialer' ? 'listener' : 'dialer';
    switch (peerAuth.method) {
      case 'key': {
        let canonical: string;
        try {
          canonical = canonicalPublicKey(peerAuth.publicKey!);
        } catch (err) {
          return refuse('protocol', `node '${id}' presents an unreadable public key: ${(err as Error).message}`);
        }
        this.presented = { publicKey: canonical };
        const entry = this.auth.trust.get(canonical);
        if (!entry) {
          return refuse(
            'untrusted-key',
            `node '${id}' presents key ${canonical}, which this node does not trust; add it to auth.trust`,
          );
        }
        if (!verifyKeyProof(entry.key, this.transcript!, peerRole, body.proof)) {
          return refuse('bad-proof', `node '${id}' did not prove it holds the secret key of '${entry.name}'`);
        }
        return { principal: { name: entry.name, groups: entry.groups, via: 'key', authenticated: true } };
      }
      case 'secret':
        if (!this.auth.secret)
          return refuse('unsupported-method', `node '${id}' uses a cluster secret, and this node has none`);
        if (!verifySecretProof(this.auth.secret, this.transcript!, peerRole, body.proof)) {
          return refuse('wrong-secret', `node '${id}' does not hold the cluster secret (wrong auth.secret)`);
        }
        return { principal: { name: id, groups: [], via: 'secret', authenticated: true } };
      case 'tls': {
        const name = this.auth.tls ? tlsPrincipalName(this.connection.peerIdentity) : undefined;
        if (!name) {
          return this.auth.tls
            ? refuse(
                'no-certificate',
                `node '${id}' presented no CA-verified certificate (set tls.mutual so dialers present one)`,
              )
            : refuse(
                'unsupported-method',
                `node '${id}' authenticates by TLS certificate, and this node does not (set auth.tls)`,
              );
        }
        const cert = this.connection.peerIdentity!;
        return {
          principal: {
            name,
            groups: [],
            via: 'tls',
            authenticated: true,
            claims: { commonName: cert.commonName, subjectAltName: cert.subjectAltName },
          },
        };
      }
      case 'token':
        if (body.token === undefined) return refuse('no-credentials', `node '${id}' sent no token`);
        if (!this.auth.seal && !this.auth.linkIsTls)
          return refuse('encryption-mismatch', `node '${id}' sent a token in the clear`);
        if (!this.auth.verifyToken && !this.auth.hook)
          return refuse(
            'unsupported-method',
            `node '${id}' presents a token, and this node does not accept tokens (set auth.tokens)`,
          );
        return {};
      default:
        return {};
    }
  }

  /** The slow part: token verification and the hook; then the node-id rule; then, for a token holder, its token. */
  private async conclude(body: AuthBody, proven: Principal | undefined): Promise<void> {
    const hello = this.peerHello!;
    const peerAuth = this.peerAuth!;
    const id = hello.node.id;
    let principal = proven;
    try {
      if (peerAuth.method === 'token') this.presented = { token: body.token };
      if (peerAuth.method === 'token' && this.auth.verifyToken) principal = await this.auth.verifyToken(body.token!);
    } catch (err) {
      const e = ParleyError.from(err);
      const expired = (e.details as { reason?: unknown } | undefined)?.reason === 'token-expired';
      this.refuse('UNAUTHENTICATED', expired ? 'token-expired' : 'bad-token', e.message);
      return;
    }
    try {
      if (this.auth.hook) {
        const info: ConnectInfo = {
          remoteAddress: this.connection.remoteAddress,
          outbound: this.connection.outbound,
          nodeId: id,
          method: peerAuth.method,
          publicKey: peerAuth.publicKey,
          token: body.token,
          tls: this.connection.peerIdentity,
          principal,
        };
        principal = await this.auth.hook(info);
        if (!principal) {
          this.refuse('UNAUTHENTICATED', 'hook-refused', `node '${id}' was refused by the authenticate hook`);
          return;
        }
      }
    } catch (err) {
      const e = ParleyError.from(err);
      this.refuse(
        'UNAUTHENTICATED',
        'hook-refused',
        e.code === 'UNAUTHENTICATED' ? e.message : `authentication failed: ${e.message}`,
      );
      return;
    }
    if (this.connection.closed) return;
    if (!principal) {
      this.refuse(
        'UNAUTHENTICATED',
        'no-credentials',
        `node '${id}' did not prove who it is (method '${peerAuth.method}'); this node requires auth.key, auth.secret, auth.tls or a token`,
      );
      return;
    }
    const mismatch = nodeIdMismatch(id, principal, this.auth.trustedNames, hello.node.address !== null);
    if (mismatch) {
      this.refuse('UNAUTHENTICATED', 'id-mismatch', mismatch);
      return;
    }
    if (!this.sentAuth) {
      // This side holds a token: the server is proven, so it may have it now.
      if (!this.auth.seal && !this.auth.linkIsTls) {
        this.refuse(
          'FAILED_PRECONDITION',
          'encryption-mismatch',
          'a token is only sent sealed or over TLS; do not set auth.encrypt: false without TLS',
        );
        return;
      }
      let token: string;
      try {
        token = await this.auth.token!();
      } catch (err) {
        this.refuse('UNAUTHENTICATED', 'bad-token', `could not get a token to present: ${(err as Error).message}`);
        return;
      }
      if (this.connection.closed) return;
      this.sendAuth({ token });
    }
    this.phase = 'done';
    this.verdict.authenticated(principal);
  }

  private sendAuth(body: AuthBody): void {
    this.sentAuth = true;
    const bytes = jsonCodec.encode(body);
    if (this.auth.method === 'token') {
      // The token goes sealed: switch outbound first.
      this.sealOutbound();
      this.connection.send(PacketType.AUTH, FrameFlag.JSON, 0, bytes);
      return;
    }
    this.connection.send(PacketType.AUTH, FrameFlag.JSON, 0, bytes);
    this.sealOutbound();
  }

  private sessionKeys(): SessionKeys | undefined {
    if (!this.auth.seal) return undefined;
    this.keys ??= deriveSessionKeys(
      this.ephemeral,
      ephemeralKeyOf(this.peerAuth!),
      this.transcript!,
      this.role === 'dialer',
      // The secret strengthens the keys only when both sides proved themselves with it (both must agree).
      this.auth.method === 'secret' && this.peerAuth!.method === 'secret' ? this.auth.secret : undefined,
    );
    return this.keys;
  }

  private sealOutbound(): void {
    const keys = this.sessionKeys();
    if (keys !== undefined) this.sealable().sealOutbound(keys);
  }

  private openInbound(): void {
    if (this.inboundOpen) return;
    this.inboundOpen = true;
    const keys = this.sessionKeys();
    if (keys !== undefined) this.sealable().openInbound(keys);
  }

  private sealable(): SealableConnection {
    const c = this.connection;
    if (!c.sealOutbound || !c.openInbound) throw new Error('bug: a sealing handshake on a connection that cannot seal');
    return c as SealableConnection;
  }

  private protocolError(what: string): void {
    this.refuse('INVALID_ARGUMENT', 'protocol', `protocol violation: ${what}`);
  }

  private refuse(code: ErrorCode, reason: RefusalReason, message: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.verdict.refused(code, reason, message);
  }
}

function refuse(reason: RefusalReason, message: string): { refused: { reason: RefusalReason; message: string } } {
  return { refused: { reason, message } };
}

/** Between a proven name and a client's own suffix in a client's node id: `ops@cli-4242`. */
export const CLIENT_ID_SEPARATOR = '@';

/**
 * Why a peer may not use the node id it claims, or undefined. A peer proven by key or certificate
 * must claim exactly the name it proved — except a peer that does not listen (a client: nobody
 * dials it, so it cannot be a Raft member or serve under a member's address), which may also
 * claim `<name>@<suffix>`, so that several processes holding one key (a CLI command beside the
 * node whose key it uses, two commands at once) do not collide as duplicate ids; its principal
 * is still `<name>`, so what it may do is unchanged. Nobody may claim a name a trusted key owns
 * without that key.
 */
export function nodeIdMismatch(
  claimed: string,
  principal: Principal,
  trustedNames: ReadonlySet<string>,
  listens = true,
): string | undefined {
  if (principal.via === 'key' || principal.via === 'tls') {
    if (claimed === principal.name) return undefined;
    const prefix = `${principal.name}${CLIENT_ID_SEPARATOR}`;
    const clientId = !listens && claimed.startsWith(prefix) && claimed.length > prefix.length;
    if (clientId && !trustedNames.has(claimed)) return undefined;
    const proof = principal.via === 'key' ? 'key' : 'certificate';
    const client = listens ? '' : `; a client that does not listen may also use '${prefix}<suffix>'`;
    return `node id '${claimed}' does not match the identity its ${proof} proves ('${principal.name}')${client}`;
  }
  if (trustedNames.has(claimed) && principal.name !== claimed) {
    return `node id '${claimed}' belongs to a trusted key, and this peer proved '${principal.name}'`;
  }
  return undefined;
}
