import { messageBytes } from './message-log.js';
import type { DeadLetter, DeadLetterSink } from './types.js';

/**
 * One partition's dead-letter log: messages taken out of the normal flow after `maxDeliver`
 * deliveries or a `term`, with their original sequence, consumer, delivery count and last
 * error (docs/QUEUES.md, "Poison messages"). Dead letters are listed, and removed when replayed
 * (the partition publishes them again) or when the log is over its own limit.
 *
 * Invariants: dead-letter sequences start at 1 and only grow (a replayed or dropped one leaves a
 * gap); `letters` iterates in sequence order (a Map keeps insertion order and sequences are
 * inserted ascending); `bytes` is the `messageBytes` sum of the held messages. Bounded: at most
 * `maxDeadLetters`; past it the oldest is dropped and counted in `dropped` (the dead-letter log's
 * retention, reported in the partition's info, so no dead letter disappears unseen).
 */

/** Most dead letters kept per partition by default. */
export const DEFAULT_MAX_DEAD_LETTERS = 100_000;

export class DeadLetterLog implements DeadLetterSink {
  private readonly letters = new Map<number, DeadLetter>();
  private next = 1;
  private byteCount = 0;
  /** Dead letters dropped because the log was full. */
  dropped = 0;

  constructor(private readonly maxDeadLetters = DEFAULT_MAX_DEAD_LETTERS) {}

  get size(): number {
    return this.letters.size;
  }
  get bytes(): number {
    return this.byteCount;
  }
  /** The sequence the next dead letter gets. */
  get nextSeq(): number {
    return this.next;
  }

  deadLetter(entry: Omit<DeadLetter, 'seq'>): void {
    this.add({ seq: this.next, ...entry });
  }

  private add(letter: DeadLetter): void {
    if (this.letters.size >= this.maxDeadLetters) {
      const oldest = this.letters.keys().next().value!;
      this.take(oldest);
      this.dropped++;
    }
    this.letters.set(letter.seq, letter);
    this.byteCount += messageBytes(letter.message);
    this.next = letter.seq + 1;
  }

  get(seq: number): DeadLetter | undefined {
    return this.letters.get(seq);
  }

  /** Removes and returns a dead letter (replay), or undefined when there is none with `seq`. */
  take(seq: number): DeadLetter | undefined {
    const letter = this.letters.get(seq);
    if (letter === undefined) return undefined;
    this.letters.delete(seq);
    this.byteCount -= messageBytes(letter.message);
    return letter;
  }

  /** Up to `limit` dead letters with sequence ≥ `fromSeq`, in sequence order. */
  list(fromSeq = 1, limit = 100): DeadLetter[] {
    const out: DeadLetter[] = [];
    if (limit <= 0) return out;
    for (const [seq, letter] of this.letters) {
      if (seq < fromSeq) continue;
      out.push(letter);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Every dead letter in sequence order (snapshots). */
  all(): IterableIterator<DeadLetter> {
    return this.letters.values();
  }

  /** Restores from a snapshot: the letters in ascending order, the next sequence, the drop count. */
  load(letters: readonly DeadLetter[], nextSeq: number, dropped: number): void {
    this.letters.clear();
    this.byteCount = 0;
    for (const l of letters) {
      this.letters.set(l.seq, l);
      this.byteCount += messageBytes(l.message);
    }
    this.next = nextSeq;
    this.dropped = dropped;
  }
}
