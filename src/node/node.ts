import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createConsoleLogger, type Logger } from '../transport/logger.js';
import { Mesh } from '../transport/mesh.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../transport/transport.js';
import { type Codec, codecByName, codecForFlags } from '../wire/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, type Frame, FrameFlag, PacketType, PROTOCOL_VERSION } from '../wire/frame.js';
import {
  encodeGossip,
  encodeOneway,
  encodeRequest,
  errorFromBody,
  type GossipEntry,
  type HelloBody,
  type Meta,
  type NodeInfo,
  parseError,
  parseGossip,
  parseNodeInfo,
  type RequestOptions,
} from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import { type Balancer, type Endpoint, RoundRobinBalancer } from './balancer.js';
import { Catalog } from './catalog.js';
import { type CallOptions, Context, type EmitOptions, type Messenger, mergeMeta } from './context.js';
import type { Discovery, DiscoveryHost } from './discovery/discovery.js';
import { PeerToPeerDiscovery } from './discovery/peer-to-peer.js';
import { EventRouter } from './event-router.js';
import { EventSequences } from './event-sequences.js';
import { type LocalAction, LocalServices } from './local-services.js';
import type { CallHandler, Middleware, OutgoingCall } from './middleware.js';
import { createNodeService } from './node-service.js';
import type { NodeOptions } from './options.js';
import { PendingCalls } from './pending-calls.js';
import { notServed, RequestServer } from './request-server.js';
import type { AnyContract, ContractShape, ServiceDefinition } from './service.js';
import { isThenable } from './thenable.js';

type NodeState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A node's view of another node, for status displays. */
export interface PeerView {
  readonly id: string;
  readonly address: string | null;
  readonly connected: boolean;
  readonly services: NodeInfo['services'];
  readonly meta: Meta;
  readonly rttMs: number | undefined;
}

/**
 * A Parley node: hosts services, and calls, sends and emits to services anywhere in the mesh.
 * Local targets run in-process without serialization; remote ones go through the mesh.
 *
 * The node is the composition root: it owns LocalServices (what it hosts), Catalog (what others
 * host), PendingCalls (its outgoing calls), the Mesh (connections) and a Discovery.
 */
export class ParleyNode<C extends ContractShape = AnyContract> implements Messenger {
  readonly id: string;
  readonly logger: Logger;
  private readonly options: NodeOptions;
  private readonly codec: Codec;
  private readonly incarnation = randomBytes(6).toString('hex');
  private readonly local = new LocalServices();
  private readonly catalog = new Catalog();
  private readonly pending = new PendingCalls({ onGiveUp: (peerId, id) => this.sendCancel(peerId, id) });
  private readonly sequences = new EventSequences();
  private readonly mesh: Mesh;
  private readonly discovery: Discovery;
  private readonly balancer: Balancer;
  private readonly middlewares: readonly Middleware[];
  private readonly callChain: CallHandler;
  private readonly forgetTimers = new Map<string, NodeJS.Timeout>();
  private readonly events: EventRouter;
  private readonly server: RequestServer;
  private infoVersion = 1;
  private state: NodeState = 'created';
  private startedAt = 0;
  private listenAddress: string | null = null;

