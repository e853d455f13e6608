import { waitUntil } from '../../base/testing/wait-until.js';
import { type MemoryNetwork, MemoryTransport } from '../../transport/memory-transport.js';
import { DEFAULT_MAX_OUTBOUND_BYTES } from '../../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../wire/frame.js';
import { createNode, type ParleyNode } from '../node.js';
import type { NodeOptions } from '../options.js';
import type { ServiceDefinition } from '../service.js';

export { waitUntil };

/** Test helper: starts nodes joined into one mesh (TCP on loopback, or an in-memory network). */
export async function startCluster(
  services: ServiceDefinition[][],
  options: Partial<NodeOptions> & { memory?: MemoryNetwork } = {},
): Promise<ParleyNode[]> {
  const nodes: ParleyNode[] = [];
  const { memory, ...nodeOptions } = options;
  for (let i = 0; i < services.length; i++) {
    const transport = memory
      ? new MemoryTransport(memory, {
          maxFrameSize: nodeOptions.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
          maxOutboundBytes: nodeOptions.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES,
        })
      : undefined;
    const node = createNode({
      id: `n${i + 1}`,
      logger: 'silent',
      seeds: nodes[0]?.address ? [nodes[0].address] : [],
      gossipInterval: 100,
      ...(transport ? { transport } : {}),
      ...nodeOptions,
    });
    for (const s of services[i]!) node.addService(s);
    await node.start();
    nodes.push(node);
  }
  await waitUntil(() => nodes.every((n) => n.nodes().filter((p) => p.connected).length === nodes.length));
  return nodes;
}

export async function stopAll(nodes: ParleyNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}
