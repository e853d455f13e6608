/**
 * Authentication end to end over TCP on loopback: node keys with sealed frames, and a raw socket
 * that skips the handshake. The in-memory tests (authentication.test.ts) cover the attacks one by one.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { waitUntil } from '../base/testing/wait-until.js';
import { generateNodeKeys } from '../transport/security/node-keys.js';
import { jsonCodec } from '../wire/codec.js';
import { encodeFrame, FrameFlag, PacketType } from '../wire/frame.js';
import type { Context, EventContext } from './context.js';
import { createNode, type ParleyNode } from './node.js';

describe('authentication over TCP', () => {
  const nodes: ParleyNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const a = generateNodeKeys();
  const b = generateNodeKeys();
  const trust = { alpha: a.publicKey, beta: b.publicKey };

  it('members with node keys call and emit over sealed connections; a raw socket gets nothing', async () => {
    const events: string[] = [];
    const alpha = createNode({ id: 'alpha', logger: 'silent', auth: { key: a.secretKey, trust } });
    alpha.addService({
      name: 'echo',
      actions: { back: (p: unknown, ctx: Context) => ({ p, by: ctx.principal?.name }) },
      events: { 'echo.*': (_p: unknown, ctx: EventContext) => void events.push(ctx.event) },
    });
    nodes.push(alpha);
    await alpha.start();
    const beta = createNode({
      id: 'beta',
      logger: 'silent',
      seeds: [alpha.address!],
      auth: { key: b.secretKey, trust },
    });
    nodes.push(beta);
    await beta.start();
    await beta.waitFor('echo.back', 5000);
    const big = 'x'.repeat(200_000);
    assert.deepEqual(await beta.call('echo.back', { big }), { p: { big }, by: 'beta' });
    await beta.emit('echo.ping', {});
    await waitUntil(() => events.length === 1, 5000, 'the event');

    const [host, port] = alpha.address!.split(':');
    const socket = net.connect({ host: host!, port: Number(port) });
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(encodeFrame(PacketType.REQUEST, FrameFlag.JSON, 1, jsonCodec.encode(['echo.back', {}, null, 0])));
    await new Promise<void>((r) => socket.once('close', () => r()));
    const text = Buffer.concat(received).toString('latin1');
    assert.ok(!text.includes('"by"'), 'no response reached the raw socket');
    assert.match(text, /REQUEST before HELLO/);
  });
});
