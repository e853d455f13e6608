import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sleep } from '../base/abort.js';
import { type Timer, wallTimer } from '../base/clock.js';
import { type ConnectionRefusal, refusalError } from '../transport/connection-refusal.js';
import { createConsoleLogger, type Logger } from '../transport/logger.js';
import { Mesh } from '../transport/mesh.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../transport/security/auth-options.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../transport/transport.js';
import { type Codec, codecByName } from '../wire/codec.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';
import { ParleyError } from '../wire/parley-error.js';
import { Authorizer } from './authorization/authorizer.js';
import { RoundRobinBalancer } from './balancer.js';
import { CallDispatcher } from './call-dispatcher.js';
import { Catalog } from './catalog.js';
import type { CallOptions, EmitOptions, Messenger } from './context.js';
import type { Discovery } from './discovery/discovery.js';
import { PeerToPeerDiscovery } from './discovery/peer-to-peer.js';
import { EventRouter } from './event-router.js';
import { EventSequences } from './event-sequences.js';
import { frameHandler } from './frame-dispatch.js';
import { checkListenSecurity } from './listen-security.js';
import { type LocalAction, LocalServices } from './local-services.js';
import { Membership, type PeerView } from './membership.js';
import type { CallHandler, Middleware } from './middleware.js';
import { type AuthChanges, NodeAuth } from './node-auth.js';
import { createNodeService } from './node-service.js';
import type { NodeOptions } from './options.js';
import { PendingCalls } from './pending-calls.js';
import { RequestServer } from './request-server.js';

export type { PeerView } from './membership.js';

import type { AnyContract, AnyEvents, ContractShape, EventShape, ServiceDefinition } from './service.js';

type NodeState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * A Parley node: hosts services, and calls, sends and emits to services anywhere in the mesh.
 * Local targets run in-process without serialization; remote ones go through the mesh.
 *
 * The node is the composition root and the public facade; each job is one part it owns:
 * LocalServices (what it hosts), Catalog (what others host), CallDispatcher (where a call runs),
 * PendingCalls (its outgoing calls), RequestServer (calls from peers), EventRouter (events),
 * Membership (HELLO/INFO, peers up and down), the Mesh (connections) and a Discovery.
 *
 * Invariant: state only moves forward, created → starting → running → stopping → stopped; a
 * stopped node holds no timer, connection or pending call.
 */
export class ParleyNode<C extends ContractShape = AnyContract, E extends EventShape = AnyEvents> implements Messenger {
  readonly id: string;
  readonly logger: Logger;
  private readonly options: NodeOptions;
  private readonly timer: Timer;
  private readonly codec: Codec;
  private readonly local = new LocalServices();
  private readonly catalog: Catalog;
  private readonly pending: PendingCalls;
  private readonly sequences = new EventSequences();
  private readonly mesh: Mesh;
  private readonly discovery: Discovery;
  private readonly middlewares: readonly Middleware[];
  private readonly callChain: CallHandler;
  private readonly events: EventRouter;
  private readonly server: RequestServer;
  private readonly dispatcher: CallDispatcher;
  private readonly membership: Membership;
  /** The policy in force, its checks, denial counters and audit log. */
  readonly authorization: Authorizer;
  /** The authentication options, with their trust and tokens files polled (undefined: no `auth`). */
  private readonly auth: NodeAuth | undefined;
  private state: NodeState = 'created';
  private startedAt = 0;