  constructor(options: NodeOptions = {}) {
    this.options = options;
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    if (typeof this.id !== 'string' || this.id.length === 0 || /\s/.test(this.id)) {
      throw new TypeError(`node id must be a non-empty string without spaces, got '${String(this.id)}'`);
    }
    this.logger =
      typeof options.logger === 'object' ? options.logger : createConsoleLogger(this.id, options.logger ?? 'warn');
    this.codec = codecByName(options.codec ?? 'msgpack');
    const limits = {
      maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      maxOutboundBytes: options.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES,
    };
    const transport =
      options.transport ??
      new TcpTransport({
        host: options.host ?? '127.0.0.1',
        port: options.port === undefined ? 0 : options.port,
        tls: options.tls,
        ...limits,
      });
    this.mesh = new Mesh({
      localId: this.id,
      transport,
      hello: () => this.hello(),
      logger: this.logger,
      keepaliveIntervalMs: options.keepaliveInterval ?? 1000,
      idleTimeoutMs: options.idleTimeout ?? 5000,
      ...(options.faultInjector ? { faults: options.faultInjector } : {}),
    });
    this.discovery =
      options.discovery ??
      new PeerToPeerDiscovery({ seeds: options.seeds ?? [], gossipIntervalMs: options.gossipInterval ?? 1000 });
    this.balancer = options.balancer ?? new RoundRobinBalancer();
    this.middlewares = options.middlewares ?? [];
    let chain: CallHandler = (call) => this.dispatch(call);
    for (let i = this.middlewares.length - 1; i >= 0; i--) {
      const m = this.middlewares[i]!;
      if (m.call) chain = m.call(chain);
    }
    this.callChain = chain;
    const parts = {
      nodeId: this.id,
      local: this.local,
      mesh: this.mesh,
      codec: this.codec,
      logger: this.logger,
      messenger: this,
    };
    this.events = new EventRouter({ ...parts, catalog: this.catalog, sequences: this.sequences });
    this.server = new RequestServer(parts);
    this.catalog.onChange(() => this.events.invalidate());
    this.local.add(createNodeService(this), this.wrapAction);
  }

