/**
 * Bytes a node receives stay the caller's: a Buffer in a response, a request's params or an event
 * is never a view of a receive buffer the transport reuses for the next read. (A dialed TCP socket
 * reads into one shared buffer; decoded binary fields must be copies.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineService } from './service.js';
import { startCluster, stopAll } from './testing/test-cluster.js';

const blobs = defineService({
  name: 'blob',
  actions: {
    fill: (p: { byte: number; size: number }) => Buffer.alloc(p.size, p.byte),
    /** Keeps the received bytes across an await while other requests arrive, then reports them. */
    hold: async (p: { data: Uint8Array }) => {
      await new Promise((r) => setTimeout(r, 30));
      return { first: p.data[0], same: p.data.every((b) => b === p.data[0]) };
    },
  },
});

describe('received bytes', () => {
  it('a response Buffer kept by the caller survives later reads on the same TCP connection', async () => {
    // n2 dials n1, so n2 receives n1's answers on the socket it dialed.
    const nodes = await startCluster([[blobs], []], { host: '127.0.0.1', port: 0 });
    try {
      const caller = nodes[1]!;
      const kept: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) kept.push((await caller.call('blob.fill', { byte: i, size: 3000 })) as Uint8Array);
      for (let i = 0; i < 20; i++) {
        assert.equal(kept[i]!.length, 3000);
        assert.ok(
          kept[i]!.every((b) => b === i),
          `response ${i} changed after later reads`,
        );
      }
    } finally {
      await stopAll(nodes);
    }
  });

  it("a request's bytes kept by a handler across an await survive later requests", async () => {
    // n2 dials n1 here: the handler on n2 receives requests on the socket it dialed.
    const nodes = await startCluster([[], [blobs]], { host: '127.0.0.1', port: 0 });
    try {
      const caller = nodes[0]!;
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => caller.call('blob.hold', { data: Buffer.alloc(3000, i) })),
      );
      for (const [i, a] of answers.entries()) assert.deepEqual(a, { first: i, same: true }, `request ${i} changed`);
    } finally {
      await stopAll(nodes);
    }
  });
});
