import type { Timer } from '../base/clock.js';
import type { Logger, LogLevel } from '../transport/logger.js';
import type { AuthOptions } from '../transport/security/auth-options.js';
import type { TlsOptions } from '../transport/tls-options.js';
import type { Transport } from '../transport/transport.js';
import type { CodecName } from '../wire/codec.js';
import type { Meta } from '../wire/packets.js';
import type { AuditSink } from './authorization/audit-log.js';
import type { Policy } from './authorization/policy.js';
import type { Balancer } from './balancer.js';
import type { Discovery } from './discovery/discovery.js';
import type { Middleware } from './middleware.js';

export interface NodeOptions {
  /** Unique node id. Default: `<hostname>-<pid>-<random>`. */
  readonly id?: string;
  /** Host to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port to listen on; 0 = ephemeral (default); null = do not listen (a client that only dials out). */
  readonly port?: number | null;
  /**
   * The host:port other nodes should dial, when it differs from the listen address (e.g. behind
   * NAT). Default: the listen address; for a node listening on every interface (0.0.0.0 or ::),
   * the machine's first external IPv4 address (else IPv6, else 127.0.0.1), logged at start.
   */
  readonly advertise?: string;
  /** Addresses (host:port) of nodes to join through (peer-to-peer discovery). */
  readonly seeds?: readonly string[];
  /** Body codec this node sends with (default 'msgpack'); it reads both. */
  readonly codec?: CodecName;
  readonly tls?: TlsOptions;
  /**
   * Authenticate every connection (node keys, a cluster secret, mutual TLS, bearer tokens, a
   * hook): a peer's node id must match what it proves. Default: none — HELLOs are believed, which
   * is only allowed on loopback (see `insecure`).
   */
  readonly auth?: AuthOptions;
  /**
   * Listen on a non-loopback host without authentication. Without it such a node refuses to start
   * (FAILED_PRECONDITION); with it, it logs one warning.
   */
  readonly insecure?: boolean;
  /** Published to other nodes (e.g. zone, weight). */
  readonly meta?: Meta;
  /** Default deadline of a call in ms when neither caller nor action gives one (default 30000; 0 = none). */
  readonly requestTimeout?: number;
  /** How long stop() waits for in-flight work (default 10000 ms). */
  readonly drainTimeout?: number;
  /** Idle time before a keepalive PING (default 1000 ms). */
  readonly keepaliveInterval?: number;
  /** Silence after which a connection is declared dead (default 5000 ms). */
  readonly idleTimeout?: number;
  /** How long a lost node is redialed before it is forgotten (default 5000 ms). */
  readonly failureTimeout?: number;
  /** Gossip period of peer-to-peer discovery (default 1000 ms). */
  readonly gossipInterval?: number;
  /** Largest frame accepted or sent (default 16 MiB). */
  readonly maxFrameSize?: number;
  /** Bytes queued towards one peer before calls fail with RESOURCE_EXHAUSTED (default 64 MiB). */
  readonly maxOutboundBytes?: number;
  /**
   * Most connections accepted from one remote IP address at a time (default 64). Past it a new
   * connection is closed at once, before TLS and the handshake; the first refusal per address is
   * logged. Raise it when many nodes share one address (NAT, one host running many nodes).
   */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Most requests from one peer running on this node at a time, and separately most one-way
   * messages (default 10,000). Past it a request is answered RESOURCE_EXHAUSTED (reason
   * 'max-in-flight-per-peer', retry after 100 ms) and a one-way message is dropped (logged once).
   */
  readonly maxInFlightPerPeer?: number;
  readonly logger?: Logger | LogLevel;
  readonly middlewares?: readonly Middleware[];
  readonly balancer?: Balancer;
  /** Replaces peer-to-peer discovery (seeds are then ignored). */
  readonly discovery?: Discovery;
  /** Replaces the TCP transport (e.g. MemoryTransport in tests). */
  readonly transport?: Transport;
  /**
   * The node's clock and timers: call deadlines (`ctx.deadline`), timeouts, drain and forget timers.
   * Default: `wallTimer` (epoch milliseconds, timers that keep the process alive).
   */
  readonly timer?: Timer;
  /**
   * The authorization policy (docs/SECURITY.md): an object, or the path of a JSON file that is
   * re-read every second (a broken version is refused and the last good policy stays). An invalid
   * policy refuses the node's creation (INVALID_ARGUMENT). Default: none, everything is allowed.
   */
  readonly policy?: Policy | string;
  /** Where audit entries (denials, policy changes) go. Default: the node's logger. */
  readonly audit?: AuditSink;
}
