import { createNode, type ParleyNode } from '../node/node.js';
import { silentLogger } from '../transport/logger.js';
import { CLIENT_ID_SEPARATOR } from '../transport/security/connection-auth.js';
import type { ParleyError } from '../wire/parley-error.js';
import { refusalFailure } from './refusal-advice.js';
import type { NodeSecurity } from './security-flags.js';

/**
 * The short-lived client node of a CLI command (it does not listen): joins through the seeds
 * with the command's credentials and remembers why a seed refused it — or why it refused a seed —
 * so the command can fail at once with the refusal's code and a message saying what to fix
 * (refusal-advice.ts), instead of timing out with "cannot reach".
 *
 * The node reports every refused handshake as a typed value (`node.onRefusal`: code and reason,
 * carried in the refusing side's GOODBYE): a client with credentials learns it when its dial
 * fails, a client without any (admitted by its own side at once) from the server's GOODBYE.
 *
 * Invariant: `refused` settles only with such a refusal; a seed that is merely down retries as
 * before (PeerToPeerDiscovery) and never settles it.
 */
export interface ClientNode {
  readonly node: ParleyNode;
  /** Resolves with the first handshake refusal of a seed, with advice naming the flags. */
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
  const { auth, tls } = options.security;
  const node = createNode({
    // A key or certificate proves a name; the client's id is that name plus its own suffix, so it
    // never collides with the node holding the same key, nor with another command (connection-auth.ts).
    id:
      options.security.identity === undefined
        ? options.id
        : `${options.security.identity}${CLIENT_ID_SEPARATOR}${options.id}`,
    port: null,
    logger: silentLogger,
    gossipInterval: options.gossipInterval,
    seeds: options.seeds,
    ...(auth ? { auth } : {}),
    ...(tls ? { tls } : {}),
  });
  node.onRefusal((r) => {
    const err = refusalFailure(r, options.security);
    refusal ??= err;
    settle(err);
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
