/**
 * The crypto part of `npm run bench -- security`: what message protection costs per message and
 * per handshake, in this process, with no network (issue 11 §3 and §5).
 *
 *  1. Per message, at 64 B, 1 KiB and 64 KiB, for AES-256-GCM and ChaCha20-Poly1305: seal
 *     (FrameSealer), open (FrameOpener), seal + open; the same through node:crypto alone (one
 *     createCipheriv + update + final + getAuthTag, and the decipher) to show what Parley's framing
 *     adds; and the floor, a bare copy of the same bytes into a new buffer (what a cipher that cost
 *     nothing would still cost). Target: seal + open < 5 µs for a small (64 B) message.
 *     Heap bytes allocated per seal + open (V8's GC profiler) show how allocation-light it is.
 *  2. SealedConnection over a synchronous pipe, 64 B messages, 1, 10 or 100 frames sent per tick:
 *     seal + check + open + deliver per message, the AEAD shared by a tick's frames.
 *  3. Handshake crypto, per side: X25519 key pair, X25519 DH, HKDF (deriveSessionKeys), Ed25519
 *     sign and verify.
 *
 * Times are CPU time of this process (process.cpuUsage), not wall time. Every cell runs `rounds`
 * times, cells interleaved, and the median round is shown.
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { AEAD_ALGORITHMS, type AeadAlgorithm, DEFAULT_AEAD } from '../src/base/aead.js';
import type { Connection, ConnectionHandlers } from '../src/transport/connection.js';
import { FrameOpener, FrameSealer } from '../src/transport/security/frame-sealer.js';
import { SealedConnection } from '../src/transport/security/sealed-connection.js';
import { deriveSessionKeys, generateEphemeral } from '../src/transport/security/session-keys.js';
import { type Frame, PacketType } from '../src/wire/frame.js';
import { formatTable } from './harness/table.js';

export interface CryptoBenchOptions {
  /** Measured milliseconds per cell and round. */
  readonly cellMs: number;
  readonly rounds: number;
  readonly sizes: readonly number[];
}

export const DEFAULT_CRYPTO_OPTIONS: CryptoBenchOptions = { cellMs: 400, rounds: 5, sizes: [64, 1024, 65536] };

/** Frames per tick for the SealedConnection cells, and their size. */
const BATCHES = [1, 10, 100];
const BATCH_MESSAGE_BYTES = 64;

/** Small-message target (issue 11 §5): seal + open under 5 µs. */
const TARGET_NS = 5000;

/**
 * CPU nanoseconds this process spends (user + system, all threads, process.cpuUsage) —
 * not wall time: on the shared machine other sessions' load stretches wall time several-fold
 * while the CPU a message costs stays put.
 */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/** Runs `op` in batches until it has used `ms` of CPU time; returns CPU ns per call. */
function timeIt(op: (i: number) => void, ms: number): number {
  for (let i = 0; i < 200; i++) op(i); // warm the JIT on this shape
  let calls = 0;
  let batch = 16;
  const start = cpuNs();
  const end = start + ms * 1e6;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) op(calls + i);
    calls += batch;
    now = cpuNs();
    if (batch < 4096) batch *= 2;
  }
  return (now - start) / calls;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const AAD = Uint8Array.from([1, 2, 0, 0, 0, 0, 1]);

/** Fresh sealer/opener pairs so a cell never runs out of epoch; the strict opener follows the sealer. */
function sealOpenPair(algorithm: AeadAlgorithm) {
  const key = randomBytes(32);
  return { sealer: new FrameSealer(key, { algorithm }), opener: new FrameOpener(key, { algorithm }) };
}

