import type { Entry } from '../types.js';
import { chainHash } from './safety-checker.js';

/**
 * The simulated application: it "applies" an entry by extending a hash chain over everything
 * applied so far, so two members agree on their whole applied sequence exactly when they agree
 * on (index, hash). Its snapshot is those two numbers.
 *
 * Invariant: `hash` is chainHash folded over the entries 1..applied, in order.
 */
export class SimStateMachine {
  applied = 0;
  hash = 0;

  apply(e: Entry): void {
    this.hash = chainHash(this.hash, e);
    this.applied = e.index;
  }

  snapshot(): Uint8Array {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setFloat64(0, this.applied, true);
    v.setUint32(8, this.hash, true);
    return b;
  }

  restore(data: Uint8Array): void {
    if (data.byteLength !== 12) throw new Error(`sim state machine: snapshot of ${data.byteLength} bytes, expected 12`);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.applied = v.getFloat64(0, true);
    this.hash = v.getUint32(8, true);
  }
}
