import type { OnReadOpts } from 'node:net';

/** Size of the receive buffer: the most one read hands over (Node's own stream reads use 64 KiB too). */
const RECEIVE_BUFFER_SIZE = 64 * 1024;

/** Shared by every DirectRead of the process, allocated by the first. */
let receiveBuffer: Uint8Array | undefined;

/** What receives a DirectRead's bytes; `borrowed` chunks are views of memory reused after the call. */
export type ChunkConsumer = (chunk: Uint8Array, borrowed: boolean) => void;

/**
 * Reads a dialed plain-TCP socket without Node's Readable stream machinery: net.connect's `onread`
 * option has the kernel's bytes copied into one receive buffer, which is handed to the consumer as
 * a borrowed view — no Buffer allocated per read, no stream bookkeeping and no `nextTick` per
 * chunk (each costs the reading side of a round trip CPU, measured in the commit that added this).
 * Node offers `onread` to net.connect only: accepted sockets (and TLS) keep the 'data' event.
 *
 * Invariants: a borrowed chunk is valid only during the consumer's call — the next read, on any
 * socket, overwrites it — so a consumer copies whatever it keeps. One buffer can serve every
 * socket of the process because reads are delivered one at a time on the event-loop thread and a
 * consumer's call never returns to the event loop before it ends. Bytes read before a consumer is
 * attached (none arrive before 'connect' in Node today) are copied and delivered, in order, when it is.
 */
export class DirectRead {
  private consumer: ChunkConsumer | undefined;
  private early: Uint8Array[] = [];

  /** The `onread` option to pass to net.connect. */
  readonly onread: OnReadOpts = {
    buffer: (receiveBuffer ??= new Uint8Array(RECEIVE_BUFFER_SIZE)),
    callback: (bytes: number, buffer: Uint8Array) => {
      const chunk = buffer.subarray(0, bytes);
      if (this.consumer) this.consumer(chunk, true);
      else this.early.push(Uint8Array.prototype.slice.call(chunk));
      return true; // keep reading (the consumer pauses the socket itself when it must)
    },
  };

  /** Sends every chunk read from now on (and any read before) to `consumer`. */
  attach(consumer: ChunkConsumer): void {
    this.consumer = consumer;
    const early = this.early;
    this.early = [];
    for (const chunk of early) consumer(chunk, false);
  }
}