/** The same AEAD straight through node:crypto, no framing: the lower bound of this design. */
function rawSealOpen(algorithm: AeadAlgorithm, key: KeyObject, plaintext: Uint8Array, counter: number): void {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(counter >>> 0, 8);
  const gcm = algorithm === 'aes-256-gcm';
  const cipher = gcm
    ? createCipheriv(algorithm, key, nonce, { authTagLength: 16 })
    : createCipheriv(algorithm, key, nonce, { authTagLength: 16 });
  cipher.setAAD(AAD, { plaintextLength: plaintext.length });
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  const tag = cipher.getAuthTag();
  const decipher = gcm
    ? createDecipheriv(algorithm, key, nonce, { authTagLength: 16 })
    : createDecipheriv(algorithm, key, nonce, { authTagLength: 16 });
  decipher.setAAD(AAD, { plaintextLength: ciphertext.length });
  decipher.setAuthTag(tag);
  decipher.update(ciphertext);
  decipher.final();
}

interface MessageCell {
  size: number;
  algorithm: AeadAlgorithm;
  seal: number[];
  open: number[];
  sealOpen: number[];
  raw: number[];
  heapBytes: number[];
}

/**
 * JavaScript heap bytes allocated per call of `op` over `calls` calls: what the collections
 * during the loop freed plus what the heap grew by (off-heap Buffer memory not included; a
 * Buffer's JS object is).
 */
function heapBytesPerCall(op: () => void, calls: number): number {
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < calls; i++) op();
  const after = getHeapStatistics().used_heap_size;
  let freed = 0;
  for (const gc of profiler.stop().statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  }
  return (freed + after - before) / calls;
}

function measureMessage(cell: MessageCell, ms: number): void {
  const plaintext = randomBytes(cell.size);
  const { algorithm } = cell;
  {
    const { sealer } = sealOpenPair(algorithm);
    cell.seal.push(timeIt(() => sealer.seal(AAD, plaintext), ms));
  }
  cell.open.push(timeOpens(algorithm, plaintext, ms));
  {
    const { sealer, opener } = sealOpenPair(algorithm);
    const op = () => opener.open(AAD, sealer.seal(AAD, plaintext));
    cell.sealOpen.push(timeIt(op, ms));
    cell.heapBytes.push(heapBytesPerCall(op, 20_000));
  }
  {
    const key = createSecretKey(randomBytes(32));
    cell.raw.push(timeIt((i) => rawSealOpen(algorithm, key, plaintext, i), ms));
  }
}

/** Opens need distinct messages in counter order: seal a chunk untimed, then time opening it. */
function timeOpens(algorithm: AeadAlgorithm, plaintext: Uint8Array, ms: number): number {
  const { sealer, opener } = sealOpenPair(algorithm);
  const chunk: Uint8Array[] = new Array(512);
  let timedNs = 0;
  let opened = 0;
  let rounds = 0;
  while (timedNs < ms * 1e6) {
    for (let i = 0; i < chunk.length; i++) chunk[i] = sealer.seal(AAD, plaintext);
    const start = cpuNs();
    for (let i = 0; i < chunk.length; i++) opener.open(AAD, chunk[i]!);
    if (rounds++ > 0) {
      timedNs += cpuNs() - start;
      opened += chunk.length;
    }
  }
  return timedNs / opened;
}

function measureCopy(size: number, ms: number): number {
  const source = randomBytes(size);
  let sink: Uint8Array = source;
  const ns = timeIt(() => {
    const out = Buffer.allocUnsafe(size);
    out.set(source, 0);
    sink = out;
  }, ms);
  if (sink.length !== size) throw new Error('unreachable');
  return ns;
}

/**
 * Two SealedConnections over a synchronous in-process pipe: what a connection's sealing adds per
 * message when `batch` frames are sent in one tick (concurrency 1 sends one; a busy connection
 * many). Frames are really encoded, sealed, opened, checked and delivered; no socket.
 */
