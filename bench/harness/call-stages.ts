/**
 * The CPU budget of one Parley call, stage by stage, measured in this process on the real code (the caller's
 * CallDispatcher and PendingCalls, FrameBatch, FrameDecoder, the server's RequestServer, the MessagePack codec)
 * with the socket replaced by a stub that keeps the bytes. Each stage runs `iterations` times per repeat; the
 * median repeat is reported, in µs of CPU per call. The ping-pong floor's own work (msgpackr pack + length prefix,
 * reassembly + unpack, on each side) is measured the same way, so that
 *
 *   parley p50 − floor p50  ≈  Σ parley stages − Σ floor stages  +  what no stage shows
 *
 * where the last term is scheduling: the extra event-loop hops (microtask flush, promise continuations) and any
 * write or wake-up the floor does not pay. The socket write, the kernel's loopback and the reader's wake-up are
 * the same for both and stay inside the floor's p50.
 */

import { Packr } from 'msgpackr';
import { systemTimer } from '../../src/base/clock.js';
import { Authorizer } from '../../src/node/authorization/authorizer.js';
import { RoundRobinBalancer } from '../../src/node/balancer.js';
import { CallDispatcher } from '../../src/node/call-dispatcher.js';
import { Catalog } from '../../src/node/catalog.js';
import type { Messenger } from '../../src/node/context.js';
import { LocalServices } from '../../src/node/local-services.js';
import { PendingCalls } from '../../src/node/pending-calls.js';
import { RequestServer } from '../../src/node/request-server.js';
import type { Logger } from '../../src/transport/logger.js';
import type { Mesh } from '../../src/transport/mesh.js';
import { msgpackCodec } from '../../src/wire/codec.js';
import { type Frame, PacketType } from '../../src/wire/frame.js';
import { FrameBatch } from '../../src/wire/frame-batch.js';
import { FrameDecoder } from '../../src/wire/frame-decoder.js';
import { encodeRequest, parseRequest } from '../../src/wire/packets.js';
import { encodeFrame, FrameReader } from '../peers/length-prefixed-frames.js';

export interface StageCost {
  side: 'caller' | 'server';
  stage: string;
  parleyUs: number;
  /** The floor's cost for the same step; 0 where the floor has no such step. */
  floorUs: number;
}

const CLIENT = 'stage-client';
const SERVER = 'stage-server';
const ACTION = 'bench.echo';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

interface Sent {
  type: number;
  flags: number;
  stream: number;
  body: Uint8Array;
}

/** A Mesh that is always connected to everyone and keeps the last frame sent. */
function stubMesh(): { mesh: Mesh; last: () => Sent } {
  let last: Sent | undefined;
  const mesh = {
    send(_peer: string, type: number, flags: number, stream: number, body: Uint8Array) {
      last = { type, flags, stream, body };
    },
    isConnected: () => true,
    peerIdentity: () => undefined,
    peerPrincipal: () => undefined,
  } as unknown as Mesh;
  return { mesh, last: () => last! };
}

/** CPU µs per iteration of `fn`, median of `repeats` runs of `iterations` each. */
function cpuPerOp(iterations: number, repeats: number, fn: (i: number) => void): number {
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn(i);
    const used = process.cpuUsage(start);
    runs.push((used.user + used.system) / iterations);
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)]!;
}

function framed(type: PacketType, flags: number, stream: number, body: Uint8Array): Uint8Array {
  const batch = new FrameBatch();
  batch.append(type, flags, stream, body);
  return batch.take();
}

