import net from 'node:net';
import { networkInterfaces } from 'node:os';
import tls from 'node:tls';
import { ParleyError } from '../wire/parley-error.js';
import { concreteHost, formatAddress, isWildcardHost, type NetworkInterfaces } from './advertised-address.js';
import type { Connection } from './connection.js';
import { DirectRead } from './direct-read.js';
import { type InboundBudget, processInboundBudget } from './inbound-budget.js';
import type { Logger } from './logger.js';
import { SocketConnection } from './socket-connection.js';
import type { TlsOptions } from './tls-options.js';
import type { OutboundLimits, Transport } from './transport.js';

export interface TcpTransportOptions extends OutboundLimits {
  readonly host: string;
  /** 0 = an ephemeral port; null = do not listen (dial out only). */
  readonly port: number | null;
  readonly tls?: TlsOptions | undefined;
  readonly connectTimeoutMs?: number;
  /** Bounds the bytes of unfinished frames across connections (default: one budget per process). */
  readonly inboundBudget?: InboundBudget;
  /** The host:port peers should dial, when it differs from where this listens (NAT, a proxy). */
  readonly advertise?: string | undefined;
  /** Where the choice of an advertised address is reported (default: nowhere). */
  readonly logger?: Logger;
  /** The machine's interfaces (default os.networkInterfaces; tests pass their own). */
  readonly interfaces?: () => NetworkInterfaces;
  /**
   * Most connections accepted from one remote IP address at a time (default
   * DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 64). Past it a new connection is closed at once, before
   * TLS or the handshake, and counted (`refusedConnections`); the first refusal per address is logged.
   */
  readonly maxConnectionsPerAddress?: number;
}

/** Default of `maxConnectionsPerAddress`: a node's peers need one or two connections each. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64;
/** Addresses remembered as already warned about; past this many, refusals are only counted. */
const MAX_WARNED_ADDRESSES = 1024;

/** The embedded default transport: TCP, optionally TLS or mutual TLS. */
export class TcpTransport implements Transport {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  private readonly budget: InboundBudget;
  /** Open accepted connections per remote IP address (entries at 0 are deleted). */
  private readonly perAddress = new Map<string, number>();
  private readonly warned = new Set<string>();
  private refused = 0;

  constructor(private readonly options: TcpTransportOptions) {
    this.budget = options.inboundBudget ?? processInboundBudget;
  }

  /** Connections closed on accept because their address had `maxConnectionsPerAddress` open already. */
  get refusedConnections(): number {
    return this.refused;
  }

  /**
   * Listens and returns the address peers dial: `advertise` when set, else the listen address,
   * except that a wildcard host (0.0.0.0, ::) is replaced by a concrete address of this machine.
   */
  async listen(onAccept: (connection: Connection) => void): Promise<string | null> {
    const { port, host, tls: tlsOptions } = this.options;
    if (port === null) return null;
    if (tlsOptions && (tlsOptions.cert === undefined || tlsOptions.key === undefined)) {
      throw new ParleyError('INVALID_ARGUMENT', 'a node that listens with TLS needs tls.cert and tls.key');
    }
    const accept = (socket: net.Socket) => {
      this.track(socket);
      onAccept(new SocketConnection(socket, false, this.options, this.budget));
    };
    const server = tlsOptions
      ? tls.createServer(
          {
            cert: tlsOptions.cert,
            key: tlsOptions.key,
            ca: tlsOptions.ca as tls.TlsOptions['ca'],
            requestCert: tlsOptions.mutual === true,
            rejectUnauthorized: tlsOptions.mutual === true,
          },
          accept,
        )
      : net.createServer((socket) => {
          if (this.admit(socket)) accept(socket);
        });
    // Under TLS, counted on the raw TCP connection before the TLS handshake (a peer slow to finish
    // it holds a slot too): prepended, so a refused socket is destroyed before TLS wraps it.
    if (tlsOptions) server.prependListener('connection', (socket: net.Socket) => this.admit(socket));
    // Failed TLS handshakes (e.g. a client without a valid certificate under mTLS) end here.
    server.on('tlsClientError', () => {});
    server.on('error', () => {});
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new ParleyError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${err.message}`));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const bound = server.address() as net.AddressInfo;
    const listening = formatAddress(host, bound.port);
    if (this.options.advertise) return this.options.advertise;
    if (!isWildcardHost(host)) return listening;
    // Peers told to dial 0.0.0.0 or :: would dial themselves: advertise a concrete address.
    const advertised = formatAddress(concreteHost((this.options.interfaces ?? networkInterfaces)()), bound.port);
    this.options.logger?.info(
      `listening on ${listening} (every interface); peers are told to dial ${advertised}; set advertise to choose the address peers dial`,
    );
    return advertised;
  }

  dial(address: string): Promise<Connection> {
    const { host, port } = parseAddress(address);
    const tlsOptions = this.options.tls;
    const timeoutMs = this.options.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      // TLS sockets have no `onread`: they read through their stream.
      const directRead = tlsOptions ? undefined : new DirectRead();
      const socket = tlsOptions
        ? tls.connect({
            host,
            port,
            cert: tlsOptions.cert,
            key: tlsOptions.key,
            ca: tlsOptions.ca as tls.ConnectionOptions['ca'],
            rejectUnauthorized: true,
            ...(tlsOptions.checkServerIdentity === false ? { checkServerIdentity: () => undefined } : {}),
          })
        : net.connect({ host, port, onread: directRead!.onread });
      const readyEvent = tlsOptions ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => socket.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ParleyError('UNAVAILABLE', `cannot connect to ${address}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        this.track(socket);
        resolve(new SocketConnection(socket, true, this.options, this.budget, directRead));
      });
    });
  }

  /**
   * Stops listening and resolves once every socket is closed. Owners close their connections
   * (flushing them first); sockets still open after `graceMs` are destroyed.
   */
  async close(graceMs = 2000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const timer = setTimeout(() => this.destroyAll(), graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  /** Destroys every socket this transport made (a hard stop). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Counts an accepted socket against its address's cap, or closes it at once when the address is
   * at the cap. Invariant: perAddress.get(ip) = accepted sockets from ip not yet closed.
   */
  private admit(socket: net.Socket): boolean {
    const ip = socket.remoteAddress ?? '?';
    const max = this.options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    const open = this.perAddress.get(ip) ?? 0;
    if (open >= max) {
      this.refused++;
      socket.destroy();
      if (!this.warned.has(ip) && this.warned.size < MAX_WARNED_ADDRESSES) {
        this.warned.add(ip);
        this.options.logger?.warn(
          `refusing connections from ${ip}: it has ${open} open, the most one address may have (maxConnectionsPerAddress); further refusals from it are counted, not logged`,
        );
      }
      return false;
    }
    this.perAddress.set(ip, open + 1);
    socket.once('close', () => {
      const n = (this.perAddress.get(ip) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(ip);
      else this.perAddress.set(ip, n);
    });
    return true;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || !(port > 0 && port < 65536)) {
    throw new ParleyError('INVALID_ARGUMENT', `bad address '${address}': expected host:port, e.g. 127.0.0.1:7401`);
  }
  return { host: m[1], port };
}
