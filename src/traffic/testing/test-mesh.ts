import type { Middleware } from '../../node/middleware.js';
import { createNode, type ParleyNode } from '../../node/node.js';
import type { NodeOptions } from '../../node/options.js';
import type { ServiceDefinition } from '../../node/service.js';
import { waitUntil } from '../../node/testing/test-cluster.js';
import { MemoryNetwork, MemoryTransport } from '../../transport/memory-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../wire/frame.js';
import type { Traffic } from '../traffic.js';

/** One node of a test or benchmark mesh: its id, services, and (optionally) its own traffic layer. */
export interface MeshNodeSpec {
  readonly id: string;
  readonly services?: readonly ServiceDefinition[];
  readonly traffic?: Traffic;
  /** Middlewares outside the traffic layer (e.g. counters of what arrives). */
  readonly middlewares?: readonly Middleware[];
  readonly meta?: NodeOptions['meta'];
  /** How long stop() waits for running handlers (node default 10 s). */
  readonly drainTimeout?: number;
}

/**
 * Starts nodes on one in-memory network, each with its own options (unlike node/test-cluster.ts,
 * which gives every node the same), and waits until every node sees every other.
 */
export async function startMesh(specs: readonly MeshNodeSpec[], memory = new MemoryNetwork()): Promise<ParleyNode[]> {
  const nodes: ParleyNode[] = [];
  for (const spec of specs) {
    const node = createNode({
      id: spec.id,
      logger: 'silent',
      gossipInterval: 100,
      seeds: nodes[0]?.address ? [nodes[0].address] : [],
      transport: new MemoryTransport(memory, {
        maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
        maxOutboundBytes: DEFAULT_MAX_OUTBOUND_BYTES,
      }),
      middlewares: [...(spec.middlewares ?? []), ...(spec.traffic ? [spec.traffic.middleware] : [])],
      ...(spec.traffic ? { balancer: spec.traffic.balancer } : {}),
      ...(spec.meta ? { meta: spec.meta } : {}),
      ...(spec.drainTimeout === undefined ? {} : { drainTimeout: spec.drainTimeout }),
    });
    for (const s of spec.services ?? []) node.addService(s);
    await node.start();
    nodes.push(node);
  }
  await waitUntil(
    () => nodes.every((n) => n.nodes().filter((p) => p.connected).length === nodes.length),
    10_000,
    'every node to see every other',
  );
  return nodes;
}