  constructor(options: NodeOptions = {}) {
    this.options = options;
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    if (typeof this.id !== 'string' || this.id.length === 0 || /\s/.test(this.id)) {
      throw new TypeError(`node id must be a non-empty string without spaces, got '${String(this.id)}'`);
    }
    this.logger =
      typeof options.logger === 'object' ? options.logger : createConsoleLogger(this.id, options.logger ?? 'warn');
    this.timer = options.timer ?? wallTimer;
    this.catalog = new Catalog(this.timer);
    this.codec = codecByName(options.codec ?? 'msgpack');
    this.authorization = new Authorizer({
      nodeId: this.id,
      policy: options.policy,
      audit: options.audit,
      logger: this.logger,
      clock: this.timer,
    });
    this.pending = new PendingCalls({
      timer: this.timer,
      onGiveUp: (peerId, id) => this.dispatcher.sendCancel(peerId, id),
    });
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    const transport =
      options.transport ??
      new TcpTransport({
        host: options.host ?? '127.0.0.1',
        port: options.port === undefined ? 0 : options.port,
        tls: options.tls,
        maxFrameSize,
        maxOutboundBytes: options.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES,
        advertise: options.advertise,
        logger: this.logger,
        maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      });
    const context = {
      linkIsTls: options.tls !== undefined && options.transport === undefined,
      hasCertificate: options.tls?.cert !== undefined,
    };
    this.auth = options.auth
      ? new NodeAuth(options.auth, context, {
          onChange: (resolved, source) => {
            this.mesh.updateAuth(resolved);
            const details = { trustedKeys: resolved.trust.size, tokens: resolved.verifyToken !== undefined };
            this.authorization.record({ event: 'auth-reloaded', source, details });
          },
          onRejected: (err, source) =>
            this.authorization.record({
              event: 'auth-rejected',
              source,
              reason: `${err.message}; the last good version stays in force`,
            }),
        })
      : undefined;
    const auth = this.auth?.resolved;
    this.mesh = new Mesh({
      localId: this.id,
      transport,
      hello: () => this.membership.hello(),
      logger: this.logger,
      keepaliveIntervalMs: options.keepaliveInterval ?? 1000,
      idleTimeoutMs: options.idleTimeout ?? 5000,
      handshakeTimeoutMs: auth?.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      auth,
      onRevoked: (peerId, principal, why) =>
        this.authorization.record({
          event: 'connection-revoked',
          principal: principal.name,
          via: principal.via,
          code: 'UNAUTHENTICATED',
          reason: why.message,
          details: { peerId, refusal: why.reason },
        }),
      sealing: { maxFrameSize, maxOutboundBytes: options.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES },
    });
    this.discovery =
      options.discovery ??
      new PeerToPeerDiscovery({ seeds: options.seeds ?? [], gossipIntervalMs: options.gossipInterval ?? 1000 });
    const parts = {
      nodeId: this.id,
      local: this.local,
      mesh: this.mesh,
      codec: this.codec,
      logger: this.logger,
      timer: this.timer,
      messenger: this,
      authorizer: this.authorization,
    };
    this.events = new EventRouter({ ...parts, catalog: this.catalog, sequences: this.sequences });
    this.server = new RequestServer({ ...parts, maxInFlightPerPeer: options.maxInFlightPerPeer });
    this.dispatcher = new CallDispatcher({
      ...parts,
      catalog: this.catalog,
      pending: this.pending,
      server: this.server,
      balancer: options.balancer ?? new RoundRobinBalancer(),
      requestTimeoutMs: options.requestTimeout ?? 30_000,
      authorizer: this.authorization,
    });
    this.membership = new Membership({
      ...parts,
      incarnation: randomBytes(6).toString('hex'),
      meta: options.meta ?? {},
      maxFrameSize,
      failureTimeoutMs: options.failureTimeout ?? 5000,
      catalog: this.catalog,
      pending: this.pending,
      server: this.server,
      sequences: this.sequences,
      accepting: () => this.state !== 'stopping',
      discovery: () => this.discovery,
      withholdUntilAuthenticated: auth !== undefined,
    });
    this.middlewares = options.middlewares ?? [];
    const host = {
      nodeId: this.id,
      clock: this.timer,
      servesLocally: (action: string) => this.local.action(action) !== undefined,
    };
    let chain: CallHandler = (call) => this.dispatcher.dispatch(call);
    for (let i = this.middlewares.length - 1; i >= 0; i--) {
      const m = this.middlewares[i]!;
      if (m.call) chain = m.call(chain, host);
    }
    this.callChain = chain;
    this.catalog.onChange(() => this.events.invalidate());
    this.authorization.onChange(() => this.events.invalidate());
    this.local.add(createNodeService(this), this.wrapAction);
  }

  /** host:port peers dial, or null before start / for a node that does not listen. */
  get address(): string | null {
    return this.membership.address;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Registers a service. On a running node the other nodes learn of it at once. */
  addService(definition: ServiceDefinition): this {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new ParleyError('FAILED_PRECONDITION', `cannot add service '${definition?.name}': node is ${this.state}`);
    }
    this.local.add(definition, this.wrapAction);
    this.events.invalidate();
    if (this.state === 'running') {
      this.membership.announce();
      void this.runHook(definition, 'started');
    }
    return this;
  }

