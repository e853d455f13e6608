/**
 * The decoders and boundaries the fuzzer drives, each as a peer reaches it:
 * - the body codecs (MessagePack, JSON), then every packet parser on what they decoded;
 * - the `$raft` boundary (`checkWireMessage`) on each message of a step;
 * - the KV command boundary (`commandToPropose`), then what every member does with the proposed
 *   bytes: `decodeCommand` and apply on a real state machine;
 * - the `$kv` and `$cluster` services themselves, on a fake member that records what would be
 *   proposed;
 * - FrameDecoder on streams of frames cut into random chunks, each frame dispatched by its type.
 *
 * A target reports a finding by throwing `Finding`; a refusal (a ParleyError, or a FrameError from
 * the frame decoder) is the expected outcome for bad input and counted, anything else thrown is a
 * finding ('untyped-error'), and so is a ParleyError INTERNAL ('internal-error': a bug by definition).
 */
import type { Prng } from '../../src/base/random.js';
import { createClusterService } from '../../src/cluster/server/cluster-service.js';
import type { KvMember } from '../../src/cluster/server/kv-member.js';
import { createKvService } from '../../src/cluster/server/kv-service.js';
import { commandToPropose, decodeCommand } from '../../src/kv/command-codec.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { DEFAULT_LIMITS } from '../../src/kv/limits.js';
import type { Context } from '../../src/node/context.js';
import type { ServiceDefinition } from '../../src/node/service.js';
import { checkWireMessage } from '../../src/raft/core/wire-message.js';
import { FrameOpener, FrameSealer } from '../../src/transport/security/frame-sealer.js';
import {
  parseAuthBody,
  parseHelloAuth,
  verifyKeyProof,
  verifySecretProof,
} from '../../src/transport/security/handshake-auth.js';
import { canonicalPublicKey, generateNodeKeys, parsePublicKey } from '../../src/transport/security/node-keys.js';
import { codecForFlags, jsonCodec, msgpackCodec } from '../../src/wire/codec.js';
import { type Frame, FrameFlag, HEADER_SIZE, PacketType, writeHeader } from '../../src/wire/frame.js';
import { FrameDecoder, FrameError } from '../../src/wire/frame-decoder.js';
import {
  errorFromBody,
  parseError,
  parseEvent,
  parseGoodbye,
  parseGossip,
  parseHello,
  parseNodeInfo,
  parseOneway,
  parseRequest,
} from '../../src/wire/packets.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { concat, type FuzzInput, mutate, nextInput } from './fuzz-inputs.js';

export type FindingKind = 'untyped-error' | 'internal-error' | 'prototype-poisoned' | 'invariant' | 'memory' | 'slow';

/** Something the fuzzer found: the input is kept so it can be minimized and reported. */
export class Finding extends Error {
  constructor(
    readonly kind: FindingKind,
    readonly target: string,
    message: string,
  ) {
    super(`${kind} in ${target}: ${message}`);
  }
}

/** Counts of what the targets did, for the summary. */
export interface Tally {
  accepted: number;
  refused: number;
  /** Refusals by code, e.g. INVALID_ARGUMENT, RESOURCE_EXHAUSTED, frame:oversized. */
  readonly codes: Map<string, number>;
  /** The first message seen for each code and target, e.g. 'INTERNAL in $kv.put' → its message. */
  readonly samples: Map<string, string>;
}

export function newTally(): Tally {
  return { accepted: 0, refused: 0, codes: new Map(), samples: new Map() };
}

/** Runs `fn`; a typed refusal is counted, anything else thrown is a Finding. */
function guarded<T>(tally: Tally, target: string, fn: () => T): T | undefined {
  try {
    const out = fn();
    tally.accepted++;
    return out;
  } catch (err) {
    refusal(tally, target, err);
    return undefined;
  }
}

function refusal(tally: Tally, target: string, err: unknown): void {
  if (err instanceof Finding) throw err;
  let code: string;
  if (err instanceof ParleyError) {
    // INTERNAL means a bug, never a bad request: a peer must not be able to cause one.
    if (err.code === 'INTERNAL') throw new Finding('internal-error', target, err.message);
    code = err.code;
  } else if (err instanceof FrameError) code = `frame:${err.kind}`;
  else {
    const e = err as Error;
    throw new Finding('untyped-error', target, `${e?.name ?? typeof err}: ${e?.message ?? String(err)}`);
  }
  tally.refused++;
  tally.codes.set(code, (tally.codes.get(code) ?? 0) + 1);
  const sample = `${code} in ${target}`;
  if (!tally.samples.has(sample)) tally.samples.set(sample, (err as Error).message);
}

