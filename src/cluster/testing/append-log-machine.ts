import type { StateMachine } from '../../raft/driver.js';
import type { Entry, Snapshot } from '../../raft/types.js';

/**
 * Test-only: the smallest deterministic state machine a hosted Raft group can run. It appends
 * each committed payload (UTF-8 text) to a list and answers with the list's new length, so a
 * test sees which commands a group applied, in which order, and that groups do not mix.
 * Snapshots are the list as JSON.
 */
export class AppendLogMachine implements StateMachine<number> {
  items: string[] = [];
  /** Times the state was replaced by a snapshot (on open from the WAL, or installed from the leader). */
  restores = 0;

  apply(payload: Uint8Array, _entry: Entry): number {
    this.items.push(new TextDecoder().decode(payload));
    return this.items.length;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }

  restore(snapshot: Snapshot): void {
    this.items = JSON.parse(new TextDecoder().decode(snapshot.data)) as string[];
    this.restores++;
  }
}

export function payload(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
