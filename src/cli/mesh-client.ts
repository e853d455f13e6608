import { createNode, type ParleyNode } from '../node/node.js';
import type { Logger } from '../transport/logger.js';
import { ParleyError } from '../wire/parley-error.js';
import { authFromEnv } from './cli-auth.js';

/**
 * A short-lived client node for one CLI command: it does not listen, joins through the seeds and
 * waits until it has met every node the seeds know (or `timeoutMs` passes). It authenticates with
 * PARLEY_SECRET or PARLEY_TOKEN (cli-auth.ts) when set; a seed's refusal is reported as such.
 */
export async function joinMesh(seeds: readonly string[], timeoutMs: number, usage = ''): Promise<ParleyNode> {
  const refusals: string[] = [];
  const record = (m: string) => {
    if (/refus|not trust|does not match/.test(m)) refusals.push(m);
  };
  const logger: Logger = { debug() {}, info() {}, warn: record, error: record };
  const auth = authFromEnv('client', usage);
  const node = createNode({
    id: `cli-${process.pid}`,
    port: null,
    seeds,
    logger,
    gossipInterval: 200,
    ...(auth ? { auth } : {}),
  });
  await node.start();
  const deadline = Date.now() + timeoutMs;
  // First: at least one seed answers.
  while (node.nodes().filter((n) => n.connected).length < 2) {
    if (Date.now() > deadline) {
      await node.stop();
      if (refusals.length > 0) {
        throw new ParleyError(
          'UNAUTHENTICATED',
          `${refusals[0]}; set PARLEY_SECRET or PARLEY_TOKEN (and PARLEY_TRUST)`,
        );
      }
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
