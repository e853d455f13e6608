import type { Connection, PeerIdentity } from '../../transport/connection.js';
import { MemoryNetwork, MemoryTransport } from '../../transport/memory-transport.js';
import type { Transport } from '../../transport/transport.js';

/**
 * Test-only: an in-memory network whose connections carry a verified TLS-style identity, so
 * nodes on it get authenticated principals (`via: 'tls'`, name = the peer's CN) without
 * certificates. A transport created with `name: null` has no identity: its peers see it as
 * unauthenticated. Every node must listen (the name is looked up by the dialer's address).
 */
export class NamedNetwork {
  readonly network = new MemoryNetwork();
  private readonly names = new Map<string, string>();

  transport(name: string | null): Transport {
    const inner = new MemoryTransport(this.network, { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 });
    const names = this.names;
    const wrap = (c: Connection): Connection => {
      const identity = (): PeerIdentity | undefined => {
        const peer = names.get(c.remoteAddress);
        return peer === undefined
          ? undefined
          : { commonName: peer, subjectAltName: undefined, fingerprint256: `fp-${peer}`, authorized: true };
      };
      return new Proxy(c, {
        get(target, key) {
          if (key === 'peerIdentity') return identity();
          const v = Reflect.get(target, key, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    };
    return {
      async listen(onAccept) {
        const address = await inner.listen((c) => onAccept(wrap(c)));
        if (address !== null && name !== null) names.set(address, name);
        return address;
      },
      async dial(address) {
        return wrap(await inner.dial(address));
      },
      close: () => inner.close(),
    };
  }
}