  /** host:port peers dial, or null before start / for a node that does not listen. */
  get address(): string | null {
    return this.listenAddress;
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
      this.announce();
      void this.runHook(definition, 'started');
    }
    return this;
  }

  /** Unregisters a service; the other nodes stop routing to it here. */
  removeService(name: string): boolean {
    const removed = this.local.remove(name);
    this.events.invalidate();
    if (removed && this.state === 'running') this.announce();
    return removed !== undefined;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new ParleyError('FAILED_PRECONDITION', `node '${this.id}' was already started`);
    this.state = 'starting';
    this.startedAt = Date.now();
    const bound = await this.mesh.start({
      onPeerUp: (peerId, hello) => this.onPeerUp(peerId, hello),
      onPeerDown: (peerId, graceful, reason) => this.onPeerDown(peerId, graceful, reason),
      onFrame: (peerId, frame) => this.onFrame(peerId, frame),
    });
    this.listenAddress = bound === null ? null : (this.options.advertise ?? bound);
    await this.discovery.start(this.discoveryHost());
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
    for (const t of this.forgetTimers.values()) clearTimeout(t);
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
    const parent = options.parent;
    const meta = mergeMeta(parent?.meta, options.meta);
    let deadline: number | undefined;
    if (options.timeout !== undefined && options.timeout > 0) deadline = Date.now() + options.timeout;
    if (parent?.deadline !== undefined && (deadline === undefined || parent.deadline < deadline))
      deadline = parent.deadline;
    const signal = options.signal ?? parent?.signal;
    return this.callChain({ action, params, options, meta, deadline, signal }) as Promise<C[K]['result']>;
  }

  /** One-way message: runs the action somewhere without waiting for it or its result. */
  send(action: string, params?: unknown, options: CallOptions = {}): void {
    const meta = mergeMeta(options.parent?.meta, options.meta);
    const target =
      options.nodeId ??
      this.route(action, { action, params, options, meta, deadline: undefined, signal: undefined })?.nodeId ??
      this.id;
    if (target === this.id) {
      const local = this.local.action(action);
      if (!local) throw notServed(action, this.id);
      const ctx = new Context(this, this.id, this.id, action, meta ?? {}, undefined, undefined, undefined);
      queueMicrotask(() => this.server.runOneway(local, params, ctx));
      return;
    }
    const body = this.encode(encodeOneway({ action, params, meta }), `params of '${action}'`);
    this.mesh.send(target, PacketType.ONEWAY, this.codec.flag, 0, body);
  }

  /**
   * Delivers an event to exactly one handler per subscribed group (balanced across nodes). Rejects
   * with RESOURCE_EXHAUSTED when a target's outbound queue is full (that delivery is lost, and the
   * receiver sees the gap in its sequence numbers).
   */
  emit(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.events.emit(event, payload, options);
  }

  /** Delivers an event to every matching handler on every node. */
  broadcast(event: string, payload?: unknown, options: EmitOptions = {}): Promise<void> {
    return this.events.broadcast(event, payload, options);
  }

  /** Resolves once every named action can be called (locally or on a connected node). */
  waitFor(actions: string | readonly string[], timeoutMs = 10_000): Promise<void> {
    const names = typeof actions === 'string' ? [actions] : actions;
    const ready = () =>
      names.every((a) => this.local.action(a) !== undefined || this.catalog.endpointsFor(a).length > 0);
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const missing = names.filter(
          (a) => this.local.action(a) === undefined && this.catalog.endpointsFor(a).length === 0,
        );
        reject(new ParleyError('DEADLINE_EXCEEDED', `no node offers ${missing.join(', ')} after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.catalog.onChange(() => {
        if (!ready()) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** The nodes this node knows, itself first. */
  nodes(): PeerView[] {
    const self: PeerView = {
      id: this.id,
      address: this.listenAddress,
      connected: true,
      services: this.local.infos(),
      meta: this.options.meta ?? {},
      rttMs: 0,
    };
    const others = this.catalog.all().map(({ info, available }) => ({
      id: info.id,
      address: info.address,
      connected: available,
      services: info.services,
      meta: info.meta,
      rttMs: this.mesh.rtt(info.id),
    }));
    return [self, ...others.sort((a, b) => (a.id < b.id ? -1 : 1))];
  }

  /** Counters for health displays. */
  stats(): { inFlight: number; pendingCalls: number; uptimeMs: number; state: NodeState; connections: number } {
    return {
      inFlight: this.server.inFlight + this.events.inFlight,
      pendingCalls: this.pending.size,
      uptimeMs: this.startedAt ? Date.now() - this.startedAt : 0,
      state: this.state,
      connections: this.mesh.connectedPeers().length,
    };
  }

  // ---- caller side -------------------------------------------------------------------------

  /** The end of the call chain: choose the node, then run locally or send. */
  private dispatch(call: OutgoingCall): Promise<unknown> {
    let endpoint: Endpoint | null;
    try {
      endpoint = call.options.nodeId === undefined ? this.route(call.action, call) : null;
    } catch (err) {
      return Promise.reject(err);
    }
    const target = call.options.nodeId ?? endpoint?.nodeId ?? this.id;
    call.target = target;
    if (target === this.id) {
      const local = this.local.action(call.action);
      if (!local) return Promise.reject(notServed(call.action, this.id));
      return this.invokeLocal(local, call);
    }
    if (endpoint && (this.balancer.onStart || this.balancer.onEnd)) return this.invokeObserved(endpoint, call);
    return this.invokeRemote(target, call);
  }

  /** A remote call whose start and end the balancer wants to see (in-flight counts, latency). */
  private invokeObserved(endpoint: Endpoint, call: OutgoingCall): Promise<unknown> {
    const started = performance.now();
    this.balancer.onStart?.(endpoint, call);
    return this.invokeRemote(endpoint.nodeId, call).then(
      (value) => {
        this.balancer.onEnd?.(endpoint, call, { ok: true, latencyMs: performance.now() - started });
        return value;
      },
      (err: ParleyError) => {
        this.balancer.onEnd?.(endpoint, call, { ok: false, latencyMs: performance.now() - started, code: err.code });
        throw err;
      },
    );
  }

  /** The endpoint to send to, or null to run locally; throws NOT_FOUND / UNAVAILABLE when there is none. */
  private route(action: string, call: OutgoingCall): Endpoint | null {
    const exclude = call.exclude;
    if (this.local.action(action) && !exclude?.has(this.id)) return null;
    let candidates = this.catalog.endpointsFor(action);
    if (exclude && exclude.size > 0) {
      const filtered = candidates.filter((e) => !exclude.has(e.nodeId));
      if (filtered.length > 0) candidates = filtered;
    }
    if (candidates.length === 0) {
      const known = this.catalog
        .all()
        .some(({ info }) =>
          info.services.some(
            (s) => action.startsWith(`${s.name}.`) && s.actions.includes(action.slice(s.name.length + 1)),
          ),
        );
      if (known)
        throw new ParleyError('UNAVAILABLE', `every node offering '${action}' is unreachable right now; retry later`);
      throw new ParleyError(
        'NOT_FOUND',
        `no node offers action '${action}'; check the name or start a node that serves it`,
      );
    }
    return this.balancer.pick(candidates, call);
  }

  private invokeLocal(local: LocalAction, call: OutgoingCall): Promise<unknown> {
    const deadline = call.deadline ?? this.defaultDeadline(local);
    const ctx = new Context(
      this,
      this.id,
      this.id,
      call.action,
      call.meta ?? {},
      deadline,
      call.signal,
      undefined,
      requestOptions(call.options) ?? NO_OPTIONS,
    );
    let result: unknown;
    try {
      if (call.signal?.aborted)
        throw new ParleyError('CANCELLED', `call to '${call.action}' was cancelled by the caller`);
      result = local.invoke(call.params, ctx);
    } catch (err) {
      ctx.finish();
      return Promise.reject(ParleyError.from(err));
    }
    if (!isThenable(result)) {
      ctx.finish();
      return Promise.resolve(result);
    }
    if (deadline === undefined && !call.signal) {
      return Promise.resolve(result).then(
        (v) => {
          ctx.finish();
          return v;
        },
        (e) => {
          ctx.finish();
          throw ParleyError.from(e);
        },
      );
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => finish(undefined, ParleyError.from(ctxReason(call.signal)));
      const finish = (value: unknown, error: ParleyError | undefined) => {
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', onAbort);
        if (error) ctx.abort(error);
        ctx.finish();
        if (error) reject(error);
        else resolve(value);
      };
      if (deadline !== undefined) {
        timer = setTimeout(
          () =>
            finish(
              undefined,
              new ParleyError(
                'DEADLINE_EXCEEDED',
                `call to '${call.action}' on node '${this.id}' got no answer within its deadline`,
              ),
            ),
          Math.max(0, deadline - Date.now()),
        );
      }
      call.signal?.addEventListener('abort', onAbort, { once: true });
      Promise.resolve(result).then(
        (v) => finish(v, undefined),
        (e) => finish(undefined, ParleyError.from(e)),
      );
    });
  }

  private invokeRemote(peerId: string, call: OutgoingCall): Promise<unknown> {
    const deadline = call.deadline ?? this.defaultDeadline(undefined);
    let timeoutMs = 0;
    if (deadline !== undefined) {
      timeoutMs = deadline - Date.now();
      if (timeoutMs <= 0) {
        return Promise.reject(
          new ParleyError('DEADLINE_EXCEEDED', `deadline for '${call.action}' passed before it was sent`),
        );
      }
    }
    if (call.signal?.aborted) {
      return Promise.reject(new ParleyError('CANCELLED', `call to '${call.action}' was cancelled by the caller`));
    }
    let body: Uint8Array;
    try {
      body = this.encode(
        encodeRequest({
          action: call.action,
          params: call.params,
          meta: call.meta,
          timeoutMs,
          options: requestOptions(call.options),
        }),
        `params of '${call.action}'`,
      );
    } catch (err) {
      return Promise.reject(err);
    }
    const { id, promise } = this.pending.create(peerId, call.action, timeoutMs, call.signal);
    try {
      this.mesh.send(peerId, PacketType.REQUEST, this.codec.flag, id, body);
    } catch (err) {
      this.pending.settle(id, peerId, undefined, ParleyError.from(err));
    }
    return promise;
  }

  private sendCancel(peerId: string, id: number): void {
    try {
      this.mesh.send(peerId, PacketType.CANCEL, 0, id, EMPTY);
    } catch {
      // The peer is gone or congested: its handler's deadline will end it.
    }
  }

  private defaultDeadline(local: LocalAction | undefined): number | undefined {
    const ms = local?.options.timeout ?? this.options.requestTimeout ?? 30_000;
    return ms > 0 ? Date.now() + ms : undefined;
  }

  private encode(value: unknown, what: string): Uint8Array {
    try {
      return this.codec.encode(value);
    } catch (err) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what} cannot be encoded with ${this.codec.name}: ${(err as Error).message}`,
      );
    }
  }

  // ---- receiver side ------------------------------------------------------------------------

  private onFrame(peerId: string, frame: Frame): void {
    switch (frame.type) {
      case PacketType.REQUEST:
        this.server.onRequest(peerId, frame);
        return;
      case PacketType.RESPONSE:
        this.onResponse(peerId, frame);
        return;
      case PacketType.ONEWAY:
        this.server.onOneway(peerId, frame);
        return;
      case PacketType.EVENT:
        this.events.receive(peerId, frame);
        return;
      case PacketType.CANCEL:
        this.server.onCancel(peerId, frame.stream);
        return;
      case PacketType.GOODBYE:
        // The peer is stopping: route elsewhere now; its connection stays for replies.
        this.catalog.setAvailable(peerId, false);
        return;
      case PacketType.GOSSIP:
        this.safely(peerId, 'GOSSIP', () =>
          this.discovery.gossip?.(peerId, parseGossip(codecForFlags(frame.flags).decode(frame.body))),
        );
        return;
      case PacketType.INFO:
        this.safely(peerId, 'INFO', () => {
          const info = parseNodeInfo(codecForFlags(frame.flags).decode(frame.body));
          if (info.id === peerId) this.catalog.upsert(info, this.mesh.isConnected(peerId));
        });
        return;
      default:
        this.logger.debug(`ignoring packet type ${frame.type} from '${peerId}'`);
    }
  }

  private onResponse(peerId: string, frame: Frame): void {
    let value: unknown;
    let error: ParleyError | undefined;
    try {
      const decoded = codecForFlags(frame.flags).decode(frame.body);
      if (frame.flags & FrameFlag.ERROR) error = errorFromBody(parseError(decoded));
      else value = decoded;
    } catch (err) {
      error = new ParleyError('INTERNAL', `could not decode the response from '${peerId}': ${(err as Error).message}`);
    }
    this.pending.settle(frame.stream, peerId, value, error);
  }

  private safely(peerId: string, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.warn(`dropped a malformed ${what} packet from '${peerId}': ${(err as Error).message}`);
    }
  }

  // ---- membership ---------------------------------------------------------------------------

  private hello(): HelloBody {
    return {
      protocol: PROTOCOL_VERSION,
      codec: this.codec.name,
      maxFrameSize: this.options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      node: this.info(),
    };
  }

  private info(): NodeInfo {
    return {
      id: this.id,
      address: this.listenAddress,
      incarnation: this.incarnation,
      version: this.infoVersion,
      services: this.local.infos(),
      meta: this.options.meta ?? {},
    };
  }

  /** Tells every connected peer about a change in this node's services. */
  private announce(): void {
    this.infoVersion++;
    const body = this.codec.encode(this.info());
    for (const peerId of this.mesh.connectedPeers()) {
      try {
        this.mesh.send(peerId, PacketType.INFO, this.codec.flag, 0, body);
      } catch (err) {
        this.logger.warn(`could not tell '${peerId}' about new services: ${(err as Error).message}`);
      }
    }
  }

  private onPeerUp(peerId: string, hello: HelloBody): void {
    clearTimeout(this.forgetTimers.get(peerId));
    this.forgetTimers.delete(peerId);
    const previous = this.catalog.get(peerId);
    if (previous && previous.info.incarnation !== hello.node.incarnation) {
      // The peer restarted: whatever it was doing for us, and we for it, is gone.
      this.sequences.resetSent(peerId);
      this.pending.failPeer(
        peerId,
        (action) =>
          new ParleyError(
            'UNAVAILABLE',
            `node '${peerId}' restarted before answering '${action}'; the action may or may not have run`,
          ),
      );
      this.server.abortFrom(peerId, new ParleyError('CANCELLED', `caller '${peerId}' restarted`));
      this.server.forget(peerId);
    }
    this.catalog.upsert(hello.node, this.state !== 'stopping');
    this.logger.debug(`node '${peerId}' is up at ${hello.node.address ?? '(client)'}`);
    this.discovery.peerUp?.(peerId);
  }

  private onPeerDown(peerId: string, graceful: boolean, reason: string): void {
    this.catalog.setAvailable(peerId, false);
    this.pending.failPeer(
      peerId,
      (action) =>
        new ParleyError(
          'UNAVAILABLE',
          `node '${peerId}' disconnected before answering '${action}' (${reason}); the action may or may not have run`,
        ),
    );
    this.server.abortFrom(peerId, new ParleyError('CANCELLED', `caller '${peerId}' disconnected`));
    if (graceful) {
      this.forget(peerId);
      return;
    }
    this.logger.info(`lost node '${peerId}' (${reason}); redialing for ${this.options.failureTimeout ?? 5000} ms`);
    clearTimeout(this.forgetTimers.get(peerId));
    const timer = setTimeout(() => {
      this.forgetTimers.delete(peerId);
      if (!this.mesh.isConnected(peerId)) {
        this.logger.info(`node '${peerId}' is gone`);
        this.forget(peerId);
      }
    }, this.options.failureTimeout ?? 5000);
    timer.unref();
    this.forgetTimers.set(peerId, timer);
  }

  private forget(peerId: string): void {
    this.catalog.remove(peerId);
    this.mesh.forget(peerId);
    this.server.forget(peerId);
    this.sequences.forget(peerId);
  }

  private discoveryHost(): DiscoveryHost {
    return {
      nodeId: this.id,
      connect: (address) => this.mesh.connect(address),
      isConnected: (id) => this.mesh.isConnected(id),
      peerIds: () => this.mesh.connectedPeers(),
      connectedPeers: () => {
        const out: GossipEntry[] = [];
        for (const id of this.mesh.connectedPeers()) {
          const info = this.catalog.get(id)?.info;
          if (info?.address) out.push({ id, address: info.address, incarnation: info.incarnation });
        }
        return out;
      },
      sendGossip: (peerId, entries) => {
        try {
          this.mesh.send(peerId, PacketType.GOSSIP, this.codec.flag, 0, this.codec.encode(encodeGossip(entries)));
        } catch {
          // disconnected or congested: the next round will tell it
        }
      },
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
    const end = Date.now() + timeoutMs;
    const busy = () => this.server.inFlight + this.events.inFlight;
    while (busy() > 0 || this.pending.size > 0) {
      if (Date.now() >= end) {
        this.logger.warn(
          `stopping with ${busy()} handler(s) and ${this.pending.size} call(s) still running after ${timeoutMs} ms`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async runHook(definition: ServiceDefinition, hook: 'started' | 'stopped'): Promise<void> {
    try {
      await definition[hook]?.({ nodeId: this.id });
    } catch (err) {
      this.logger.error(`service '${definition.name}' ${hook} hook failed: ${(err as Error).message}`);
    }
  }
}

const EMPTY = new Uint8Array(0);
const NO_OPTIONS: RequestOptions = Object.freeze({});

/** The options of a call that travel to the serving node, or null when there are none. */
function requestOptions(options: CallOptions): RequestOptions | null {
  const { idempotencyKey, priority } = options;
  if (idempotencyKey === undefined && priority === undefined) return null;
  return {
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(priority === undefined ? {} : { priority }),
  };
}

function ctxReason(signal: AbortSignal | undefined): unknown {
  const reason = signal?.reason;
  if (reason instanceof ParleyError) return reason;
  return new ParleyError('CANCELLED', 'the call was cancelled by the caller');
}

/** Creates a node. See NodeOptions for the settings and their defaults. */
export function createNode<C extends ContractShape = AnyContract>(options: NodeOptions = {}): ParleyNode<C> {
  return new ParleyNode<C>(options);
}
