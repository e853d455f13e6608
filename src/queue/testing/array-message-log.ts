import type { MessageLogView, StoredMessage } from '../types.js';

/**
 * A message log over an array, for consumer tests: `publish` appends, `remove` leaves a gap.
 * Invariant: `messages[seq - 1]` is the message of `seq`, or undefined once removed.
 */
export class ArrayMessageLog implements MessageLogView {
  private readonly messages: (StoredMessage | undefined)[] = [];

  get firstSeq(): number {
    for (let i = 0; i < this.messages.length; i++) if (this.messages[i] !== undefined) return i + 1;
    return 0;
  }

  get lastSeq(): number {
    return this.messages.length;
  }

  publish(m: Omit<StoredMessage, 'seq' | 'time' | 'payload'> & { time?: number; payload?: Uint8Array }): StoredMessage {
    const stored: StoredMessage = { time: 0, payload: new Uint8Array(0), ...m, seq: this.messages.length + 1 };
    this.messages.push(stored);
    return stored;
  }

  remove(seq: number): boolean {
    const had = this.messages[seq - 1] !== undefined;
    if (seq >= 1) this.messages[seq - 1] = undefined;
    return had;
  }

  get(seq: number): StoredMessage | undefined {
    return seq >= 1 ? this.messages[seq - 1] : undefined;
  }

  nextAtOrAfter(seq: number): StoredMessage | undefined {
    for (let i = Math.max(0, seq - 1); i < this.messages.length; i++) {
      const m = this.messages[i];
      if (m !== undefined) return m;
    }
    return undefined;
  }

  firstSeqAtOrAfterTime(time: number): number {
    for (const m of this.messages) if (m !== undefined && m.time >= time) return m.seq;
    return this.lastSeq + 1;
  }
}
