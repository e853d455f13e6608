import type { Logger } from '../transport/logger.js';
import type { Mesh } from '../transport/mesh.js';
import { type Codec, codecForFlags } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType } from '../wire/frame.js';
import { encodeError, parseOneway, parseRequest, type RequestOptions } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import { Context, type Messenger } from './context.js';
import type { LocalAction, LocalServices } from './local-services.js';
import { isThenable } from './thenable.js';

export interface RequestServerDeps {
  readonly nodeId: string;
  readonly local: LocalServices;
  readonly mesh: Mesh;
  readonly codec: Codec;
  readonly logger: Logger;
  /** The node, for nested calls from handlers. */
  readonly messenger: Messenger;
}

/**
 * The serving side: runs REQUEST and ONEWAY packets from peers on local actions, answers with
 * RESPONSE, aborts a handler on CANCEL or when its caller goes away, and counts what is running
 * so the node can drain before it stops.
 *
 * Invariant: `inFlight` = handlers started − handlers finished (requests and one-way messages);
 * `running` holds exactly the requests whose handler has not finished.
 */
export class RequestServer {
  private readonly running = new Map<string, Map<number, Context>>();
  private active = 0;

  constructor(private readonly deps: RequestServerDeps) {}

  get inFlight(): number {
    return this.active;
  }

  onRequest(peerId: string, frame: Frame): void {
    const { local, mesh, nodeId } = this.deps;
    const stream = frame.stream;
    let request: ReturnType<typeof parseRequest>;
    try {
      request = parseRequest(codecForFlags(frame.flags).decode(frame.body));
    } catch (err) {
      this.respondError(
        peerId,
        stream,
        new ParleyError('INVALID_ARGUMENT', `could not decode request: ${(err as Error).message}`),
      );
      return;
    }
    const action = local.action(request.action);
    if (!action) {
      this.respondError(peerId, stream, notServed(request.action, nodeId));
      return;
    }
    const now = Date.now();
    const callerDeadline = request.timeoutMs > 0 ? now + request.timeoutMs : undefined;
    // The action's own timeout bounds remote callers too: the earlier of the two deadlines wins.
    const actionMs = action.options.timeout;
    const actionDeadline = actionMs !== undefined && actionMs > 0 ? now + actionMs : undefined;
    const ownDeadline =
      actionDeadline !== undefined && (callerDeadline === undefined || actionDeadline < callerDeadline);
    const deadline = ownDeadline ? actionDeadline : callerDeadline;
    const ctx = new Context(
      this.deps.messenger,
      nodeId,
      peerId,
      request.action,
      request.meta ?? {},
      deadline,
      undefined,
      mesh.peerIdentity(peerId),
      request.options ?? NO_OPTIONS,
    );
    let calls = this.running.get(peerId);
    if (!calls) this.running.set(peerId, (calls = new Map()));
    calls.set(stream, ctx);
    this.active++;
    let result: unknown;
    try {
      result = action.invoke(request.params, ctx);
    } catch (err) {
      this.finish(peerId, stream, ctx, undefined, ParleyError.from(err));
      return;
    }
    if (isThenable(result)) {
      // The caller's own timer covers its deadline; only the action's shorter one needs a timer here.
      const expiry = ownDeadline ? this.expireAt(peerId, stream, ctx, actionMs!) : undefined;
      result.then(
        (v) => {
          clearTimeout(expiry);
          this.finish(peerId, stream, ctx, v, undefined);
        },
        (e) => {
          clearTimeout(expiry);
          this.finish(peerId, stream, ctx, undefined, ParleyError.from(e));
        },
      );
    } else this.finish(peerId, stream, ctx, result, undefined);
  }

