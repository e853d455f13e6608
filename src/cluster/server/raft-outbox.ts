import type { Message } from '../../raft/core/messages.js';
import { messageBytes } from '../../raft/message-batches.js';
import type { NodeId } from '../../raft/types.js';
import type { RaftStepPart } from './raft-service.js';

/** Bytes of one [groupId, messages] pair around its messages (array headers, the id's string header). */
const PART_OVERHEAD_BYTES = 16;

/**
 * Outgoing raft messages of many groups, gathered per destination member and flushed as few
 * `$raft.step` calls as fit: all the groups of a host that produce messages in one turn of the
 * shared scheduler reach each peer in one call (one frame), not one per group.
 *
 * Invariants: per destination and group, messages leave in the order they were added (raft
 * relies on a peer's messages arriving in order per group); each flushed call's summed size
 * (`messageBytes` plus PART_OVERHEAD_BYTES per part) is at most `maxCallBytes`, given that every
 * added batch alone fits it with its part overhead (GroupMember cuts batches to fit).
 */
export class RaftOutbox {
  private pending = new Map<NodeId, RaftStepPart[]>();

  constructor(
    private readonly maxCallBytes: number,
    private readonly send: (to: NodeId, parts: RaftStepPart[]) => void,
  ) {}

  add(to: NodeId, groupId: string, messages: readonly Message[]): void {
    let parts = this.pending.get(to);
    if (parts === undefined) this.pending.set(to, (parts = []));
    parts.push({ groupId, messages });
  }

  get isEmpty(): boolean {
    return this.pending.size === 0;
  }

  /** Sends everything added so far: one call per destination, or more when one would exceed `maxCallBytes`. */
  flush(): void {
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    for (const [to, parts] of pending) {
      let call: RaftStepPart[] = [];
      let bytes = 0;
      for (const part of parts) {
        let size = PART_OVERHEAD_BYTES + 3 * part.groupId.length;
        for (const m of part.messages) size += messageBytes(m);
        if (call.length > 0 && bytes + size > this.maxCallBytes) {
          this.send(to, call);
          call = [];
          bytes = 0;
        }
        call.push(part);
        bytes += size;
      }
      if (call.length > 0) this.send(to, call);
    }
  }
}

/** What a group's batch may weigh so that it fits a call alone with its part header. */
export function partBudget(maxCallBytes: number, groupId: string): number {
  return maxCallBytes - PART_OVERHEAD_BYTES - 3 * groupId.length;
}
