/**
 * The contract every compared system implements for the RPC and events benchmarks.
 *
 * A system has a server side (run in its own OS process) that answers `bench.echo` with its params and counts
 * `bench.tick` events, and a client side (in another process) that calls and emits. Both sides decode and
 * re-encode every message, whatever the system, so no peer wins by echoing raw bytes.
 */
export interface PeerServer {
  /** Where clients connect, e.g. '127.0.0.1:40123' (system-specific format). */
  readonly address: string;
  /** Total events delivered to the handler since start. */
  eventsDelivered(): number;
  stop(): Promise<void>;
}

export interface PeerClient {
  /** One request/response echo; resolves with the echoed payload. */
  call(payload: unknown): Promise<unknown>;
  /**
   * One fire-and-forget event. Returns undefined when accepted synchronously, or a promise that settles when the
   * system can take more (see harness/event-flood.ts).
   */
  emit(payload: unknown): Promise<void> | undefined;
  /**
   * How many unsettled `emit` promises the sender may hold: 1 for peers that return a promise only to say
   * "wait now" (a drain, a flush), larger for peers that return a promise per event (a write callback, an ack).
   */
  readonly emitWindow: number;
  /**
   * Optional (the security benchmark): connect `count` fresh clients one after another, each making one call and
   * stopping, and report how long each took from creation to its first reply.
   */
  handshakes?(count: number): Promise<HandshakeSample>;
  stop(): Promise<void>;
}

/** Fresh connections made one at a time: creation → connected and authenticated → first reply. */
export interface HandshakeSample {
  count: number;
  /** Sum of the timed connections (ms; the pauses between them excluded): count / totalMs is the serial rate. */
  totalMs: number;
  p50Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface PeerSystem {
  /** Short name used on the command line and in tables. */
  readonly name: string;
  /** One line for the report: transport, serializer, notable settings. */
  readonly description: string;
  startServer(): Promise<PeerServer>;
  startClient(serverAddress: string): Promise<PeerClient>;
}

/** Thrown by a peer that cannot run here (e.g. its broker is not reachable); the benchmark skips it with a note. */
export class PeerUnavailableError extends Error {
  override readonly name = 'PeerUnavailableError';
}
