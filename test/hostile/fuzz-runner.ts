/**
 * The fuzz loop: `runFuzz({ frames, seed })` feeds `frames` inputs (frame bodies, or streams of
 * frames) to the targets of fuzz-targets.ts and checks, after every one of them, that
 * - nothing but a typed refusal was thrown (ParleyError, FrameError),
 * - Object.prototype and Array.prototype gained no property (prototype pollution),
 * - no decoded object got a prototype from the input,
 * - the heap stays within `maxHeapGrowthBytes` of where it started (sampled; checked after a GC),
 * - with `slowMs`, no single input took longer (a CPU bomb).
 * On the first finding it stops, shrinks the input (delta debugging: drop chunks while the same
 * finding reproduces) and returns both, with the seed and iteration that replay it.
 *
 * Invariant: iteration i draws only from `new Prng(seed * 2^20 + i)`, so one iteration replays
 * on its own (`--seed S --at I`) without running the ones before it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Prng } from '../../src/base/random.js';
import { nextInput } from './fuzz-inputs.js';
import { Finding, type FindingKind, type Tally, Targets } from './fuzz-targets.js';

export interface FuzzOptions {
  /** How many inputs to run. */
  readonly frames: number;
  readonly seed: number;
  /** Run only iteration `at` (a replay of a reported finding). */
  readonly at?: number;
  /** Largest heap growth accepted, measured after a GC (default 256 MiB). */
  readonly maxHeapGrowthBytes?: number;
  /** An input that takes longer than this is a finding (default: not checked). */
  readonly slowMs?: number;
  /** Called about every `progressEvery` inputs (default 10,000). */
  readonly onProgress?: (done: number, result: FuzzResult) => void;
  readonly progressEvery?: number;
  /** Targets left out (see Targets); default none. */
  readonly skip?: readonly string[];
}

export interface FuzzReport {
  readonly kind: FindingKind;
  readonly target: string;
  readonly message: string;
  readonly seed: number;
  readonly iteration: number;
  /** 'body' (codec + parsers + boundaries) or 'stream' (bytes into a FrameDecoder). */
  readonly mode: 'body' | 'stream';
  readonly json: boolean;
  readonly input: Uint8Array;
  readonly minimized: Uint8Array;
}

export interface FuzzResult {
  inputs: number;
  /** Frames the FrameDecoder returned from streams, plus bodies fed directly. */
  frames: number;
  elapsedMs: number;
  readonly tally: Tally;
  heapStartBytes: number;
  heapPeakBytes: number;
  slowestMs: number;
  finding: FuzzReport | undefined;
}

/** A GC function when the process allows one (node --expose-gc, or v8 flags at run time). */
const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