const ALLOWED_PROTOTYPES = new Set<unknown>([
  null,
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Buffer.prototype,
  Error.prototype,
  ParleyError.prototype,
  ...[EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError].map((e) => e.prototype),
  ...[
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((t) => t.prototype),
]);

/**
 * Throws a Finding when a decoded value holds an object whose prototype the bytes chose: a
 * `__proto__` key applied as a prototype instead of kept (or dropped) as data.
 */
export function checkPrototypes(value: unknown, target: string): void {
  const stack: unknown[] = [value];
  const seen = new Set<object>();
  for (let visits = 0; stack.length > 0 && visits < 2000; visits++) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (!ALLOWED_PROTOTYPES.has(Object.getPrototypeOf(v))) {
      throw new Finding('prototype-poisoned', target, 'a decoded object has a prototype chosen by the input');
    }
    if (ArrayBuffer.isView(v)) continue;
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
}

/** Every packet parser, on a value a codec decoded. */
export const PARSERS: readonly [string, (v: unknown) => unknown][] = [
  ['parseHelloAuth', parseHelloAuth],
  ['parseAuthBody', parseAuthBody],
  ['parseRequest', parseRequest],
  ['parseOneway', parseOneway],
  ['parseEvent', parseEvent],
  ['parseError', (v) => errorFromBody(parseError(v))],
  ['parseHello', parseHello],
  ['parseNodeInfo', parseNodeInfo],
  ['parseGoodbye', parseGoodbye],
  ['parseGossip', parseGossip],
];

/** A fake member: leads, proposes through the real command boundary into a real state machine. */
class FakeMember {
  sm = new KvStateMachine();
  private index = 0;
  /** What reached the log: (command bytes) or (membership change). */
  proposed = 0;
  readonly id = 'fuzz-member';
  readonly isLeader = true;
  readonly leader = 'fuzz-member';
  readonly removed = null;
  readonly applied = 0;

  now(): number {
    return 1_000_000;
  }

  async readIndex(): Promise<void> {}

  async propose(command: object) {
    const bytes = commandToPropose(command, this.sm.limits);
    this.proposed++;
    // What every member does with the entry: decode (must be total) and apply (never throws).
    const decoded = decodeCommand(bytes, this.sm.limits);
    const again = commandToPropose(decoded, this.sm.limits);
    if (!equalBytes(again, bytes))
      throw new Finding('invariant', '$kv', 'a proposed command does not re-encode to itself');
    // A fresh state machine now and then: the fuzzer must not measure its own store growing.
    if (this.index % 2000 === 1999) this.sm = new KvStateMachine();
    const outcome = this.sm.applyEntry({ term: 1, index: ++this.index, type: 0, data: bytes });
    if (outcome === undefined) throw new ParleyError('INTERNAL', 'skipped');
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  async keepAlive(): Promise<never> {
    throw new ParleyError('UNAVAILABLE', 'not in the fuzzer');
  }

  async addMember(id: unknown, address: unknown) {
    this.proposed++;
    if (typeof id !== 'string' || /\s/.test(id) || id.length === 0 || id.length > 256)
      throw new Finding('invariant', '$cluster.add', `member id ${JSON.stringify(id)} reached the log`);
    if (typeof address !== 'string' || !/^\S+:\d+$/.test(address) || address.length > 1024)
      throw new Finding('invariant', '$cluster.add', 'an invalid address reached the log');
    return { voters: [id], learners: [] };
  }

  async removeMember(id: unknown) {
    this.proposed++;
    if (typeof id !== 'string' || /\s/.test(id) || id.length === 0 || id.length > 256)
      throw new Finding('invariant', '$cluster.remove', 'an invalid member id reached the log');
    return { voters: [], learners: [] };
  }

  transferLeadership(): void {}

  status() {
    return { role: 'Leader', term: 1, lead: this.id, commit: 0, progress: null, config: { voters: [], learners: [] } };
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Actions = Record<string, (params: unknown, ctx: Context) => unknown>;

const SERVICE_CALLS: readonly [string, string][] = [
  ['$kv', 'put'],
  ['$kv', 'delete'],
  ['$kv', 'txn'],
  ['$kv', 'compact'],
  ['$kv', 'leaseGrant'],
  ['$kv', 'leaseRevoke'],
  ['$kv', 'range'],
  ['$kv', 'watch'],
  ['$kv', 'watchPoll'],
  ['$kv', 'watchCancel'],
  ['$kv', 'leaseTimeToLive'],
  ['$cluster', 'add'],
  ['$cluster', 'remove'],
  ['$cluster', 'transferLeader'],
];

/** The fuzzer's targets and their state (a fake member, the services on it). */
export class Targets {
  readonly tally = newTally();
  private readonly member = new FakeMember();
  private readonly kv: ServiceDefinition;
  private readonly cluster: ServiceDefinition;
  private readonly ctx = { callerId: 'fuzzer', signal: undefined } as unknown as Context;
  private readonly skip: ReadonlySet<string>;
  private readonly publicKey = parsePublicKey(generateNodeKeys().publicKey);

  /** `skip`: target names left out (a finding owned elsewhere, until its fix lands). */
  constructor(skip: readonly string[] = []) {
    this.skip = new Set(skip);
    const member = this.member as unknown as KvMember;
    this.kv = createKvService(member, () => '127.0.0.1:1') as unknown as ServiceDefinition;
    this.cluster = createClusterService(member, () => '127.0.0.1:1') as unknown as ServiceDefinition;
  }

  close(): void {
    // The KV service's stopped hook uses neither the node nor its id.
    this.kv.stopped?.({ nodeId: 'fuzz-member' } as Parameters<NonNullable<ServiceDefinition['stopped']>>[0]);
  }

  /** Body bytes as a peer sends them: decoded, then through every parser and boundary. */
  async body(input: FuzzInput, r: Prng | undefined): Promise<void> {
    const codec = input.json ? jsonCodec : msgpackCodec;
    const target = `${codec.name}.decode`;
    const value = guarded(this.tally, target, () => codec.decode(input.bytes));
    if (value === undefined) return;
    checkPrototypes(value, target);
    await this.value(value, r);
  }

  /**
   * Bytes at the sealing boundary: opened as a SEALED body (random bytes, or a real sealed
   * message with a bit flipped: always refused, never opened), read as a node key, given as a
   * handshake proof.
   */
  sealed(bytes: Uint8Array, r: Prng | undefined): void {
    const key = new Uint8Array(32).fill(3);
    const aad = new Uint8Array([1, 13, 0, 0, 0, 0, 1]);
    const sealer = new FrameSealer(key);
    const opener = new FrameOpener(key);
    const plaintext = bytes.subarray(0, 256);
    const sealed = sealer.seal(aad, plaintext);
    const at = r === undefined ? 0 : r.int(sealed.length);
    sealed[at] = sealed[at]! ^ (1 << (r === undefined ? 0 : r.int(8)));
    if (guarded(this.tally, 'FrameOpener.open(tampered)', () => opener.open(aad, sealed)) !== undefined)
      throw new Finding('invariant', 'FrameOpener.open(tampered)', 'a tampered sealed message was opened');
    if (guarded(this.tally, 'FrameOpener.open(random)', () => new FrameOpener(key).open(aad, bytes)) !== undefined)
      throw new Finding('invariant', 'FrameOpener.open(random)', 'random bytes opened as a sealed message');
    const text = Buffer.from(bytes.subarray(0, 128)).toString('latin1');
    for (const candidate of [text, `PARLEY-PK-${text}`]) {
      guarded(this.tally, 'parsePublicKey', () => parsePublicKey(candidate));
      guarded(this.tally, 'canonicalPublicKey', () => canonicalPublicKey(candidate));
    }
    const transcript = bytes.subarray(0, 32);
    if (
      guarded(this.tally, 'verifyKeyProof', () => verifyKeyProof(this.publicKey, transcript, 'dialer', text)) === true
    )
      throw new Finding('invariant', 'verifyKeyProof', 'a random proof verified');
    if (guarded(this.tally, 'verifySecretProof', () => verifySecretProof(key, transcript, 'listener', text)) === true)
      throw new Finding('invariant', 'verifySecretProof', 'a random proof verified');
  }

  /**
   * A decoded value through the parsers, the raft boundary, the KV command boundary and one of the
   * services' actions (every action when `r` is undefined: a replay).
   */
  async value(value: unknown, r: Prng | undefined): Promise<void> {
    for (const [name, parse] of PARSERS) {
      if (this.skip.has(name)) continue;
      const parsed = guarded(this.tally, name, () => parse(value));
      if (parsed !== undefined) checkPrototypes(parsed, name);
    }
    // $raft.step checks every message of a list; a few are enough to exercise the check.
    const messages = Array.isArray(value) ? value.slice(0, 8) : [value];
    for (const m of messages) guarded(this.tally, 'checkWireMessage', () => checkWireMessage(m));
    guarded(this.tally, 'commandToPropose', () => commandToPropose(value, DEFAULT_LIMITS));
    for (const [service, action] of r === undefined ? SERVICE_CALLS : [r.pick(SERVICE_CALLS)]) {
      const actions = (service === '$kv' ? this.kv.actions : this.cluster.actions) as Actions;
      try {
        const result = await actions[action]!(value, this.ctx);
        this.tally.accepted++;
        // A watch that was created is cancelled again: the fuzzer must not measure its own watchers.
        const token = (result as { watchId?: unknown } | undefined)?.watchId;
        if (token !== undefined) await actions.watchCancel!({ watchId: token }, this.ctx);
      } catch (err) {
        refusal(this.tally, `${service}.${action}`, err);
      }
    }
  }

  /** A stream of 1–6 frames (bodies from `nextInput`), sometimes mutated as a whole. */
  static streamOf(r: Prng): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let n = r.range(1, 6); n > 0; n--) {
      const input = nextInput(r);
      const type = r.chance(0.95) ? r.range(1, 11) : r.int(256);
      const flags = (input.json ? FrameFlag.JSON : 0) | (r.chance(0.3) ? FrameFlag.ERROR : 0);
      const head = new Uint8Array(HEADER_SIZE);
      writeHeader(head, 0, type as PacketType, flags, r.nextU32(), input.bytes.length);
      parts.push(head, input.bytes);
    }
    const stream = concat(...parts);
    return r.chance(0.3) ? mutate(r, stream) : stream;
  }

  /**
   * `stream` pushed into a FrameDecoder in chunks of random sizes (one chunk when `r` is
   * undefined); each frame it returns is dispatched like a node does. Returns the frames decoded.
   */
  async frames(stream: Uint8Array, r: Prng | undefined): Promise<number> {
    const limits = { maxFrameSize: 256 * 1024, maxFirstFrameSize: 64 * 1024 };
    const decoder = new FrameDecoder(limits);
    let frames = 0;
    let dead: unknown;
    for (let at = 0; at < stream.length; ) {
      const end = r === undefined || r.chance(0.5) ? stream.length : Math.min(stream.length, at + r.range(1, 300));
      // push() takes ownership of its chunk: give it a copy, as a socket gives fresh buffers.
      const chunk = stream.slice(at, end);
      at = end;
      let out: Frame[];
      try {
        out = decoder.push(chunk);
      } catch (err) {
        if (dead !== undefined && err !== dead)
          throw new Finding('invariant', 'FrameDecoder', 'a dead decoder threw another error');
        dead = err;
        refusal(this.tally, 'FrameDecoder', err);
        continue;
      }
      if (dead !== undefined) throw new Finding('invariant', 'FrameDecoder', 'a failed decoder returned frames');
      const limit = (frames === 0 && out.length === 0 ? limits.maxFirstFrameSize : limits.maxFrameSize) + HEADER_SIZE;
      if (decoder.pendingBytes > limit + chunk.length)
        throw new Finding('invariant', 'FrameDecoder', `holds ${decoder.pendingBytes} bytes for an unfinished frame`);
      for (const f of out) {
        frames++;
        await this.dispatch(f, r);
      }
    }
    return frames;
  }

  /** What a node does with a frame of each type (frame-dispatch.ts, mesh.ts, call-dispatcher.ts). */
  private async dispatch(f: Frame, r: Prng | undefined): Promise<void> {
    const codec = f.type === PacketType.HELLO || f.type === PacketType.GOODBYE ? jsonCodec : codecForFlags(f.flags);
    const value = guarded(this.tally, `${codec.name}.decode`, () => codec.decode(f.body));
    if (value === undefined) return;
    checkPrototypes(value, `${codec.name}.decode`);
    const parse: Record<number, (v: unknown) => unknown> = {
      [PacketType.HELLO]: parseHello,
      [PacketType.REQUEST]: parseRequest,
      [PacketType.RESPONSE]: (v) => (f.flags & FrameFlag.ERROR ? errorFromBody(parseError(v)) : v),
      [PacketType.ONEWAY]: parseOneway,
      [PacketType.EVENT]: parseEvent,
      [PacketType.GOODBYE]: parseGoodbye,
      [PacketType.GOSSIP]: parseGossip,
      [PacketType.INFO]: parseNodeInfo,
    };
    const p = parse[f.type];
    if (p !== undefined) guarded(this.tally, `frame:${f.type}`, () => p(value));
    if (r === undefined || r.chance(0.1)) await this.value(value, r);
  }
}