  /** Unregisters a service; the other nodes stop routing to it here. */
  removeService(name: string): boolean {
    const removed = this.local.remove(name);
    this.events.invalidate();
    if (removed && this.state === 'running') this.membership.announce();
    return removed !== undefined;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new ParleyError('FAILED_PRECONDITION', `node '${this.id}' was already started`);
    const { options } = this;
    checkListenSecurity(
      {
        nodeId: this.id,
        host: options.host ?? '127.0.0.1',
        port: options.port === undefined ? 0 : options.port,
        customTransport: options.transport !== undefined,
        auth: options.auth,
        tls: options.tls,
        insecure: options.insecure === true,
      },
      this.logger,
    );
    this.state = 'starting';
    this.startedAt = this.timer.now();
    const bound = await this.mesh.start({
      onPeerUp: (peerId, hello) => this.membership.onPeerUp(peerId, hello),
      onPeerDown: (peerId, graceful, reason) => this.membership.onPeerDown(peerId, graceful, reason),
      onFrame: frameHandler({
        server: this.server,
        dispatcher: this.dispatcher,
        events: this.events,
        membership: this.membership,
        discovery: this.discovery,
        logger: this.logger,
      }),
    });
    this.membership.address = bound === null ? null : (this.options.advertise ?? bound);
    this.authorization.start();
    this.auth?.start();
    await this.discovery.start(this.membership.discoveryHost());
    this.state = 'running';
    for (const d of this.local.definitions()) await this.runHook(d, 'started');
  }

  /**
   * Stops gracefully: peers are told GOODBYE (they stop routing here at once), in-flight work —
   * handlers running here and this node's own calls — may finish until drainTimeout, then
   * connections close. Requests that were already on their way are still served.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    if (this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.mesh.goodbye({ code: 'OK', reason: `node '${this.id}' is stopping` });
    await this.discovery.stop();
    const drainMs = this.options.drainTimeout ?? 10_000;
    await this.drain(drainMs);
    const stopping = new ParleyError('UNAVAILABLE', `node '${this.id}' stopped before the call finished`);
    this.server.abortAll(stopping);
    this.pending.failAll(() => stopping);
    this.membership.stop();
    this.authorization.stop();
    this.auth?.stop();
    await this.mesh.stop();
    for (const d of this.local.definitions()) await this.runHook(d, 'stopped');
    this.state = 'stopped';
  }

  /** Calls an action wherever it is served and resolves with its result. */
  call<K extends keyof C & string>(
    action: K,
    params?: C[K]['params'],
    options: CallOptions = {},
  ): Promise<C[K]['result']> {
    if (typeof action !== 'string' || action.length === 0) {
      return Promise.reject(
        new ParleyError('INVALID_ARGUMENT', `action name must be a non-empty string, got '${String(action)}'`),
      );
    }
    return this.callChain(this.dispatcher.outgoing(action, params, options)) as Promise<C[K]['result']>;
  }

  /** One-way message: runs the action somewhere without waiting for it or its result. */
  send<K extends keyof C & string>(action: K, params?: C[K]['params'], options: CallOptions = {}): void {
    this.dispatcher.send(action, params, options);
  }

  /**
   * Delivers an event to exactly one handler per subscribed group (balanced across nodes). Rejects
   * with RESOURCE_EXHAUSTED when a target's outbound queue is full (that delivery is lost, and the
   * receiver sees the gap in its sequence numbers).
   */
  emit<K extends keyof E & string>(event: K, payload?: E[K], options: EmitOptions = {}): Promise<void> {
    return this.events.emit(event, payload, options);
  }

  /** Delivers an event to every matching handler on every node. */
  broadcast<K extends keyof E & string>(event: K, payload?: E[K], options: EmitOptions = {}): Promise<void> {
    return this.events.broadcast(event, payload, options);
  }

  /**
   * The last refusal of a handshake with a node at `address` (a seed, a peer's address) or with
   * the node `peerId`: its code, its `reason` (`bad-proof`, `untrusted-key`, `token-expired` …;
   * connection-refusal.ts) and message, and whether the peer refused this node or this node the
   * peer. Cleared when a handshake with it succeeds.
   */
  lastRefusal(addressOrPeerId: string): ConnectionRefusal | undefined {
    return this.mesh.lastRefusal(addressOrPeerId);
  }

  /**
   * Replaces the trust list and/or the token options while the node runs (as a reloaded
   * `auth.trust` / `auth.tokens` file does): new handshakes use them, and every connection whose
   * identity no longer holds — a key no longer trusted (or under another name or groups), a token
   * that no longer verifies — is closed at once, logged and audited (`connection-revoked`).
   * Throws INVALID_ARGUMENT, changing nothing, when they are invalid; FAILED_PRECONDITION without `auth`.
   */
  updateAuth(changes: AuthChanges): void {
    if (!this.auth) throw new ParleyError('FAILED_PRECONDITION', `node '${this.id}' has no auth options to update`);
    this.auth.update(changes);
  }

