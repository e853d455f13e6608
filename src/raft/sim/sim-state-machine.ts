import type { StateMachine } from '../driver.js';
import { decodeProposal, type ProposalEnvelope } from '../driver-proposals.js';
import type { Entry, NodeId, Snapshot } from '../types.js';
import { EntryType } from '../types.js';
import { chainHash } from './safety-checker.js';

/**
 * Builds the application one simulated member runs (a fresh one at every start: the member
 * restores it from its durable snapshot). The same interface the driver applies entries to, so a
 * real state machine (a queue partition, the KV store) runs in the simulator unchanged.
 */
export type ApplicationFactory = (member: NodeId) => StateMachine<unknown>;

/** A proposal made through SimCluster.proposeTracked, applied: its envelope and the application's result. */
export interface AppliedProposal {
  readonly envelope: ProposalEnvelope;
  readonly result: unknown;
}

const HEADER_BYTES = 12;

/**
 * The state machine of one simulated member. It always folds every applied entry into a hash
 * chain, so two members agree on their whole applied sequence exactly when they agree on
 * (index, hash): that is what the safety checker compares. It optionally hosts an application
 * (`ApplicationFactory`): a committed normal entry carrying a proposal envelope (driver-proposals.ts,
 * as the driver writes them) is applied to it with the envelope's payload, exactly as the driver
 * does, and the result goes back to the proposer. Without an application (the default) a
 * proposal's result is the chain hash after it, and nothing else changes: the snapshot is the
 * chain alone, the same 12 bytes as always, so runs of the plain simulator replay unchanged.
 *
 * Snapshot layout: f64 applied | u32 hash | the application's snapshot (absent without one).
 *
 * Invariant: `hash` is chainHash folded over the entries 1..applied, in order, and the hosted
 * application has applied exactly the proposals among them (or restored a snapshot taken at
 * `applied`).
 */
export class SimStateMachine {
  applied = 0;
  hash = 0;

  constructor(readonly app: StateMachine<unknown> | null = null) {}

  /** Applies one committed entry; returns the proposal it carried and its result, or null. */
  apply(e: Entry): AppliedProposal | null {
    this.hash = chainHash(this.hash, e);
    this.applied = e.index;
    if (e.type !== EntryType.Normal) return null;
    const envelope = decodeProposal(e.data);
    if (envelope === null) return null;
    return { envelope, result: this.app === null ? this.hash : this.app.apply(envelope.payload, e) };
  }

  snapshot(): Uint8Array {
    const app = this.app?.snapshot() ?? new Uint8Array(0);
    const b = new Uint8Array(HEADER_BYTES + app.byteLength);
    const v = new DataView(b.buffer);
    v.setFloat64(0, this.applied, true);
    v.setUint32(8, this.hash, true);
    b.set(app, HEADER_BYTES);
    return b;
  }

  restore(snap: Snapshot): void {
    const data = snap.data;
    if (data.byteLength < HEADER_BYTES || (this.app === null && data.byteLength !== HEADER_BYTES)) {
      throw new Error(`sim state machine: snapshot of ${data.byteLength} bytes does not fit this member's application`);
    }
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.applied = v.getFloat64(0, true);
    this.hash = v.getUint32(8, true);
    this.app?.restore({ metadata: snap.metadata, data: data.subarray(HEADER_BYTES) });
  }
}
