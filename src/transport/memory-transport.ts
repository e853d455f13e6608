import { DEFAULT_MAX_FIRST_FRAME_SIZE, type Frame, HEADER_SIZE, type PacketType } from '../wire/frame.js';
import { FrameBatch } from '../wire/frame-batch.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { ParleyError } from '../wire/parley-error.js';
import { type Connection, type ConnectionHandlers, outboundQueueFull } from './connection.js';
import type { OutboundLimits, Transport } from './transport.js';

/**
 * An in-process network for tests: transports register under an address, dial each other, and
 * exchange real encoded frames (so the codec and decoder run as they do over TCP). Delivery is
 * asynchronous (one setImmediate per batch) and ordered per connection.
 */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (c: Connection) => void>();
  private readonly blocked = new Set<string>();
  private readonly dropped = new Set<string>();
  private readonly live = new Set<MemoryConnection>();
  private nextPort = 1;

  register(onAccept: (c: Connection) => void): string {
    const address = `mem:${this.nextPort++}`;
    this.listeners.set(address, onAccept);
    return address;
  }

  unregister(address: string): void {
    this.listeners.delete(address);
  }

  connect(from: string, address: string, limits: OutboundLimits): MemoryConnection {
    const accept = this.listeners.get(address);
    if (!accept || this.isBlocked(from, address)) {
      throw new ParleyError('UNAVAILABLE', `cannot connect to ${address}: connection refused`);
    }
    const local = new MemoryConnection(true, address, from, limits, this);
    const remote = new MemoryConnection(false, from, address, limits, this);
    local.peer = remote;
    remote.peer = local;
    this.live.add(local);
    this.live.add(remote);
    accept(remote);
    return local;
  }

  /** Cuts every connection between a and b, and refuses new ones until heal(). */
  partition(a: string, b: string): void {
    this.blocked.add(`${a}|${b}`);
    this.blocked.add(`${b}|${a}`);
    for (const c of [...this.live]) {
      if ((c.localAddress === a && c.remoteAddress === b) || (c.localAddress === b && c.remoteAddress === a)) {
        c.destroy(new Error('network partition'));
      }
    }
  }

  /**
   * Silently drops every frame between a and b in both directions while the connections stay
   * open: what a peer behind a dead link, or a frozen process, looks like. Undone by heal().
   */
  blackhole(a: string, b: string): void {
    this.dropped.add(`${a}|${b}`);
    this.dropped.add(`${b}|${a}`);
  }

  heal(): void {
    this.blocked.clear();
    this.dropped.clear();
  }

  /** True when frames from `from` to `to` are being dropped. */
  drops(from: string, to: string): boolean {
    return this.dropped.has(`${from}|${to}`);
  }

  forget(c: MemoryConnection): void {
    this.live.delete(c);
  }

  private isBlocked(a: string, b: string): boolean {
    return this.blocked.has(`${a}|${b}`);
  }
}

const noHandlers: ConnectionHandlers = { onFrame() {}, onClose() {} };
let nextId = 1;

export class MemoryConnection implements Connection {
  readonly id = nextId++;
  readonly peerIdentity = undefined;
  peer: MemoryConnection | undefined;
  private handlers: ConnectionHandlers = noHandlers;
  private readonly batch = new FrameBatch(1024);
  private readonly decoder: FrameDecoder;
  private scheduled = false;
  private isClosed = false;
  private inFlight = 0;

  constructor(
    readonly outbound: boolean,
    readonly remoteAddress: string,
    readonly localAddress: string,
    private readonly limits: OutboundLimits,
    private readonly network: MemoryNetwork,
  ) {
    this.decoder = new FrameDecoder({
      maxFrameSize: limits.maxFrameSize,
      maxFirstFrameSize: limits.maxFirstFrameSize ?? DEFAULT_MAX_FIRST_FRAME_SIZE,
    });
  }

  get pendingBytes(): number {
    return this.batch.byteLength + this.inFlight;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    if (this.isClosed) throw new ParleyError('UNAVAILABLE', `connection to ${this.remoteAddress} is closed`);
    if (HEADER_SIZE - 4 + body.length > this.limits.maxFrameSize) {
      throw new ParleyError('RESOURCE_EXHAUSTED', `message of ${body.length} bytes exceeds the maximum frame size`);
    }
    if (this.pendingBytes + HEADER_SIZE + body.length > this.limits.maxOutboundBytes) {
      throw outboundQueueFull(this.remoteAddress, this.pendingBytes, this.limits.maxOutboundBytes);
    }
    this.batch.append(type, flags, stream, body);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.batch.byteLength === 0 || this.isClosed) return;
    const bytes = this.batch.take();
    if (this.network.drops(this.localAddress, this.remoteAddress)) return;
    this.inFlight += bytes.length;
    setImmediate(() => {
      this.inFlight -= bytes.length;
      this.peer?.receive(bytes);
    });
  }

  close(): void {
    this.flush();
    setImmediate(() => setImmediate(() => this.destroy()));
  }

  destroy(error?: Error): void {
    if (this.isClosed) return;
    this.finish(error);
    this.peer?.finish(error);
  }

  private receive(bytes: Uint8Array): void {
    if (this.isClosed) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(bytes);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    for (const f of frames) if (!this.isClosed) this.handlers.onFrame(f);
  }

  private finish(error: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.network.forget(this);
    const h = this.handlers;
    this.handlers = noHandlers;
    h.onClose(error);
  }
}

export class MemoryTransport implements Transport {
  private address: string | null = null;
  constructor(
    private readonly network: MemoryNetwork,
    private readonly limits: OutboundLimits,
    private readonly listening = true,
  ) {}

  async listen(onAccept: (c: Connection) => void): Promise<string | null> {
    if (!this.listening) return null;
    this.address = this.network.register(onAccept);
    return this.address;
  }

  async dial(address: string): Promise<Connection> {
    await Promise.resolve();
    return this.network.connect(this.address ?? `mem:client-${nextId}`, address, this.limits);
  }

  async close(): Promise<void> {
    if (this.address) this.network.unregister(this.address);
  }
}