export function measureCallStages(payload: unknown, iterations = 20_000, repeats = 5): StageCost[] {
  // Caller: a dispatcher that knows one remote node serving the action.
  const callerMesh = stubMesh();
  const pending = new PendingCalls();
  const catalog = new Catalog();
  catalog.upsert(
    {
      id: SERVER,
      address: '127.0.0.1:1',
      incarnation: 'x',
      version: 1,
      services: [{ name: 'bench', actions: ['echo'], events: [] }],
      meta: {},
    } as never,
    true,
  );
  const messenger = {} as Messenger;
  const noPolicy = new Authorizer({ nodeId: SERVER, logger: silent, clock: systemTimer });
  const callerLocal = new LocalServices();
  const callerParts = {
    nodeId: CLIENT,
    local: callerLocal,
    mesh: callerMesh.mesh,
    codec: msgpackCodec,
    logger: silent,
    timer: systemTimer,
    messenger,
    authorizer: noPolicy,
  };
  const dispatcher = new CallDispatcher({
    ...callerParts,
    catalog,
    pending,
    server: new RequestServer(callerParts),
    balancer: new RoundRobinBalancer(),
    requestTimeoutMs: 30_000,
  });
  // Server: a RequestServer hosting the echo.
  const serverMesh = stubMesh();
  const serverLocal = new LocalServices();
  serverLocal.add({ name: 'bench', actions: { echo: (params: unknown) => params } }, (_a, handler) => handler);
  const server = new RequestServer({
    nodeId: SERVER,
    local: serverLocal,
    mesh: serverMesh.mesh,
    codec: msgpackCodec,
    logger: silent,
    timer: systemTimer,
    messenger,
    authorizer: noPolicy,
  });

  // One real exchange, to get the bytes each stage works on.
  const call = () => dispatcher.outgoing(ACTION, payload, { timeout: 10_000 });
  void dispatcher.dispatch(call());
  const request = callerMesh.last();
  const requestBytes = framed(PacketType.REQUEST, request.flags, request.stream, request.body);
  const requestFrame: Frame = new FrameDecoder(1 << 24).push(requestBytes)[0]!;
  server.onRequest(CLIENT, requestFrame);
  const response = serverMesh.last();
  const responseBytes = framed(PacketType.RESPONSE, response.flags, response.stream, response.body);
  dispatcher.onResponse(SERVER, new FrameDecoder(1 << 24).push(responseBytes)[0]!);

  const stages: StageCost[] = [];
  const packr = new Packr({ useRecords: false });
  const floorFrame = encodeFrame(packr, payload);
  const floorEncode = cpuPerOp(iterations, repeats, () => encodeFrame(packr, payload));
  const floorReader = new FrameReader(packr, () => {});
  const floorRead = cpuPerOp(iterations, repeats, () => floorReader.push(floorFrame));

  // Caller: route, envelope, encode, pending entry, then the response's decode and settle, one call at a time
  // (as at concurrency 1); the encode and decode are measured alone and shown as their own stages.
  const responseDecodeUs = cpuPerOp(iterations, repeats, () => msgpackCodec.decode(response.body));
  const encodeUs = cpuPerOp(iterations, repeats, () =>
    msgpackCodec.encode(
      encodeRequest({ action: ACTION, params: payload, meta: null, timeoutMs: 10_000, options: null }),
    ),
  );
  const callerRoundUs = cpuPerOp(iterations, repeats, () => {
    void dispatcher.dispatch(call());
    const stream = callerMesh.last().stream;
    dispatcher.onResponse(SERVER, {
      ...requestFrame,
      type: PacketType.RESPONSE,
      flags: response.flags,
      stream,
      body: response.body,
    });
  });
  stages.push({
    side: 'caller',
    stage: 'call + route + pending entry + settle',
    parleyUs: callerRoundUs - encodeUs - responseDecodeUs,
    floorUs: 0,
  });
  stages.push({
    side: 'caller',
    stage: 'encode request (envelope + payload)',
    parleyUs: encodeUs,
    floorUs: floorEncode,
  });
  const batch = new FrameBatch();
  stages.push({
    side: 'caller',
    stage: 'frame + copy out (FrameBatch)',
    parleyUs: cpuPerOp(iterations, repeats, () => {
      batch.append(PacketType.REQUEST, request.flags, request.stream, request.body);
      batch.take();
    }),
    floorUs: 0,
  });

  // Server.
  const decoder = new FrameDecoder(1 << 24);
  stages.push({
    side: 'server',
    stage: 'read: reassemble frame (FrameDecoder)',
    parleyUs: cpuPerOp(iterations, repeats, () => decoder.push(requestBytes)),
    floorUs: floorRead,
  });
  const decodeUs = cpuPerOp(iterations, repeats, () => parseRequest(msgpackCodec.decode(requestFrame.body)));
  const responseEncodeUs = cpuPerOp(iterations, repeats, () => msgpackCodec.encode(payload));
  const onRequestUs = cpuPerOp(iterations, repeats, () => server.onRequest(CLIENT, requestFrame));
  stages.push({ side: 'server', stage: 'decode request', parleyUs: decodeUs, floorUs: 0 });
  stages.push({
    side: 'server',
    stage: 'dispatch + context + handler + finish',
    parleyUs: onRequestUs - decodeUs - responseEncodeUs,
    floorUs: 0,
  });
  stages.push({ side: 'server', stage: 'encode response', parleyUs: responseEncodeUs, floorUs: floorEncode });
  stages.push({
    side: 'server',
    stage: 'frame + copy out (FrameBatch)',
    parleyUs: cpuPerOp(iterations, repeats, () => {
      batch.append(PacketType.RESPONSE, response.flags, response.stream, response.body);
      batch.take();
    }),
    floorUs: 0,
  });

  // Caller again: read and decode the response (its settle is in the first stage).
  stages.push({
    side: 'caller',
    stage: 'read: reassemble frame (FrameDecoder)',
    parleyUs: cpuPerOp(iterations, repeats, () => decoder.push(responseBytes)),
    floorUs: floorRead,
  });
  stages.push({ side: 'caller', stage: 'decode response', parleyUs: responseDecodeUs, floorUs: 0 });
  return stages.map((s) => ({ ...s, parleyUs: Math.max(0, s.parleyUs) }));
}
