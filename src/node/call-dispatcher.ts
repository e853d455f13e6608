import { systemTimer, type Timer } from '../base/clock.js';
import type { Mesh } from '../transport/mesh.js';
import { localPrincipal, type Principal } from '../transport/principal.js';
import { type Codec, codecForFlags } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType } from '../wire/frame.js';
import { encodeOneway, encodeRequest, errorFromBody, parseError, type RequestOptions } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Authorizer } from './authorization/authorizer.js';
import type { Balancer, Endpoint } from './balancer.js';
import type { Catalog } from './catalog.js';
import { type CallOptions, Context, type Messenger, mergeMeta } from './context.js';
import { runHandler } from './handler-runner.js';
import type { LocalAction, LocalServices } from './local-services.js';
import type { OutgoingCall } from './middleware.js';
import { abortedCallError, type PendingCalls } from './pending-calls.js';
import { notServed, type RequestServer } from './request-server.js';

export interface CallDispatcherDeps {
  readonly nodeId: string;
  readonly local: LocalServices;
  readonly catalog: Catalog;
  readonly pending: PendingCalls;
  readonly server: RequestServer;
  readonly mesh: Mesh;
  readonly codec: Codec;
  readonly balancer: Balancer;
  readonly timer: Timer;
  /** Which peers may serve which actions under the node's policy (none refused without one). */
  readonly authorizer: Pick<Authorizer, 'enabled' | 'decide'>;
  /** The node, for nested calls from handlers run here. */
  readonly messenger: Messenger;
  /** Deadline of a call when neither caller nor action gives one, ms (0 = none). */
  readonly requestTimeoutMs: number;
}

/**
 * The caller side's last step: picks where a call runs (this node when it serves the action and
 * is not excluded, else a node the balancer picks among the available ones) and runs it there —
 * in-process through `runHandler`, or as a REQUEST whose RESPONSE settles it in PendingCalls.
 *
 * Invariants: a call runs on exactly one node per dispatch; under a policy, a remote node only if
 * its principal may serve the action (a peer that merely advertises an action is not trusted to
 * answer it: a client advertising `$kv` gets no KV request); the balancer's `onStart`/`onEnd` bracket
 * every remote attempt sent to an endpoint it picked, exactly once each; a call whose deadline
 * already passed or whose signal already aborted is never sent.
 */
export class CallDispatcher {
  private selfPrincipal: Principal | undefined;
  constructor(private readonly deps: CallDispatcherDeps) {}

  /** The OutgoingCall of `call()`: meta merged with the parent's, the earlier of the two deadlines. */
  outgoing(action: string, params: unknown, options: CallOptions): OutgoingCall {
    const parent = options.parent;
    const meta = mergeMeta(parent?.meta, options.meta);
    let deadline: number | undefined;
    if (options.timeout !== undefined && options.timeout > 0) deadline = this.deps.timer.now() + options.timeout;
    if (parent?.deadline !== undefined && (deadline === undefined || parent.deadline < deadline))
      deadline = parent.deadline;
    const signal = options.signal ?? parent?.signal;
    return { action, params, options, meta, deadline, signal };
  }

  /** The end of the call chain: choose the node, then run locally or send. */
  dispatch(call: OutgoingCall): Promise<unknown> {
    let endpoint: Endpoint | null;
    try {
      endpoint = call.options.nodeId === undefined ? this.route(call) : null;
    } catch (err) {
      return Promise.reject(err);
    }
    const target = call.options.nodeId ?? endpoint?.nodeId ?? this.deps.nodeId;
    if (target === this.deps.nodeId) {
      const local = this.deps.local.action(call.action);
      if (!local) return Promise.reject(notServed(call.action, this.deps.nodeId));
      return this.invokeLocal(local, call);
    }
    if (endpoint === null && !this.mayServe(target, call.action)) {
      return Promise.reject(notAllowedToServe(target, call.action));
    }
    const { balancer } = this.deps;
    if (endpoint && (balancer.onStart || balancer.onEnd)) return this.invokeObserved(endpoint, call);
    return this.invokeRemote(target, call);
  }

