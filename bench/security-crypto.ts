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
 *  4. Where one small message's seal + open goes, step by step through node:crypto (the objects,
 *     the AAD, the data, the tag): the floor under Parley's cost at one frame per tick.
 *
 * Times are CPU time of this process (process.cpuUsage), not wall time. Every cell runs `rounds`
 * times, cells interleaved, and the median round is shown; heap bytes are counted in the first round
 * only, over about one cell's worth of calls. Progress goes to stderr, one line per section and round.
 * Defaults: 3 rounds of 200 ms cells (about a minute); `--quick` (CI size): 1 round of 30 ms cells at
 * 64 B and 1 KiB (a few seconds).
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
  /** Where progress lines go (default: stderr). */
  readonly progress?: (line: string) => void;
  /** Where the result tables go (default: stdout). */
  readonly print?: (text: string) => void;
}

export const DEFAULT_CRYPTO_OPTIONS: CryptoBenchOptions = { cellMs: 200, rounds: 3, sizes: [64, 1024, 65536] };
/** `--quick`: a CI-sized run that exercises every section. */
export const QUICK_CRYPTO_OPTIONS: CryptoBenchOptions = { cellMs: 30, rounds: 1, sizes: [64, 1024] };

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

/**
 * Runs `op` in batches until it has used `ms` of CPU time; returns CPU ns per call. Batches grow
 * while they are short, and never past a quarter of the time left, so a slow op (64 KiB) does not
 * overshoot its cell several-fold.
 */
function timeIt(op: (i: number) => void, ms: number): number {
  for (let i = 0; i < 50; i++) op(i); // warm the JIT on this shape
  let calls = 0;
  let batch = 4;
  const start = cpuNs();
  const end = start + ms * 1e6;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) op(calls + i);
    calls += batch;
    now = cpuNs();
    const perCall = (now - start) / calls;
    batch = Math.max(1, Math.min(4096, batch * 2, Math.floor((end - now) / 4 / Math.max(perCall, 1))));
  }
  return (now - start) / calls;
}

/** Calls for a heap count: about one cell's worth of CPU at `nsPerCall`, at least 100. */
function heapCalls(nsPerCall: number, ms: number): number {
  return Math.max(100, Math.min(20_000, Math.round((ms * 1e6) / Math.max(nsPerCall, 1))));
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
  nonce.writeUInt32BE(counter >>> 0, 8); // distinct nonces, as a sealer's counter gives
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

function measureMessage(cell: MessageCell, ms: number, countHeap: boolean): void {
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
    const ns = timeIt(op, ms);
    cell.sealOpen.push(ns);
    if (countHeap) cell.heapBytes.push(heapBytesPerCall(op, heapCalls(ns, ms)));
  }
  {
    const key = createSecretKey(randomBytes(32));
    cell.raw.push(timeIt((i) => rawSealOpen(algorithm, key, plaintext, i), ms));
  }
}

/** Opens need distinct messages in counter order: seal a chunk untimed, then time opening it. */
function timeOpens(algorithm: AeadAlgorithm, plaintext: Uint8Array, ms: number): number {
  const { sealer, opener } = sealOpenPair(algorithm);
  const chunk: Uint8Array[] = new Array(plaintext.length > 4096 ? 64 : 512);
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
  countHeap: boolean,
): { ns: number; heapBytes: number | undefined } {
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
  const heapBytes = countHeap ? heapBytesPerCall(op, heapCalls(perBatch, ms)) / batch : undefined;
  if (delivered === 0) throw new Error('nothing was delivered through the sealed pipe');
  return { ns: perBatch / batch, heapBytes };
}

/**
 * One small message's seal + open through node:crypto, cut into cumulative steps: each step does
 * what the one before did and one thing more, so the differences say what each part costs. The
 * last step is the whole AEAD (the "node:crypto alone" column); the row after it is Parley's.
 */
interface BreakdownStep {
  readonly name: string;
  readonly op: (i: number) => void;
  readonly samples: number[];
}

