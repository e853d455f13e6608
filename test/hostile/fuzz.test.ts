/**
 * A short seeded fuzz run (the long one is `npm run fuzz -- --frames N`), and the inputs the
 * fuzzer found, each kept as a test of the fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandToPropose } from '../../src/kv/command-codec.js';
import { DEFAULT_LIMITS } from '../../src/kv/limits.js';
import { checkWireMessage } from '../../src/raft/core/wire-message.js';
import { parseHelloAuth } from '../../src/transport/security/handshake-auth.js';
import { jsonCodec, msgpackCodec } from '../../src/wire/codec.js';
import { parseGoodbye } from '../../src/wire/packets.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { runFuzz } from './fuzz-runner.js';
import { Targets } from './fuzz-targets.js';

/**
 * Targets with a finding whose fix belongs to another part (left out of the seeded run until it
 * lands; the todo test below shows it). parseHelloAuth (src/transport/security/handshake-auth.ts)
 * formats a peer's `v` with String(), which throws a TypeError for {"toString": 1}.
 */
const OPEN_FINDINGS: string[] = [];

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('fuzz: frames, codecs, parsers and command boundaries', () => {
  it('a seeded run of 20,000 inputs finds nothing: typed refusals only, no pollution, bounded heap', async () => {
    const result = await runFuzz({
      frames: 20_000,
      seed: 20261203,
      maxHeapGrowthBytes: 256 * 1024 * 1024,
      skip: OPEN_FINDINGS,
    });
    const f = result.finding;
    assert.equal(f, undefined, f && `${f.message} (replay: npm run fuzz -- --seed ${f.seed} --at ${f.iteration})`);
    assert.equal(result.inputs, 20_000);
    // The run reached deep: every kind of refusal appeared, and inputs were accepted too.
    for (const code of ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'frame:oversized', 'frame:unknown-type'])
      assert.ok((result.tally.codes.get(code) ?? 0) > 0, `no ${code} refusal in the run`);
    assert.ok(result.tally.accepted > 1000, `only ${result.tally.accepted} inputs accepted anywhere`);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('the replay of one iteration runs that iteration alone', async () => {
    const result = await runFuzz({ frames: 1, seed: 5, at: 12_345 });
    assert.equal(result.inputs, 1);
    assert.equal(result.finding, undefined);
  });

  it('catches a planted bug: an untyped error thrown inside a parser is a finding', async () => {
    const targets = new Targets();
    // A value whose first element throws a TypeError when a parser reads it.
    const planted: unknown[] = [];
    Object.defineProperty(planted, 0, {
      get() {
        throw new TypeError('planted');
      },
    });
    try {
      await assert.rejects(targets.value(planted, undefined), /untyped-error in parseRequest: TypeError: planted/);
    } finally {
      targets.close();
    }
  });
});

describe('inputs the fuzzer found', () => {
  it("Parley's Map extension wrapping an object with length 2^31 is refused at once (was a 15 s CPU bomb)", () => {
    // fixext1 0x4d, filler, then { length: 0x80000000 }
    const bomb = hex('d4 4d 00 81 a6 6c656e677468 ce 80000000');
    assert.throws(
      () => msgpackCodec.decode(bomb),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT') && /Map extension must wrap an array/.test(e.message),
    );
  });

  it('a raft message whose type is a BigInt is refused with INVALID_ARGUMENT (was a TypeError from JSON.stringify)', () => {
    // The 13-slot wire tuple with a BigInt (extension 0x42) in the type slot.
    const decoded = msgpackCodec.decode(hex(`9d d6 42 00000001 ${'c0'.repeat(12)}`));
    assert.equal(typeof (decoded as unknown[])[0], 'bigint');
    assert.throws(
      () => checkWireMessage(decoded),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT') && /of type bigint/.test(e.message),
    );
  });

  it('a KV command whose type is {"toString": 1} is refused with INVALID_ARGUMENT (was a TypeError from String())', () => {
    const decoded = jsonCodec.decode(new TextEncoder().encode('{"type":{"toString":1,"valueOf":2}}'));
    assert.throws(
      () => commandToPropose(decoded, DEFAULT_LIMITS),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT') && /unknown command type of type object/.test(e.message),
    );
    assert.throws(
      () => commandToPropose({ type: 'txn', success: [{ type: { toString: 1 } }] }, DEFAULT_LIMITS),
      (e) => ParleyError.is(e, 'INVALID_ARGUMENT') && /unknown operation type of type object/.test(e.message),
    );
  });

  it('a retry identity reused for another command is INVALID_ARGUMENT, not INTERNAL', async () => {
    const targets = new Targets();
    try {
      await targets.value({ type: 'put', key: 'k', value: 'v', clientId: 'c1', seq: 3 }, undefined);
      // The same (clientId, seq) on a txn: the member remembers the put's result under it.
      await targets.value({ success: [], clientId: 'c1', seq: 3 }, undefined);
      assert.ok((targets.tally.samples.get('INVALID_ARGUMENT in $kv.txn') ?? '').length > 0);
    } finally {
      targets.close();
    }
  });

  it('decoded `__proto__` keys stay data: no prototype is set, Object.prototype is untouched', () => {
    const fromJson = jsonCodec.decode(new TextEncoder().encode('{"__proto__":{"polluted":1},"a":1}')) as object;
    assert.equal(Object.getPrototypeOf(fromJson), Object.prototype);
    assert.equal((fromJson as { polluted?: unknown }).polluted, undefined);
    const fromMsgpack = msgpackCodec.decode(hex('81 a9 5f5f70726f746f5f5f 81 a8 706f6c6c75746564 01')) as object;
    assert.equal(Object.getPrototypeOf(fromMsgpack), Object.prototype);
    assert.equal((fromMsgpack as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('a HELLO auth version of {"toString": 1} is refused with a ParleyError (open: handshake-auth.ts formats it with String())', {
    todo: OPEN_FINDINGS.includes('parseHelloAuth'),
  }, () => {
    const auth = jsonCodec.decode(new TextEncoder().encode('{"v":{"toString":9}}'));
    assert.throws(() => parseHelloAuth(auth), ParleyError);
  });

  it('a GOODBYE says only a known code and a bounded reason, whatever the peer sent', () => {
    const g = parseGoodbye({ code: 'MADE_UP', reason: 'r'.repeat(100_000) });
    assert.equal(g.code, 'UNKNOWN');
    assert.ok(g.reason.length <= 1024, `reason of ${g.reason.length} characters`);
  });
});