  /** One-way message: runs the action somewhere without waiting for it or its result. */
  send(action: string, params: unknown, options: CallOptions): void {
    const { nodeId, local, server, mesh, codec } = this.deps;
    const meta = mergeMeta(options.parent?.meta, options.meta);
    const target =
      options.nodeId ??
      this.route({ action, params, options, meta, deadline: undefined, signal: undefined })?.nodeId ??
      nodeId;
    if (target === nodeId) {
      const handler = local.action(action);
      if (!handler) throw notServed(action, nodeId);
      const ctx = this.context(action, meta, undefined, undefined, undefined);
      queueMicrotask(() => server.runOneway(handler, params, ctx));
      return;
    }
    if (options.nodeId !== undefined && !this.mayServe(target, action)) throw notAllowedToServe(target, action);
    const body = this.encode(encodeOneway({ action, params, meta }), `params of '${action}'`);
    mesh.send(target, PacketType.ONEWAY, codec.flag, 0, body);
  }

  /** A RESPONSE from `peerId`: settles the pending call it answers (unknown or late ids are ignored). */
  onResponse(peerId: string, frame: Frame): void {
    let value: unknown;
    let error: ParleyError | undefined;
    try {
      const decoded = codecForFlags(frame.flags).decode(frame.body);
      if (frame.flags & FrameFlag.ERROR) error = errorFromBody(parseError(decoded));
      else value = decoded;
    } catch (err) {
      error = new ParleyError('INTERNAL', `could not decode the response from '${peerId}': ${(err as Error).message}`);
    }
    this.deps.pending.settle(frame.stream, peerId, value, error);
  }

