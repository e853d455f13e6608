import type { Message } from './core/messages.js';

/**
 * Splitting the messages of one Ready into transport-sized batches. A transport carries a
 * batch in one frame with a size limit; a batch over the limit cannot be sent at all, and a
 * silently failing send leaves a follower stuck forever (raft resends the same entries). So
 * the batches are cut by bytes, and a single message that can never fit is reported to the
 * caller, who must log it: it is a configuration error (entries larger than the frame allows),
 * never something to drop in silence.
 *
 * Sizes are upper bounds of the msgpack encoding of a Message's wire form (core/wire-message.ts;
 * bounds set when every field also carried its name, so they hold with room to spare): member
 * ids, entries with their data, snapshot data and read contexts.
 */

/** Field names and fixed-size values of one Message, with room for future fields. */
const MESSAGE_OVERHEAD_BYTES = 256;
/** Field names, index, term and type of one entry. */
const ENTRY_OVERHEAD_BYTES = 48;

/** An upper bound of the encoded size of `m`. */
export function messageBytes(m: Message): number {
  let size = MESSAGE_OVERHEAD_BYTES + 3 * (m.from.length + m.to.length);
  for (const e of m.entries) size += ENTRY_OVERHEAD_BYTES + e.data.length;
  if (m.snapshot !== null) size += m.snapshot.data.length + MESSAGE_OVERHEAD_BYTES + 64 * 1024;
  if (m.context !== null) size += m.context.length;
  return size;
}

export interface MessageBatches {
  /** In order; each batch's summed `messageBytes` is at most the limit. */
  readonly batches: Message[][];
  /** Messages that alone exceed the limit: they cannot be sent. */
  readonly oversized: Message[];
}

/** Cuts `messages` (one peer's, in order) into batches of at most `maxBytes` each. */
export function batchBySize(messages: readonly Message[], maxBytes: number): MessageBatches {
  const batches: Message[][] = [];
  const oversized: Message[] = [];
  let current: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const n = messageBytes(m);
    if (n > maxBytes) {
      oversized.push(m);
      continue;
    }
    if (current.length > 0 && size + n > maxBytes) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += n;
  }
  if (current.length > 0) batches.push(current);
  return { batches, oversized };
}
