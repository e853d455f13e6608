import type { Timer } from '../base/clock.js';
import { isOutboundQueueFull } from '../transport/connection.js';
import type { Logger } from '../transport/logger.js';
import type { Mesh } from '../transport/mesh.js';
import { type Codec, codecForFlags } from '../wire/codec.js';
import { type Frame, FrameFlag, PacketType } from '../wire/frame.js';
import { encodeError, parseOneway, parseRequest } from '../wire/packets.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Authorizer } from './authorization/authorizer.js';
import { Context, type Messenger } from './context.js';
import { type HandlerLimits, runHandler, WAIT_FOR_HANDLER } from './handler-runner.js';
import type { LocalAction, LocalServices } from './local-services.js';

export interface RequestServerDeps {
  readonly nodeId: string;
  readonly local: LocalServices;
  readonly mesh: Mesh;
  readonly codec: Codec;
  readonly logger: Logger;
  /** The node's clock: deadlines and the action-timeout timer. */
  readonly timer: Timer;
  /** The node, for nested calls from handlers. */
  readonly messenger: Messenger;
  /**
   * Most requests (and, separately, one-way messages) from one peer running at a time (default
   * DEFAULT_MAX_IN_FLIGHT_PER_PEER). Past it a request is answered RESOURCE_EXHAUSTED at once and a
   * one-way message is dropped: one caller cannot hold all of a node's memory in pending handlers.
   */
  readonly maxInFlightPerPeer?: number;
  /** Decides whether the calling peer may call the action, before anything runs. */
  readonly authorizer: Authorizer;
}

/** How long requests from a peer whose answer did not fit in its outbound queue are refused unrun. */
const CONGESTION_BACKOFF_MS = 100;

/** Default of `maxInFlightPerPeer` (NodeOptions). */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 10_000;

/**
 * The serving side: runs REQUEST and ONEWAY packets from peers on local actions, answers with
 * RESPONSE, aborts a handler on CANCEL or when its caller goes away, and counts what is running
 * so the node can drain before it stops.
 *
 * Authorization comes first: a REQUEST or ONEWAY the policy refuses to the caller's principal is
 * answered PERMISSION_DENIED / UNAUTHENTICATED (a one-way is dropped) before the action is even
 * looked up, and the connection stays open.
 *
 * Invariant: `inFlight` = handlers started − handlers finished (requests and one-way messages);
 * `running` holds exactly the requests whose handler has not finished, as seen from any other
 * task (a synchronous handler starts and finishes within one onRequest and is never entered), so
 * `running.get(peer).size` is that peer's requests in flight, bounded by maxInFlightPerPeer;
 * `onewaysRunning.get(peer)` = its one-way handlers started − finished, bounded the same way;
 * `congested` holds the peers whose last answer did not fit in their outbound queue; for
 * CONGESTION_BACKOFF_MS after that, their requests are refused without running.
 */
export class RequestServer {
  private readonly running = new Map<string, Map<number, Context>>();
  private readonly onewaysRunning = new Map<string, number>();
  /** Peers whose last answer did not fit in their outbound queue, and when (see onRequest). */
  private readonly congested = new Map<string, number>();
  /** Peers whose dropped one-way messages were logged (bounded; the rest are dropped quietly). */
  private readonly warnedOneway = new Set<string>();
  private active = 0;
  private readonly maxPerPeer: number;