  /** The endpoint to send to, or null to run locally; throws NOT_FOUND / UNAVAILABLE when there is none. */
  private route(call: OutgoingCall): Endpoint | null {
    const { action, exclude } = call;
    const { local, catalog, nodeId } = this.deps;
    if (local.action(action) && !exclude?.has(nodeId)) return null;
    let candidates = catalog.endpointsFor(action);
    if (this.deps.authorizer.enabled && candidates.length > 0) {
      const allowed = candidates.filter((e) => this.mayServe(e.nodeId, action));
      if (allowed.length === 0) throw notAllowedToServe(candidates.map((e) => e.nodeId).join("', '"), action);
      candidates = allowed;
    }
    if (exclude && exclude.size > 0) {
      const filtered = candidates.filter((e) => !exclude.has(e.nodeId));
      if (filtered.length > 0) candidates = filtered;
    }
    if (candidates.length === 0) {
      const known = catalog
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
    return this.deps.balancer.pick(candidates, call);
  }

  /**
   * Whether `nodeId` may be sent calls of `action`: always without a policy; with one, when its
   * authenticated principal may serve it. A node not connected yet is judged when its handshake
   * gives it a principal (a call cannot reach it before).
   */
  private mayServe(nodeId: string, action: string): boolean {
    const { authorizer, mesh } = this.deps;
    if (!authorizer.enabled) return true;
    const principal = mesh.peerPrincipal(nodeId);
    return principal === undefined || authorizer.decide(principal, { kind: 'serve', action }).allowed;
  }

  private invokeLocal(local: LocalAction, call: OutgoingCall): Promise<unknown> {
    const { timer, nodeId } = this.deps;
    const deadline = call.deadline ?? this.defaultDeadline(local);
    const ctx = this.context(call.action, call.meta, deadline, call.signal, requestOptions(call.options));
    return new Promise((resolve, reject) => {
      let settled = false;
      const limits = {
        scheduler: timer,
        timeoutMs: deadline === undefined ? undefined : Math.max(0, deadline - timer.now()),
        expired: () =>
          new ParleyError(
            'DEADLINE_EXCEEDED',
            `call to '${call.action}' on node '${nodeId}' got no answer within its deadline`,
          ),
        signal: call.signal,
      };
      runHandler(local, call.params, ctx, limits, (value, error, returned) => {
        if (settled) return;
        settled = true;
        // The caller stopped waiting (deadline or abort): tell the handler through its context.
        if (error && !returned) ctx.abort(error);
        ctx.finish();
        if (error) reject(error);
        else resolve(value);
      });
    });
  }

  /** A remote call whose start and end the balancer wants to see (in-flight counts, latency). */
  private invokeObserved(endpoint: Endpoint, call: OutgoingCall): Promise<unknown> {
    const { balancer } = this.deps;
    const clock = systemTimer;
    const started = clock.now();
    balancer.onStart?.(endpoint, call);
    return this.invokeRemote(endpoint.nodeId, call).then(
      (value) => {
        balancer.onEnd?.(endpoint, call, { ok: true, latencyMs: clock.now() - started });
        return value;
      },
      (err: ParleyError) => {
        balancer.onEnd?.(endpoint, call, { ok: false, latencyMs: clock.now() - started, code: err.code });
        throw err;
      },
    );
  }

  private invokeRemote(peerId: string, call: OutgoingCall): Promise<unknown> {
    const { timer, pending, mesh, codec } = this.deps;
    const deadline = call.deadline ?? this.defaultDeadline(undefined);
    let timeoutMs = 0;
    if (deadline !== undefined) {
      timeoutMs = deadline - timer.now();
      if (timeoutMs <= 0) {
        return Promise.reject(
          new ParleyError('DEADLINE_EXCEEDED', `deadline for '${call.action}' passed before it was sent`),
        );
      }
    }
    if (call.signal?.aborted) {
      return Promise.reject(abortedCallError(call.action, call.signal));
    }
    let body: Uint8Array;
    try {
      body = this.encode(
        encodeRequest({
          action: call.action,
          params: call.params,
          meta: call.meta,
          timeoutMs,
          options: requestOptions(call.options) ?? null,
        }),
        `params of '${call.action}'`,
      );
    } catch (err) {
      return Promise.reject(err);
    }
    const { id, promise } = pending.create(peerId, call.action, timeoutMs, call.signal);
    try {
      mesh.send(peerId, PacketType.REQUEST, codec.flag, id, body);
    } catch (err) {
      pending.settle(id, peerId, undefined, ParleyError.from(err));
    }
    return promise;
  }

  /** Tells `peerId` that this node gave up on call `id` (deadline or abort), so its handler stops. */
  sendCancel(peerId: string, id: number): void {
    try {
      this.deps.mesh.send(peerId, PacketType.CANCEL, 0, id, EMPTY);
    } catch {
      // The peer is gone or congested: its handler's deadline will end it.
    }
  }

  /** The context of an action run here for this node's own call or message. */
  private context(
    action: string,
    meta: OutgoingCall['meta'],
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    options: RequestOptions | undefined,
  ): Context {
    const { messenger, timer, nodeId } = this.deps;
    return new Context({
      messenger,
      timer,
      nodeId,
      callerId: nodeId,
      action,
      meta: meta ?? {},
      deadline,
      signal,
      options,
      principal: (this.selfPrincipal ??= localPrincipal(nodeId)),
    });
  }

  private defaultDeadline(local: LocalAction | undefined): number | undefined {
    const ms = local?.options.timeout ?? this.deps.requestTimeoutMs;
    return ms > 0 ? this.deps.timer.now() + ms : undefined;
  }

  private encode(value: unknown, what: string): Uint8Array {
    try {
      return this.deps.codec.encode(value);
    } catch (err) {
      throw new ParleyError(
        'INVALID_ARGUMENT',
        `${what} cannot be encoded with ${this.deps.codec.name}: ${(err as Error).message}`,
      );
    }
  }
}

const EMPTY = new Uint8Array(0);

/** The options of a call that travel to the serving node, or undefined when there are none. */
function requestOptions(options: CallOptions): RequestOptions | undefined {
  const { idempotencyKey, priority } = options;
  if (idempotencyKey === undefined && priority === undefined) return undefined;
  return {
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(priority === undefined ? {} : { priority }),
  };
}

function notAllowedToServe(nodeId: string, action: string): ParleyError {
  return new ParleyError(
    'PERMISSION_DENIED',
    `node '${nodeId}' may not serve '${action}' under this node's policy; give its principal a rule with serve: ['${action}'] (members serve every action)`,
  );
}
