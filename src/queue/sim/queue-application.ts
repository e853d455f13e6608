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

/** Checks that a snapshot restores a replica that behaves as the original (see queueApplication). */
export interface SnapshotFidelity {
  /** A fresh replica to restore each snapshot into. */
  readonly fresh: () => PartitionReplica;
  /** Commands after each snapshot applied to both and compared. */
  readonly window: number;
  readonly report: (message: string) => void;
}

/**
 * Adapts a partition replica to the driver's StateMachine: a proposal's payload is an encoded
 * PartitionCommand (command-codec.ts, as a member proposes it), decoded as every member decodes
 * it; the result is the replica's PartitionOutcome. The replica is pure, so every member computes
 * the same result.
 *
 * With `fidelity`, every snapshot taken is restored at once into a fresh replica (a shadow), and
 * the next `window` commands are applied to both: a different answer means `restore(snapshot())`
 * does not reproduce the state, which a member installing that snapshot would then disagree on.
 */
export function queueApplication(replica: PartitionReplica, fidelity?: SnapshotFidelity): QueueApplication {
  let shadow: { replica: PartitionReplica; left: number; applied: string[] } | null = null;
  return {
    replica,
    apply: (payload) => {
      let cmd: PartitionCommand;
      try {
        cmd = decodePartitionCommand(payload);
      } catch (err) {
        return { ok: false, error: ParleyError.from(err) };
      }
      const out = replica.apply(cmd);
      if (shadow !== null && fidelity !== undefined) {
        const text = describeOutcome(out);
        const other = describeOutcome(shadow.replica.apply(cmd));
        shadow.applied.push(cmd.type);
        if (text !== other) {
          fidelity.report(
            `a replica restored from a snapshot answers differently from the one that took it, ${shadow.applied.length} command(s) later (${shadow.applied.join(', ')}): ${text.slice(0, 400)} vs ${other.slice(0, 400)}`,
          );
          shadow = null;
        } else if (--shadow.left === 0) shadow = null;
      }
      return out;
    },
    snapshot: () => {
      const bytes = replica.snapshot();
      if (fidelity !== undefined) {
        const copy = fidelity.fresh();
        copy.restore(bytes);
        shadow = { replica: copy, left: fidelity.window, applied: [] };
      }
      return bytes;
    },
    restore: (s: Snapshot) => {
      shadow = null; // the state jumps: the shadow's base no longer matches
      replica.restore(s.data);
    },
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