  /**
   * At the action's timeout: answers DEADLINE_EXCEEDED at once and aborts the handler's context
   * (so finish() later sends nothing more). The handler still counts as in flight until it returns.
   */
  private expireAt(peerId: string, stream: number, ctx: Context, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (ctx.aborted) return;
      const error = new ParleyError(
        'DEADLINE_EXCEEDED',
        `action '${ctx.action}' on node '${this.deps.nodeId}' did not finish within its ${ms} ms timeout`,
      );
      ctx.abort(error);
      if (this.deps.mesh.isConnected(peerId)) this.respondError(peerId, stream, error);
    }, ms);
    timer.unref();
    return timer;
  }

  onCancel(peerId: string, stream: number): void {
    this.running.get(peerId)?.get(stream)?.abort(new ParleyError('CANCELLED', 'the caller cancelled the call'));
  }

  onOneway(peerId: string, frame: Frame): void {
    let message: ReturnType<typeof parseOneway>;
    try {
      message = parseOneway(codecForFlags(frame.flags).decode(frame.body));
    } catch (err) {
      this.deps.logger.warn(`dropped a malformed ONEWAY packet from '${peerId}': ${(err as Error).message}`);
      return;
    }
    const action = this.deps.local.action(message.action);
    if (!action) {
      this.deps.logger.warn(`one-way message for unknown action '${message.action}' from '${peerId}' dropped`);
      return;
    }
    const ctx = new Context(
      this.deps.messenger,
      this.deps.nodeId,
      peerId,
      message.action,
      message.meta ?? {},
      undefined,
      undefined,
      this.deps.mesh.peerIdentity(peerId),
    );
    this.runOneway(action, message.params, ctx);
  }

  /** Runs a one-way action (from a peer, or a local `send`); errors are logged, never returned. */
  runOneway(action: LocalAction, params: unknown, ctx: Context): void {
    this.active++;
    const done = (err?: unknown) => {
      if (err !== undefined)
        this.deps.logger.warn(`one-way '${action.name}' failed: ${(err as Error)?.message ?? String(err)}`);
      ctx.finish();
      this.active--;
    };
    try {
      const r = action.invoke(params, ctx);
      if (isThenable(r)) r.then(() => done(), done);
      else done();
    } catch (err) {
      done(err);
    }
  }

  /** Aborts every handler running for `peerId` (it disconnected or restarted). */
  abortFrom(peerId: string, reason: ParleyError): void {
    const calls = this.running.get(peerId);
    if (calls) for (const ctx of calls.values()) ctx.abort(reason);
  }

  abortAll(reason: ParleyError): void {
    for (const peerId of this.running.keys()) this.abortFrom(peerId, reason);
  }

  forget(peerId: string): void {
    this.running.delete(peerId);
  }

  private finish(peerId: string, stream: number, ctx: Context, value: unknown, error: ParleyError | undefined): void {
    const calls = this.running.get(peerId);
    if (calls?.get(stream) === ctx) calls.delete(stream);
    ctx.finish();
    this.active--;
    // A cancelled caller is no longer waiting; a vanished one cannot be answered.
    if (ctx.aborted || !this.deps.mesh.isConnected(peerId)) return;
    if (error) {
      this.respondError(peerId, stream, error);
      return;
    }
    let body: Uint8Array;
    try {
      body = this.deps.codec.encode(value);
    } catch (err) {
      this.respondError(
        peerId,
        stream,
        new ParleyError('INTERNAL', `the result of '${ctx.action}' cannot be encoded: ${(err as Error).message}`),
      );
      return;
    }
    this.respond(peerId, stream, this.deps.codec.flag, body);
  }

  private respond(peerId: string, stream: number, flags: number, body: Uint8Array): void {
    try {
      this.deps.mesh.send(peerId, PacketType.RESPONSE, flags, stream, body);
    } catch (err) {
      this.deps.logger.debug(`could not answer '${peerId}': ${(err as Error).message}`);
    }
  }

  private respondError(peerId: string, stream: number, error: ParleyError): void {
    const { codec } = this.deps;
    let body: Uint8Array;
    try {
      body = codec.encode(encodeError(error));
    } catch {
      // details that cannot be encoded are dropped rather than losing the error
      body = codec.encode(encodeError(new ParleyError(error.code, error.message)));
    }
    this.respond(peerId, stream, codec.flag | FrameFlag.ERROR, body);
  }
}

const NO_OPTIONS: RequestOptions = Object.freeze({});

export function notServed(action: string, nodeId: string): ParleyError {
  return new ParleyError('NOT_FOUND', `action '${action}' is not served by node '${nodeId}'; check the action name`);
}
