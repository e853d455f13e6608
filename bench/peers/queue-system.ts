/**
 * The contract every system compared by the queue benchmark (bench/queue.ts) implements: a durable, replicated
 * queue that publishers write to (each publish resolves only once the system acknowledged it as stored) and
 * competing consumers read from, acknowledging every message.
 *
 * Invariant: a `BenchQueue` is fresh (empty, no consumer state from another cell) and `delete()` removes everything
 * it stored, so cells never see each other's messages.
 */

export interface BenchQueue {
  /** One durable publish: resolves when the system confirmed it (stored by its quorum / confirmed). */
  publish(payload: Uint8Array): Promise<void>;
  /**
   * Starts `consumers` competing consumers of the queue; each acknowledges every message it receives and calls
   * `onAcked` once the acknowledgement was sent (or confirmed, where the system confirms acks: see descriptions).
   */
  consume(consumers: number, onAcked: () => void): Promise<{ stop(): Promise<void> }>;
  delete(): Promise<void>;
}

export interface QueueSystem {
  /** Short name for tables and --systems. */
  readonly name: string;
  /** One line for the report: replicas, durability, client. */
  readonly description: string;
  /** Server processes, for CPU per message (empty when unknown). */
  readonly pids: readonly number[];
  /** Whether `createQueue` honours `partitions` > 1 (the scaling table runs only on those). */
  readonly partitioned: boolean;
  /** A fresh queue named `name` (unique per cell) with `partitions` partitions (1 where not partitioned). */
  createQueue(name: string, partitions: number): Promise<BenchQueue>;
  stop(): Promise<void>;
}
