/**
 * A peer that asks for large answers and never reads them: once an answer does not fit in its
 * outbound queue, its next requests are refused without running (RequestServer), so the node
 * does not spend its event loop computing answers it can only drop.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitUntil } from '../../src/base/testing/wait-until.js';
import { createNode } from '../../src/node/node.js';
import { helloFrame, rawConnect, requestFrame } from './raw-peer.js';

describe('a peer that never reads its answers', () => {
  it('gets most of its requests refused unrun once its outbound queue is full', async () => {
    let runs = 0;
    const node = createNode({
      id: 'victim',
      logger: 'silent',
      maxOutboundBytes: 1024 * 1024,
      keepaliveInterval: 200,
      idleTimeout: 1000,
    });
    node.addService({
      name: 'big',
      actions: {
        blob: () => {
          runs++;
          return new Uint8Array(256 * 1024);
        },
      },
    });
    await node.start();
    try {
      const raw = await rawConnect(node.address!);
      raw.socket.pause(); // never reads
      raw.socket.write(helloFrame('deaf'));
      const requests = 400;
      const frames = [];
      for (let s = 1; s <= requests; s++) frames.push(requestFrame(s, 'big.blob', {}));
      raw.socket.write(Buffer.concat(frames));
      await waitUntil(() => runs > 0, 10_000, 'the first answers to be computed');
      // Silent, so it is dropped after the idle timeout; by then every request was handled.
      await waitUntil(() => !node.nodes().some((n) => n.id === 'deaf' && n.connected), 10_000, 'the deaf peer dropped');
      raw.socket.destroy();
      // 100 MiB were asked for; the queue (1 MiB) and the sockets' buffers hold a few MiB of it.
      assert.ok(runs < requests / 4, `${runs} of ${requests} answers were computed for a peer that reads none`);
    } finally {
      await node.stop();
    }
  });
});
