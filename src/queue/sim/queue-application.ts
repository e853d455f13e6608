import type { StateMachine } from '../../raft/driver.js';
import type { Snapshot } from '../../raft/types.js';
import { ParleyError } from '../../wire/parley-error.js';
import { decodePartitionCommand } from '../command-codec.js';
import type { PartitionCommand, PartitionOutcome } from '../types.js';
import type { FinalPartitionView } from './history.js';

/** One replica of a partition at the level of its commands: what the planted bugs wrap. */
export interface PartitionReplica {
  apply(cmd: PartitionCommand): PartitionOutcome;
  snapshot(): Uint8Array;
  restore(bytes: Uint8Array): void;
  /** Its state as the checker reads it (`consumers`: the names to report). */
  view(consumers: readonly string[]): Omit<FinalPartitionView, 'member' | 'applied'>;
}

export type PartitionReplicaFactory = () => PartitionReplica;

/** A replica as a simulated member runs it: the driver's StateMachine, plus the checker's view. */
export interface QueueApplication extends StateMachine<PartitionOutcome> {
  readonly replica: PartitionReplica;
}

/**
 * Adapts a partition replica to the driver's StateMachine: a proposal's payload is an encoded
 * PartitionCommand (command-codec.ts, as a member proposes it), decoded as every member decodes
 * it; the result is the replica's PartitionOutcome. The replica is pure, so every member computes
 * the same result.
 */
export function queueApplication(replica: PartitionReplica): QueueApplication {
  return {
    replica,
    apply: (payload) => {
      let cmd: PartitionCommand;
      try {
        cmd = decodePartitionCommand(payload);
      } catch (err) {
        return { ok: false, error: ParleyError.from(err) };
      }
      return replica.apply(cmd);
    },
    snapshot: () => replica.snapshot(),
    restore: (s: Snapshot) => replica.restore(s.data),
  };
}

/**
 * A stable text of a result, for comparing what two replicas answered to one entry: bytes as
 * hex, errors as code and message.
 */
export function describeOutcome(o: PartitionOutcome): string {
  return JSON.stringify(o, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    if (v instanceof Error) return `${(v as { code?: string }).code ?? v.name}: ${v.message}`;
    return v;
  });
}
