import type { ParleyNode } from '../node/node.js';
import { ParleyError } from '../wire/parley-error.js';
import { createClientNode } from './client-node.js';
import type { NodeSecurity } from './security-flags.js';

/**
 * A short-lived client node for one CLI command: it does not listen, joins through the seeds
 * with the command's credentials and waits until it has met every node the seeds know (or
 * `timeoutMs` passes). A seed that refuses the credentials fails it at once (UNAUTHENTICATED).
 */
export async function joinMesh(
  seeds: readonly string[],
  timeoutMs: number,
  security: NodeSecurity = {},
): Promise<ParleyNode> {
  const client = createClientNode({ id: `cli-${process.pid}`, seeds, security, gossipInterval: 200 });
  const { node, refused } = client;
  let refusal: ParleyError | undefined;
  void refused.then((err) => {
    refusal = err;
  });
  await node.start();
  const deadline = Date.now() + timeoutMs;
  const fail = async (err: ParleyError) => {
    await node.stop();
    throw err;
  };
  // First: at least one seed answers.
  while (node.nodes().filter((n) => n.connected).length < 2) {
    if (refusal) return fail(refusal);
    if (Date.now() > deadline) {
      return fail(new ParleyError('UNAVAILABLE', `cannot reach ${seeds.join(', ')}; is a Parley node running there?`));
    }
    await sleep(10);
  }
  // A peer that refused this client's credentials may have let it in for a moment: make sure.
  const seed = node.nodes().find((n) => n.connected && n.id !== node.id);
  if (seed) await client.confirm(seed.id, Math.max(500, deadline - Date.now())).catch(fail);
  // Then: the set of known nodes stops growing and every one of them is connected.
  let stableSince = Date.now();
  let last = '';
  while (Date.now() < deadline) {
    const nodes = node.nodes();
    const key = nodes.map((n) => `${n.id}:${n.connected}`).join(',');
    if (key !== last) {
      last = key;
      stableSince = Date.now();
    } else if (nodes.every((n) => n.connected) && Date.now() - stableSince >= 300) {
      break;
    }
    await sleep(10);
  }
  return node;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
