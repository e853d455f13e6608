import type { Discovery, DiscoveryHost } from '../node/discovery/discovery.js';
import { PeerToPeerDiscovery } from '../node/discovery/peer-to-peer.js';
import { createNode, type ParleyNode } from '../node/node.js';
import { type Logger, silentLogger } from '../transport/logger.js';
import { ParleyError } from '../wire/parley-error.js';
import type { NodeSecurity } from './security-flags.js';

/**
 * The short-lived client node of a CLI command (it does not listen): joins through the seeds
 * with the command's credentials and remembers why a seed refused it, so the command can fail at
 * once with UNAUTHENTICATED and the reason, instead of timing out with "cannot reach".
 *
 * Two ways to learn it: a client with credentials runs the handshake, and its dial fails with the
 * server's code (UNAUTHENTICATED, or FAILED_PRECONDITION when the sides disagree on encryption); a
 * client without any is admitted by its own side at once and learns only from the server's
 * GOODBYE, which the mesh reports in a warning `'<id>' closed the connection: <reason>` — the only
 * place a node exposes it, without the code — so that warning is read, and counted as a refusal
 * when the reason is one of the handshake's (AUTH_REFUSAL).
 *
 * Invariant: `refused` settles only with such a refusal; a seed that is merely down retries as
 * before (PeerToPeerDiscovery) and never settles it.
 */
export interface ClientNode {
  readonly node: ParleyNode;
  /** Resolves with the first handshake refusal of a seed, with a hint naming the flags. */
  readonly refused: Promise<ParleyError>;
  /**
   * Proves that a connected peer accepted this client: one `$node.info` round trip to it (any
   * answer, even a denial, proves it). Throws the refusal when the peer refused the credentials.
   */
  confirm(peerId: string, timeoutMs: number): Promise<void>;
}

export function createClientNode(options: {
  readonly id: string;
  readonly seeds: readonly string[];
  readonly security: NodeSecurity;
  readonly gossipInterval: number;
}): ClientNode {
  let refusal: ParleyError | undefined;
  let settle: (err: ParleyError) => void = () => {};
  const refused = new Promise<ParleyError>((resolve) => {
    settle = resolve;
  });
  const report = (err: ParleyError) => {
    refusal ??= err;
    settle(err);
  };
  const inner = new PeerToPeerDiscovery({ seeds: options.seeds, gossipIntervalMs: options.gossipInterval });
  const watchRefusals = (host: DiscoveryHost): DiscoveryHost => ({
    get nodeId() {
      return host.nodeId;
    },
    connect: (address) =>
      host.connect(address).catch((err: unknown) => {
        if (ParleyError.is(err, 'UNAUTHENTICATED', 'FAILED_PRECONDITION')) {
          report(new ParleyError(err.code, `${address}: ${err.message}${hint(options.security)}`));
        }
        throw err;
      }),
    isConnected: (id) => host.isConnected(id),
    connectedPeers: () => host.connectedPeers(),
    peerIds: () => host.peerIds(),
    sendGossip: (id, entries) => host.sendGossip(id, entries),
  });
  const discovery: Discovery = {
    start: (host) => inner.start(watchRefusals(host)),
    peerUp: (id) => inner.peerUp(id),
    gossip: (from, entries) => inner.gossip(from, entries),
    stop: () => inner.stop(),
  };
  const { auth, tls } = options.security;
  const logger: Logger = {
    ...silentLogger,
    warn: (message) => {
      const closed = /^'[^']*' closed the connection: (.*)$/s.exec(message);
      if (closed && AUTH_REFUSAL.test(closed[1]!)) {
        report(
          new ParleyError('UNAUTHENTICATED', `the server refused this client: ${closed[1]}${hint(options.security)}`),
        );
      }
    },
  };
  const node = createNode({
    id: options.security.identity ?? options.id,
    port: null,
    logger,
    gossipInterval: options.gossipInterval,
    discovery,
    ...(auth ? { auth } : {}),
    ...(tls ? { tls } : {}),
  });
  const confirm = async (peerId: string, timeoutMs: number) => {
    // The peer's GOODBYE (which reports a refusal) arrives before its connection closes, so when
    // the round trip fails because the connection closed, the refusal is already known.
    const probe = node.call('$node.info', {}, { nodeId: peerId, timeout: timeoutMs }).then(
      () => undefined,
      () => undefined,
    );
    const first = await Promise.race([refused, probe]);
    if (first) throw first;
    if (refusal) throw refusal;
  };
  return { node, refused, confirm };
}

/** The reasons connection-auth.ts gives when it refuses a peer's credentials (its GOODBYE carries no more than the text here). */
const AUTH_REFUSAL =
  /sent no credentials|requires authentication|does not trust|does not hold|did not prove|does not match the identity|belongs to a trusted key|authenticat|token|certificate|encrypt/;

function hint(security: NodeSecurity): string {
  if (security.auth === undefined && security.tls === undefined) {
    return ". This command sent no credentials: pass the cluster's --secret-file FILE, or --key FILE with --trust FILE (or set PARLEY_SECRET_FILE, PARLEY_KEY_FILE, PARLEY_TRUST_FILE)";
  }
  return ". Check the credentials this command passes (--secret-file, --key/--trust, --token, --tls-*) against the cluster's";
}
