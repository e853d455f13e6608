import { jsonCodec } from '../../wire/codec.js';
import { type Frame, PacketType } from '../../wire/frame.js';
import { parseHello } from '../../wire/packets.js';
import type { Connection, ConnectionHandlers, PeerIdentity } from '../connection.js';
import type { Transport } from '../transport.js';
import type { FaultInjector } from './fault-injector.js';

/**
 * A Transport decorator for tests: every connection it makes or accepts passes the frames it
 * receives through a FaultInjector, which drops or delays them by the sending peer's node id. The
 * id is read from the peer's HELLO (the first frame), so fault rules apply to the handshake too.
 *
 * Nothing in the shipped code knows about it: a test wraps the transport it gives a node or a
 * server (`new FaultyTransport(new TcpTransport(…), injector)`), and the mesh above sees a
 * network that loses or delays packets.
 */
export class FaultyTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    readonly faults: FaultInjector,
  ) {}

  listen(onAccept: (connection: Connection) => void): Promise<string | null> {
    return this.inner.listen((c) => onAccept(new FaultyConnection(c, this.faults)));
  }

  async dial(address: string): Promise<Connection> {
    return new FaultyConnection(await this.inner.dial(address), this.faults);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A connection whose received frames go through the injector. Invariant: `peer` is set by the
 * first readable HELLO and never changes; frames before it (none, from a correct peer) pass.
 */
class FaultyConnection implements Connection {
  private peer: string | undefined;

  constructor(
    private readonly inner: Connection,
    private readonly faults: FaultInjector,
  ) {}

  get id(): number {
    return this.inner.id;
  }
  get outbound(): boolean {
    return this.inner.outbound;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get peerIdentity(): PeerIdentity | undefined {
    return this.inner.peerIdentity;
  }
  get pendingBytes(): number {
    return this.inner.pendingBytes;
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.inner.setHandlers({
      onFrame: (frame) => {
        this.peer ??= helloSender(frame);
        const from = this.peer;
        if (from !== undefined && this.faults.intercept(from, frame, handlers.onFrame, () => !this.inner.closed))
          return;
        handlers.onFrame(frame);
      },
      onClose: (error) => handlers.onClose(error),
    });
  }

  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    this.inner.send(type, flags, stream, body);
  }
  flush(): void {
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
  destroy(error?: Error): void {
    this.inner.destroy(error);
  }
}

/** The id a HELLO claims; undefined for other frames and unreadable HELLOs. */
function helloSender(frame: Frame): string | undefined {
  if (frame.type !== PacketType.HELLO) return undefined;
  try {
    return parseHello(jsonCodec.decode(frame.body)).node.id;
  } catch {
    return undefined;
  }
}