  constructor(private readonly deps: RequestServerDeps) {
    this.maxPerPeer = deps.maxInFlightPerPeer ?? DEFAULT_MAX_IN_FLIGHT_PER_PEER;
  }

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
        // A body past the decode limits keeps its RESOURCE_EXHAUSTED; anything else is malformed.
        new ParleyError(
          err instanceof ParleyError && err.code === 'RESOURCE_EXHAUSTED' ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT',
          `could not decode request: ${(err as Error).message}`,
        ),
      );
      return;
    }
    const principal = mesh.peerPrincipal(peerId);
    if (this.deps.authorizer.enabled) {
      const denied = this.deps.authorizer.check(principal, { kind: 'call', action: request.action });
      if (denied) {
        this.respondError(peerId, stream, denied);
        return;
      }
    }
    const action = local.action(request.action);
    if (!action) {
      this.respondError(peerId, stream, notServed(request.action, nodeId));
      return;
    }
    const pending = this.running.get(peerId)?.size ?? 0;
    if (pending >= this.maxPerPeer) {
      this.respondError(peerId, stream, tooManyInFlight(nodeId, peerId, pending, 'requests'));
      return;
    }
    const congestedAt = this.congested.get(peerId);
    if (congestedAt !== undefined && this.deps.timer.now() - congestedAt < CONGESTION_BACKOFF_MS) {
      // An answer to this peer did not fit in its outbound queue moments ago: it does not read
      // (fast enough). Its request is refused without running, which costs a few bytes, instead
      // of an answer computed only to be dropped (a peer that asks for large answers and never
      // reads kept a node's event loop busy for seconds).
      this.respondError(peerId, stream, notReading(nodeId, peerId));
      return;
    }
    const now = this.deps.timer.now();
    const callerDeadline = request.timeoutMs > 0 ? now + request.timeoutMs : undefined;
    // The action's own timeout bounds remote callers too: the earlier of the two deadlines wins.
    const actionMs = action.options.timeout;
    const actionDeadline = actionMs !== undefined && actionMs > 0 ? now + actionMs : undefined;
    const ownDeadline =
      actionDeadline !== undefined && (callerDeadline === undefined || actionDeadline < callerDeadline);
    const ctx = new Context({
      messenger: this.deps.messenger,
      timer: this.deps.timer,
      nodeId,
      callerId: peerId,
      action: request.action,
      meta: request.meta ?? {},
      deadline: ownDeadline ? actionDeadline : callerDeadline,
      peerIdentity: mesh.peerIdentity(peerId),
      principal,
      options: request.options ?? undefined,
    });
    this.active++;
    // The caller's own timer covers its deadline; only the action's shorter one needs a timer here.
    const limits = ownDeadline ? this.actionLimits(ctx, actionMs!) : WAIT_FOR_HANDLER;
    // A handler that returns synchronously is done before anything (a CANCEL, a lost peer) could
    // reach it, so only one still running after runHandler returns is entered in `running`: the
    // per-request Map insert and delete were a good part of the server's garbage.
    let registered = false;
    let returned = false;
    let answered = false;
    runHandler(action, request.params, ctx, limits, (value, error, handlerReturned) => {
      if (handlerReturned) {
        returned = true;
        if (registered) this.unregister(peerId, stream, ctx);
        this.finish(peerId, stream, ctx, value, error, !answered);
      } else if (isWaiting(ctx)) {
        // At the action's timeout: answer at once and abort the handler's context (finish() later
        // sends nothing more). The handler still counts as in flight until it returns.
        answered = true;
        ctx.abort(error!);
        if (this.deps.mesh.isConnected(peerId)) this.respondError(peerId, stream, error!);
      }
    });
    if (!returned) {
      let calls = this.running.get(peerId);
      if (!calls) this.running.set(peerId, (calls = new Map()));
      calls.set(stream, ctx);
      registered = true;
    }
  }

  private unregister(peerId: string, stream: number, ctx: Context): void {
    const calls = this.running.get(peerId);
    if (calls?.get(stream) === ctx) calls.delete(stream);
  }

  private actionLimits(ctx: Context, ms: number): HandlerLimits {
    return {
      scheduler: this.deps.timer,
      timeoutMs: ms,
      expired: () =>
        new ParleyError(
          'DEADLINE_EXCEEDED',
          `action '${ctx.action}' on node '${this.deps.nodeId}' did not finish within its ${ms} ms timeout`,
        ),
      signal: undefined,
    };
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
    const principal = this.deps.mesh.peerPrincipal(peerId);
    if (this.deps.authorizer.enabled) {
      const denied = this.deps.authorizer.check(principal, { kind: 'call', action: message.action });
      if (denied) return; // counted and audited; a one-way has no one to answer
    }
    const action = this.deps.local.action(message.action);
    if (!action) {
      this.deps.logger.warn(`one-way message for unknown action '${message.action}' from '${peerId}' dropped`);
      return;
    }
    const pending = this.onewaysRunning.get(peerId) ?? 0;
    if (pending >= this.maxPerPeer) {
      if (!this.warnedOneway.has(peerId) && this.warnedOneway.size < 1024) {
        this.warnedOneway.add(peerId);
        this.deps.logger.warn(
          `${tooManyInFlight(this.deps.nodeId, peerId, pending, 'one-way messages').message}; dropping them`,
        );
      }
      return;
    }
    this.onewaysRunning.set(peerId, pending + 1);
    const ctx = new Context({
      messenger: this.deps.messenger,
      timer: this.deps.timer,
      nodeId: this.deps.nodeId,
      callerId: peerId,
      action: message.action,
      meta: message.meta ?? {},
      peerIdentity: this.deps.mesh.peerIdentity(peerId),
      principal,
    });
    this.runOneway(action, message.params, ctx, () => {
      const n = (this.onewaysRunning.get(peerId) ?? 1) - 1;
      if (n <= 0) this.onewaysRunning.delete(peerId);
      else this.onewaysRunning.set(peerId, n);
    });
  }

  /** Runs a one-way action (from a peer, or a local `send`); errors are logged, never returned. */
  runOneway(action: LocalAction, params: unknown, ctx: Context, done?: () => void): void {
    this.active++;
    runHandler(action, params, ctx, WAIT_FOR_HANDLER, (_value, error) => {
      if (error !== undefined) this.deps.logger.warn(`one-way '${action.name}' failed: ${error.message}`);
      ctx.finish();
      this.active--;
      done?.();
    });
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
    this.congested.delete(peerId);
  }

  private finish(
    peerId: string,
    stream: number,
    ctx: Context,
    value: unknown,
    error: ParleyError | undefined,
    answer: boolean,
  ): void {
    ctx.finish();
    this.active--;
    // Answered already (at the action's timeout); a caller that cancelled or went away is not
    // waiting; a vanished one cannot be answered.
    if (!answer || !isWaiting(ctx) || !this.deps.mesh.isConnected(peerId)) return;
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
      if (flags & FrameFlag.ERROR || this.congested.size === 0) return;
      this.congested.delete(peerId);
    } catch (err) {
      if (isOutboundQueueFull(err)) this.congested.set(peerId, this.deps.timer.now());
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

/**
 * True while the caller still waits for an answer: the context was not aborted, or only by its own
 * deadline (which the caller must hear about: the action's timeout may be shorter than the caller's).
 * A CANCEL, a lost or restarted caller, or a stopping node abort it with other codes.
 */
function isWaiting(ctx: Context): boolean {
  const reason = ctx.abortedWith;
  return reason === undefined || reason.code === 'DEADLINE_EXCEEDED';
}

function notReading(nodeId: string, peerId: string): ParleyError {
  return new ParleyError(
    'RESOURCE_EXHAUSTED',
    `node '${nodeId}' cannot queue more answers to '${peerId}': they are not being read (maxOutboundBytes); read the answers, then retry`,
    { details: { reason: 'outbound-queue-full' }, retryAfterMs: 100 },
  );
}

function tooManyInFlight(nodeId: string, peerId: string, pending: number, what: string): ParleyError {
  return new ParleyError(
    'RESOURCE_EXHAUSTED',
    `node '${nodeId}' already runs ${pending} ${what} from '${peerId}', the most it runs for one caller (maxInFlightPerPeer); wait for some to finish or raise maxInFlightPerPeer`,
    { details: { reason: 'max-in-flight-per-peer', limit: pending }, retryAfterMs: 100 },
  );
}

export function notServed(action: string, nodeId: string): ParleyError {
  return new ParleyError('NOT_FOUND', `action '${action}' is not served by node '${nodeId}'; check the action name`);
}