class PipeEnd implements Connection {
  static nextId = 1;
  readonly id = PipeEnd.nextId++;
  readonly outbound = true;
  readonly remoteAddress = 'pipe';
  readonly peerIdentity = undefined;
  readonly pendingBytes = 0;
  readonly closed = false;
  peer: PipeEnd | undefined;
  private handlers: ConnectionHandlers | undefined;
  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }
  send(type: PacketType, flags: number, stream: number, body: Uint8Array): void {
    const frame: Frame = { version: 1, type, flags, stream, body };
    this.peer!.handlers!.onFrame(frame);
  }
  flush(): void {}
  close(): void {}
  destroy(): void {}
}

function measureSealedBatch(
  algorithm: AeadAlgorithm,
  batch: number,
  size: number,
  ms: number,
): { ns: number; heapBytes: number } {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  const sender = new SealedConnection(a);
  const receiver = new SealedConnection(b);
  let delivered = 0;
  receiver.setHandlers({ onFrame: () => delivered++, onClose: () => {} });
  const key = randomBytes(32);
  const other = randomBytes(32);
  sender.sealOutbound({ algorithm, send: key, receive: other });
  receiver.openInbound({ algorithm, send: other, receive: key });
  const body = randomBytes(size);
  const op = () => {
    for (let i = 0; i < batch; i++) sender.send(PacketType.EVENT, 0, i, body);
    sender.flush();
  };
  const perBatch = timeIt(op, ms);
  const heapBytes = heapBytesPerCall(op, Math.ceil(20_000 / batch)) / batch;
  if (delivered === 0) throw new Error('nothing was delivered through the sealed pipe');
  return { ns: perBatch / batch, heapBytes };
}

interface HandshakeCell {
  name: string;
  op: () => void;
  samples: number[];
}

function handshakeCells(): HandshakeCell[] {
  const ed = generateKeyPairSync('ed25519');
  const challenge = randomBytes(64);
  const signature = sign(null, challenge, ed.privateKey);
  const a = generateEphemeral();
  const b = generateEphemeral();
  const xa = generateKeyPairSync('x25519');
  const xb = generateKeyPairSync('x25519');
  const transcript = randomBytes(512);
  return [
    { name: 'X25519 ephemeral key pair (generateEphemeral)', op: () => generateEphemeral(), samples: [] },
    {
      name: 'X25519 DH (diffieHellman)',
      op: () => diffieHellman({ privateKey: xa.privateKey, publicKey: xb.publicKey }),
      samples: [],
    },
    {
      name: 'DH + 2× HKDF-SHA256 (deriveSessionKeys)',
      op: () => deriveSessionKeys(a, b.publicKey, transcript, true),
      samples: [],
    },
    { name: 'Ed25519 sign (64 B challenge)', op: () => sign(null, challenge, ed.privateKey), samples: [] },
    { name: 'Ed25519 verify', op: () => verify(null, challenge, ed.publicKey, signature), samples: [] },
  ];
}

const us = (ns: number) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
const mbps = (size: number, ns: number) => ((size / ns) * 1000).toFixed(0);

