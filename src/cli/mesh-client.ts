import { createNode, type ParleyNode } from '../node/node.js';
import { ParleyError } from '../wire/parley-error.js';

/**
 * A short-lived client node for one CLI command: it does not listen, joins through the seeds and
 * waits until it has met every node the seeds know (or `timeoutMs` passes).
 */
export async function joinMesh(seeds: readonly string[], timeoutMs: number): Promise<ParleyNode> {
  const node = createNode({ id: `cli-${process.pid}`, port: null, seeds, logger: 'silent', gossipInterval: 200 });
  await node.start();
  const deadline = Date.now() + timeoutMs;
  // First: at least one seed answers.
  while (node.nodes().filter((n) => n.connected).length < 2) {
    if (Date.now() > deadline) {
      await node.stop();
      throw new ParleyError('UNAVAILABLE', `cannot reach ${seeds.join(', ')}; is a Parley node running there?`);
    }
    await sleep(10);
  }
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