  /** Calls `listener` on every refused handshake, either way; returns the function that stops it. */
  onRefusal(listener: (refusal: ConnectionRefusal) => void): () => void {
    return this.mesh.onRefusal(listener);
  }

  /**
   * Resolves once every named action can be called (locally or on a connected node). Fails at once
   * with the refusal's code when every seed refused this node's handshake (waiting cannot help).
   */
  waitFor(actions: string | readonly string[], timeoutMs = 10_000): Promise<void> {
    const names = typeof actions === 'string' ? [actions] : actions;
    const ready = () =>
      names.every((a) => this.local.action(a) !== undefined || this.catalog.endpointsFor(a).length > 0);
    if (ready()) return Promise.resolve();
    const seeds = this.options.seeds ?? [];
    const refusedBySeeds = () => {
      let latest: ConnectionRefusal | undefined;
      for (const seed of seeds) {
        const r = this.mesh.lastRefusal(seed);
        // A duplicate id may be this node's previous process, still connected: that one passes.
        if (r === undefined || r.reason === 'duplicate-id') return undefined;
        if (latest === undefined || r.at > latest.at) latest = r;
      }
      return latest;
    };
    return new Promise((resolve, reject) => {
      const giveUp = (refusal: ConnectionRefusal) => {
        cancel();
        off();
        stopListening();
        reject(refusalError(refusal));
      };
      const stopListening = this.mesh.onRefusal(() => {
        const refusal = refusedBySeeds();
        if (refusal) giveUp(refusal);
      });
      const cancel = this.timer.setTimeout(() => {
        stopListening();
        off();
        const missing = names.filter(
          (a) => this.local.action(a) === undefined && this.catalog.endpointsFor(a).length === 0,
        );
        reject(new ParleyError('DEADLINE_EXCEEDED', `no node offers ${missing.join(', ')} after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.catalog.onChange(() => {
        if (!ready()) return;
        cancel();
        off();
        stopListening();
        resolve();
      });
      const refused = refusedBySeeds();
      if (refused) giveUp(refused);
    });
  }

  /** The nodes this node knows, itself first. */
  nodes(): PeerView[] {
    return this.membership.peerViews();
  }

  /** Counters for health displays. */
  stats(): { inFlight: number; pendingCalls: number; uptimeMs: number; state: NodeState; connections: number } {
    return {
      inFlight: this.server.inFlight + this.events.inFlight,
      pendingCalls: this.pending.size,
      uptimeMs: this.startedAt ? this.timer.now() - this.startedAt : 0,
      state: this.state,
      connections: this.mesh.connectedPeers().length,
    };
  }

  // ---- lifecycle helpers --------------------------------------------------------------------

  private readonly wrapAction = (action: Omit<LocalAction, 'invoke'>, handler: LocalAction['invoke']) => {
    let invoke = handler;
    for (let i = this.middlewares.length - 1; i >= 0; i--) {
      const m = this.middlewares[i]!;
      if (m.action) invoke = m.action(invoke, action);
    }
    return invoke;
  };

  /** Waits until no handler (action or event) runs here and no own call is pending, or `timeoutMs` passes. */
  private async drain(timeoutMs: number): Promise<void> {
    const end = this.timer.now() + timeoutMs;
    const busy = () => this.server.inFlight + this.events.inFlight;
    while (busy() > 0 || this.pending.size > 0) {
      if (this.timer.now() >= end) {
        this.logger.warn(
          `stopping with ${busy()} handler(s) and ${this.pending.size} call(s) still running after ${timeoutMs} ms`,
        );
        return;
      }
      await sleep(10, undefined, this.timer);
    }
  }

  private async runHook(definition: ServiceDefinition, hook: 'started' | 'stopped'): Promise<void> {
    try {
      await definition[hook]?.({ nodeId: this.id, node: this as unknown as ParleyNode });
    } catch (err) {
      this.logger.error(`service '${definition.name}' ${hook} hook failed: ${(err as Error).message}`);
    }
  }
}

/**
 * Creates a node. See NodeOptions for the settings and their defaults. `C` types `call`/`send`
 * (`ContractOf<typeof svc>`), `E` types `emit`/`broadcast` (`{ 'order.created': { id: string } }`).
 */
export function createNode<C extends ContractShape = AnyContract, E extends EventShape = AnyEvents>(
  options: NodeOptions = {},
): ParleyNode<C, E> {
  return new ParleyNode<C, E>(options);
}