export async function runCryptoBench(options: CryptoBenchOptions = DEFAULT_CRYPTO_OPTIONS): Promise<void> {
  const cells: MessageCell[] = options.sizes.flatMap((size) =>
    AEAD_ALGORITHMS.map((algorithm) => ({ size, algorithm, seal: [], open: [], sealOpen: [], raw: [], heapBytes: [] })),
  );
  const copies = new Map<number, number[]>(options.sizes.map((s) => [s, []]));
  const handshake = handshakeCells();
  const batchCells = AEAD_ALGORITHMS.flatMap((algorithm) =>
    BATCHES.map((batch) => ({ algorithm, batch, samples: [] as number[], heapBytes: [] as number[] })),
  );
  for (let round = 0; round < options.rounds; round++) {
    for (const cell of cells) measureMessage(cell, options.cellMs);
    for (const cell of batchCells) {
      const { ns, heapBytes } = measureSealedBatch(cell.algorithm, cell.batch, BATCH_MESSAGE_BYTES, options.cellMs);
      cell.samples.push(ns);
      cell.heapBytes.push(heapBytes);
    }
    for (const size of options.sizes) copies.get(size)!.push(measureCopy(size, options.cellMs));
    for (const cell of handshake) cell.samples.push(timeIt(cell.op, options.cellMs / 2));
  }

  console.log(
    `\n1. Per message (CPU µs, median of ${options.rounds} rounds of ${options.cellMs} ms per cell); default algorithm: ${DEFAULT_AEAD}`,
  );
  const rows = cells.map((c) => {
    const sealOpen = median(c.sealOpen);
    const copy = median(copies.get(c.size)!);
    return [
      `${c.size} B ${c.algorithm}`,
      us(median(c.seal)),
      us(median(c.open)),
      us(sealOpen),
      mbps(c.size, sealOpen),
      us(median(c.raw)),
      us(copy),
      median(c.heapBytes).toFixed(0),
    ];
  });
  console.log(
    formatTable(
      ['size, algorithm', 'seal', 'open', 'seal+open', 'MB/s', 'node:crypto alone', 'copy floor', 'heap B/msg'],
      rows,
    ),
  );
  const small = Math.min(...options.sizes);
  const best = Math.min(...cells.filter((c) => c.size === small).map((c) => median(c.sealOpen)));
  console.log(
    `target: seal + open of a ${small} B message < ${TARGET_NS / 1000} µs — best ${us(best)} µs: ${best < TARGET_NS ? 'met' : 'MISSED'}`,
  );
  for (const size of options.sizes) {
    const [x, y] = AEAD_ALGORITHMS.map((a) =>
      median(cells.find((c) => c.size === size && c.algorithm === a)!.sealOpen),
    );
    const faster = x! <= y! ? AEAD_ALGORITHMS[0] : AEAD_ALGORITHMS[1];
    console.log(`  ${size} B: faster is ${faster} (${(Math.max(x!, y!) / Math.min(x!, y!)).toFixed(2)}×)`);
  }

  console.log(
    `\n2. SealedConnection, ${BATCH_MESSAGE_BYTES} B messages, seal + open per message (CPU µs, median of ${options.rounds} rounds): a tick's frames share one AEAD operation`,
  );
  console.log(
    formatTable(
      ['frames per tick', ...AEAD_ALGORITHMS.map((a) => `${a} µs`), ...AEAD_ALGORITHMS.map((a) => `${a} heap B/msg`)],
      BATCHES.map((batch) => {
        const cellOf = (a: AeadAlgorithm) => batchCells.find((c) => c.algorithm === a && c.batch === batch)!;
        return [
          String(batch),
          ...AEAD_ALGORITHMS.map((a) => us(median(cellOf(a).samples))),
          ...AEAD_ALGORITHMS.map((a) => median(cellOf(a).heapBytes).toFixed(0)),
        ];
      }),
    ),
  );
  const busiest = Math.max(...BATCHES);
  const bestBatched = Math.min(...batchCells.filter((c) => c.batch === busiest).map((c) => median(c.samples)));
  console.log(
    `target: < ${TARGET_NS / 1000} µs per small message — ${busiest} frames per tick: ${us(bestBatched)} µs: ${bestBatched < TARGET_NS ? 'met' : 'MISSED'}; 1 frame per tick: see the row above`,
  );

  console.log(`\n3. Handshake crypto, per side (CPU µs, median of ${options.rounds} rounds)`);
  console.log(
    formatTable(
      ['operation', 'µs', 'ops/s'],
      handshake.map((c) => [c.name, us(median(c.samples)), (1e9 / median(c.samples)).toFixed(0)]),
    ),
  );
  const [pair, , derive, signOp, verifyOp] = handshake.map((c) => median(c.samples));
  const total = pair! + derive! + signOp! + verifyOp!;
  console.log(
    `one side of an authenticated handshake (key pair + derive + sign + verify): ${us(total)} µs ≈ ${(1e9 / total).toFixed(0)} handshakes/s per core`,
  );
}