const protoSize = () => Object.getOwnPropertyNames(Object.prototype).length;
const arrayProtoSize = () => Object.getOwnPropertyNames(Array.prototype).length;

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const targets = new Targets(options.skip);
  gc?.();
  const heapStart = process.memoryUsage().heapUsed;
  const result: FuzzResult = {
    inputs: 0,
    frames: 0,
    elapsedMs: 0,
    tally: targets.tally,
    heapStartBytes: heapStart,
    heapPeakBytes: heapStart,
    slowestMs: 0,
    finding: undefined,
  };
  const maxGrowth = options.maxHeapGrowthBytes ?? 256 * 1024 * 1024;
  const every = options.progressEvery ?? 10_000;
  const objectProps = protoSize();
  const arrayProps = arrayProtoSize();
  // Refusals are the common case and their stack traces are never read: capturing them was a
  // seventh of the run. Restored when the run ends.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const started = performance.now();
  const first = options.at ?? 0;
  const last = options.at === undefined ? options.frames : options.at + 1;
  try {
    for (let i = first; i < last; i++) {
      const r = new Prng(options.seed * 2 ** 20 + i);
      const stream = r.chance(0.3);
      const input = stream ? undefined : nextInput(r);
      const bytes = stream ? Targets.streamOf(r) : input!.bytes;
      const t0 = performance.now();
      try {
        if (stream) result.frames += await targets.frames(bytes, r);
        else {
          result.frames++;
          await targets.body(input!, r);
          if (r.chance(0.1)) targets.sealed(input!.bytes, r);
        }
        if (protoSize() !== objectProps || arrayProtoSize() !== arrayProps || ({} as { polluted?: unknown }).polluted)
          throw new Finding('prototype-poisoned', 'Object.prototype', 'a property was added to a built-in prototype');
        const ms = performance.now() - t0;
        if (ms > result.slowestMs) result.slowestMs = ms;
        if (options.slowMs !== undefined && ms > options.slowMs)
          throw new Finding('slow', input?.source ?? 'stream', `one input took ${ms.toFixed(0)} ms`);
      } catch (err) {
        if (!(err instanceof Finding)) throw err;
        const json = input?.json ?? false;
        const mode = stream ? 'stream' : 'body';
        result.finding = {
          kind: err.kind,
          target: err.target,
          message: err.message,
          seed: options.seed,
          iteration: i,
          mode,
          json,
          input: bytes,
          minimized: await minimize(bytes, mode, json, err),
        };
        return result;
      }
      result.inputs++;
      if (i % 1000 === 999) {
        const heap = process.memoryUsage().heapUsed;
        if (heap > result.heapPeakBytes) result.heapPeakBytes = heap;
        if (heap - heapStart > maxGrowth) {
          gc?.();
          const after = process.memoryUsage().heapUsed;
          if (after - heapStart > maxGrowth) {
            const f = new Finding('memory', 'heap', `heap grew by ${mib(after - heapStart)} MiB over ${i + 1} inputs`);
            result.finding = {
              kind: f.kind,
              target: f.target,
              message: f.message,
              seed: options.seed,
              iteration: i,
              mode: stream ? 'stream' : 'body',
              json: input?.json ?? false,
              input: bytes,
              minimized: bytes,
            };
            return result;
          }
        }
      }
      if (options.onProgress && result.inputs % every === 0) {
        result.elapsedMs = performance.now() - started;
        options.onProgress(result.inputs, result);
      }
    }
    return result;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    result.elapsedMs = performance.now() - started;
    targets.close();
  }
}

/** Whether `bytes` still produce a finding of the same kind in the same target. */
async function reproduces(bytes: Uint8Array, mode: 'body' | 'stream', json: boolean, like: Finding): Promise<boolean> {
  const targets = new Targets();
  const objectProps = protoSize();
  try {
    if (mode === 'stream') await targets.frames(bytes, undefined);
    else {
      await targets.body({ bytes, json, source: 'replay' }, undefined);
      targets.sealed(bytes, undefined);
    }
    if (like.kind === 'prototype-poisoned' && protoSize() !== objectProps) return true;
    return false;
  } catch (err) {
    return err instanceof Finding && err.kind === like.kind && err.target === like.target;
  } finally {
    targets.close();
  }
}

/** Delta debugging: removes ever smaller chunks while the finding reproduces (at most 2,000 tries). */
async function minimize(bytes: Uint8Array, mode: 'body' | 'stream', json: boolean, like: Finding): Promise<Uint8Array> {
  if (like.kind === 'memory' || like.kind === 'slow' || !(await reproduces(bytes, mode, json, like))) return bytes;
  let current = bytes;
  let tries = 0;
  for (let chunk = Math.max(1, current.length >> 1); chunk >= 1 && tries < 2000; chunk >>= 1) {
    for (let at = 0; at < current.length && tries < 2000; ) {
      const candidate = new Uint8Array(current.length - Math.min(chunk, current.length - at));
      candidate.set(current.subarray(0, at));
      candidate.set(current.subarray(at + chunk), at);
      tries++;
      if (await reproduces(candidate, mode, json, like)) current = candidate;
      else at += chunk;
    }
  }
  return current;
}

export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

export function hex(bytes: Uint8Array, max = 512): string {
  const shown = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}