function breakdownSteps(algorithm: AeadAlgorithm, size: number): BreakdownStep[] {
  const key = createSecretKey(randomBytes(32));
  const plaintext = randomBytes(size);
  const nonce = Buffer.alloc(12);
  const gcm = algorithm === 'aes-256-gcm';
  const cipherOf = (i: number) => {
    nonce.writeUInt32BE(i >>> 0, 8); // distinct nonces, as a sealer's counter gives
    return gcm
      ? createCipheriv(algorithm, key, nonce, { authTagLength: 16 })
      : createCipheriv(algorithm, key, nonce, { authTagLength: 16 });
  };
  const decipherOf = () =>
    gcm
      ? createDecipheriv(algorithm, key, nonce, { authTagLength: 16 })
      : createDecipheriv(algorithm, key, nonce, { authTagLength: 16 });
  const { sealer, opener } = sealOpenPair(algorithm);
  const step = (name: string, op: (i: number) => void): BreakdownStep => ({ name, op, samples: [] });
  return [
    step('createCipheriv + createDecipheriv', (i) => {
      cipherOf(i);
      decipherOf();
    }),
    step('+ setAAD on both', (i) => {
      cipherOf(i).setAAD(AAD, { plaintextLength: size });
      decipherOf().setAAD(AAD, { plaintextLength: size });
    }),
    step('+ update on both (no tag yet)', (i) => {
      const c = cipherOf(i);
      c.setAAD(AAD, { plaintextLength: size });
      const ciphertext = c.update(plaintext);
      const d = decipherOf();
      d.setAAD(AAD, { plaintextLength: size });
      d.update(ciphertext);
    }),
    step('+ final, getAuthTag, setAuthTag (node:crypto alone)', (i) => rawSealOpen(algorithm, key, plaintext, i)),
    step('Parley FrameSealer.seal + FrameOpener.open', () => opener.open(AAD, sealer.seal(AAD, plaintext))),
  ];
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
  const breakdown = breakdownSteps(DEFAULT_AEAD, Math.min(...options.sizes));
  const print = options.print ?? ((text: string) => console.log(text));
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const section = (round: number, what: string, run: () => void) => {
    const from = Date.now();
    run();
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    progress(
      `  crypto round ${round + 1}/${options.rounds}: ${what} (${s(Date.now() - from)}; ${s(Date.now() - started)} so far)`,
    );
  };
  for (let round = 0; round < options.rounds; round++) {
    const countHeap = round === 0;
    for (const cell of cells) {
      section(round, `per message, ${cell.size} B ${cell.algorithm}`, () =>
        measureMessage(cell, options.cellMs, countHeap),
      );
    }
    section(round, 'SealedConnection batches', () => {
      for (const cell of batchCells) {
        const { ns, heapBytes } = measureSealedBatch(
          cell.algorithm,
          cell.batch,
          BATCH_MESSAGE_BYTES,
          options.cellMs,
          countHeap,
        );
        cell.samples.push(ns);
        if (heapBytes !== undefined) cell.heapBytes.push(heapBytes);
      }
    });
    section(round, 'copy floor, handshake crypto, one message step by step', () => {
      for (const size of options.sizes) copies.get(size)!.push(measureCopy(size, options.cellMs));
      for (const cell of handshake) cell.samples.push(timeIt(cell.op, options.cellMs / 2));
      for (const step of breakdown) step.samples.push(timeIt(step.op, options.cellMs / 2));
    });
  }

  print(
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
  print(
    formatTable(
      ['size, algorithm', 'seal', 'open', 'seal+open', 'MB/s', 'node:crypto alone', 'copy floor', 'heap B/msg'],
      rows,
    ),
  );
  const small = Math.min(...options.sizes);
  const best = Math.min(...cells.filter((c) => c.size === small).map((c) => median(c.sealOpen)));
  print(
    `target: seal + open of a ${small} B message < ${TARGET_NS / 1000} µs — best ${us(best)} µs: ${best < TARGET_NS ? 'met' : 'MISSED'}`,
  );
  for (const size of options.sizes) {
    const [x, y] = AEAD_ALGORITHMS.map((a) =>
      median(cells.find((c) => c.size === size && c.algorithm === a)!.sealOpen),
    );
    const faster = x! <= y! ? AEAD_ALGORITHMS[0] : AEAD_ALGORITHMS[1];
    print(`  ${size} B: faster is ${faster} (${(Math.max(x!, y!) / Math.min(x!, y!)).toFixed(2)}×)`);
  }

  print(
    `\n2. SealedConnection, ${BATCH_MESSAGE_BYTES} B messages, seal + open per message (CPU µs, median of ${options.rounds} rounds): a tick's frames share one AEAD operation`,
  );
  print(
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
  print(
    `target: < ${TARGET_NS / 1000} µs per small message — ${busiest} frames per tick: ${us(bestBatched)} µs: ${bestBatched < TARGET_NS ? 'met' : 'MISSED'}; 1 frame per tick: see the row above`,
  );

  print(`\n3. Handshake crypto, per side (CPU µs, median of ${options.rounds} rounds)`);
  print(
    formatTable(
      ['operation', 'µs', 'ops/s'],
      handshake.map((c) => [c.name, us(median(c.samples)), (1e9 / median(c.samples)).toFixed(0)]),
    ),
  );
  const [pair, , derive, signOp, verifyOp] = handshake.map((c) => median(c.samples));
  const total = pair! + derive! + signOp! + verifyOp!;
  print(
    `one side of an authenticated handshake (key pair + derive + sign + verify): ${us(total)} µs ≈ ${(1e9 / total).toFixed(0)} handshakes/s per core`,
  );

  printBreakdown(breakdown, Math.min(...options.sizes), options.rounds, print);
}

function printBreakdown(steps: BreakdownStep[], size: number, rounds: number, print: (text: string) => void): void {
  print(
    `\n4. Where one ${size} B message's seal + open goes (${DEFAULT_AEAD}, CPU µs, median of ${rounds} rounds; each step adds to the one above)`,
  );
  let before = 0;
  const rows = steps.map((step, i) => {
    const total = median(step.samples);
    const row = [step.name, us(total), i === 0 ? '' : `${total - before >= 0 ? '+' : ''}${us(total - before)}`];
    before = total;
    return row;
  });
  print(formatTable(['step', 'µs', 'added'], rows));
  const node = median(steps[steps.length - 2]!.samples);
  const parley = median(steps[steps.length - 1]!.samples);
  const objects = median(steps[0]!.samples);
  print(
    `node:crypto alone costs ${us(node)} µs, ${us(objects)} µs of it making the cipher and decipher objects; Parley's framing adds ${us(parley - node)} µs. ` +
      `Under ${TARGET_NS / 1000} µs per message is ${node < TARGET_NS ? 'within' : 'below'} Node's own per-call floor on this machine${node < TARGET_NS ? '' : ': only batching (section 2) reaches it'}.`,
  );
}
