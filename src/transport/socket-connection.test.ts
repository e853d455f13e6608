import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { PacketType } from '../wire/frame.js';
import { FrameBatch } from '../wire/frame-batch.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { InboundBudget } from './inbound-budget.js';
import { EARLY_WRITE_FRAMES, SocketConnection } from './socket-connection.js';

/** A socket that records what is written to it, as the number of frames per write. */
function recordingSocket(): { socket: Socket; writes: number[] } {
  const writes: number[] = [];
  const decoder = new FrameDecoder(1 << 20);
  const socket = Object.assign(new EventEmitter(), {
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    destroyed: false,
    writableLength: 0,
    setNoDelay() {},
    pause() {},
    end() {},
    destroy() {},
    write(bytes: Uint8Array) {
      writes.push(decoder.push(bytes).length);
      return true;
    },
  });
  return { socket: socket as unknown as Socket, writes };
}

const limits = { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 };
const body = new Uint8Array(16);
const microtask = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('SocketConnection writes', () => {
  it('writes a tick of few frames once, after the tick', async () => {
    const { socket, writes } = recordingSocket();
    const connection = new SocketConnection(socket, true, limits, new InboundBudget());
    for (let i = 0; i < 5; i++) connection.send(PacketType.EVENT, 0, i, body);
    assert.deepEqual(writes, []);
    await microtask();
    assert.deepEqual(writes, [5]);
  });

  it("writes a large tick's first frames at once and the rest after the tick, every tick", async () => {
    const { socket, writes } = recordingSocket();
    const connection = new SocketConnection(socket, true, limits, new InboundBudget());
    for (let tick = 0; tick < 2; tick++) {
      for (let i = 0; i < 100; i++) connection.send(PacketType.RESPONSE, 0, i + 1, body);
      await microtask();
    }
    const rest = 100 - EARLY_WRITE_FRAMES;
    assert.deepEqual(writes, [EARLY_WRITE_FRAMES, rest, EARLY_WRITE_FRAMES, rest]);
  });

  it("answers to a received chunk's requests leave with the chunk, the first ones early", () => {
    const { socket, writes } = recordingSocket();
    const connection = new SocketConnection(socket, false, limits, new InboundBudget());
    connection.setHandlers({
      onFrame: (frame) => connection.send(PacketType.RESPONSE, 0, frame.stream, body),
      onClose() {},
    });
    const requests = new FrameBatch();
    for (let i = 0; i < 40; i++) requests.append(PacketType.REQUEST, 0, i + 1, body);
    const chunk = requests.take();
    socket.emit('data', Buffer.from(chunk));
    assert.deepEqual(writes, [EARLY_WRITE_FRAMES, 40 - EARLY_WRITE_FRAMES]);
  });
});
