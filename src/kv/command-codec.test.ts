import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { bytesToUtf8, toBytes } from './bytes.js';
import { commandToPropose, decodeCommand, encodeCommand, encodeToPropose } from './command-codec.js';
import { type KvCommand, validateCommand } from './commands.js';
import { KvStateMachine } from './kv-state-machine.js';
import { DEFAULT_LIMITS } from './limits.js';

const valid = (x: unknown): KvCommand => validateCommand(x, DEFAULT_LIMITS);
const roundTrip = (x: unknown): KvCommand => decodeCommand(encodeCommand(valid(x)), DEFAULT_LIMITS);
/** A command as comparable plain data (absent and undefined fields alike, bytes as text). */
const shape = (c: unknown): unknown =>
  JSON.parse(JSON.stringify(c, (_k, v) => (v instanceof Uint8Array ? `bytes:${Buffer.from(v).toString('hex')}` : v)));

describe('command codec', () => {
  it('a put round-trips through the binary layout with every optional field', () => {
    for (const put of [
      { type: 'put', key: 'k', value: 'v' },
      { type: 'put', key: 'k', value: '' },
      { type: 'put', key: new Uint8Array([0, 255, 1]), value: new Uint8Array([9, 0]), lease: 7, prevKv: true },
      { type: 'put', key: 'k', value: 'v', ignoreValue: true, ignoreLease: true, clientId: 'c/1', seq: 42 },
      { type: 'put', key: 'ключ', value: 'v', lease: 2 ** 53 - 1, clientId: 'é'.repeat(256), seq: 1 },
    ]) {
      const bytes = encodeCommand(valid(put));
      assert.equal(bytes[0], 0x50, 'puts use the binary layout');
      assert.deepEqual(shape(decodeCommand(bytes, DEFAULT_LIMITS)), shape(valid(put)));
    }
  });

  it('other commands round-trip as msgpack, and entries written as msgpack before still decode', () => {
    for (const cmd of [
      { type: 'delete', range: { prefix: 'a' }, prevKv: true, clientId: 'c', seq: 3 },
      { type: 'txn', compare: [{ key: 'a', target: 'value', op: '=', value: 'x' }], success: [], failure: [] },
      { type: 'lease-grant', ttlMs: 1000, now: 5 },
      { type: 'lease-checkpoint', checkpoints: [{ id: 1, remainingMs: 10 }] },
    ]) {
      assert.deepEqual(shape(roundTrip(cmd)), shape(valid(cmd)));
    }
    const legacy = new Uint8Array(pack({ type: 'put', key: toBytes('a'), value: toBytes('b'), clientId: 'x', seq: 1 }));
    assert.deepEqual(
      shape(decodeCommand(legacy, DEFAULT_LIMITS)),
      shape(valid({ type: 'put', key: 'a', value: 'b', clientId: 'x', seq: 1 })),
    );
  });

  it('unknown fields do not survive validation, so they are never encoded', () => {
    const huge = new Uint8Array(64 * 1024);
    const bytes = encodeCommand(valid({ type: 'put', key: 'k', value: 'v', junk: huge }));
    assert.ok(bytes.length < 100, `encoded put is ${bytes.length} bytes`);
    const txn = encodeCommand(
      valid({
        type: 'txn',
        compare: [],
        success: [{ type: 'put', key: 'k', value: 'v', junk: huge }],
        failure: [],
        junk: huge,
      }),
    );
    assert.ok(txn.length < 200, `encoded txn is ${txn.length} bytes`);
  });

  it('any truncation or corruption of a put decodes to INVALID_ARGUMENT or a put within limits, never another error', () => {
    const bytes = encodeCommand(valid({ type: 'put', key: 'key', value: 'value', lease: 3, clientId: 'cid', seq: 9 }));
    for (let n = 0; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n);
      try {
        const c = decodeCommand(cut, DEFAULT_LIMITS);
        assert.equal(c.type, 'put');
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'INVALID_ARGUMENT', `cut at ${n}: ${err}`);
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        const b = new Uint8Array([0x50, ...tail]);
        try {
          const c = decodeCommand(b, DEFAULT_LIMITS);
          assert.equal(c.type, 'put');
          assert.ok(c.type === 'put' && c.key.length > 0 && c.key.length <= DEFAULT_LIMITS.maxKeyBytes);
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'INVALID_ARGUMENT');
        }
      }),
    );
  });

  it('decoding enforces the key and value limits (a replica never stores what validation refuses)', () => {
    const limits = { ...DEFAULT_LIMITS, maxKeyBytes: 4, maxValueBytes: 8 };
    const ok = encodeCommand(valid({ type: 'put', key: 'kkkk', value: '12345678' }));
    assert.equal(decodeCommand(ok, limits).type, 'put');
    const bigValue = encodeCommand(valid({ type: 'put', key: 'k', value: '123456789' }));
    assert.throws(() => decodeCommand(bigValue, limits), { code: 'INVALID_ARGUMENT', message: /value is 9 bytes/ });
    const bigKey = encodeCommand(valid({ type: 'put', key: 'kkkkk', value: '' }));
    assert.throws(() => decodeCommand(bigKey, limits), { code: 'INVALID_ARGUMENT', message: /key is 5 bytes/ });
  });

  it('commandToPropose refuses malformed and oversized commands with INVALID_ARGUMENT, and so does decoding', () => {
    const limits = { ...DEFAULT_LIMITS, maxValueBytes: 100, maxCommandBytes: 250 };
    const put = (n: number) => ({ type: 'put', key: 'k', value: new Uint8Array(n) });
    assert.ok(commandToPropose(put(100), limits).length <= 250);
    assert.throws(() => commandToPropose(put(101), limits), {
      code: 'INVALID_ARGUMENT',
      message: /value is 101 bytes/,
    });
    assert.throws(() => commandToPropose({ type: 'put', key: 7, value: 'v' }, limits), { code: 'INVALID_ARGUMENT' });
    const txn = { type: 'txn', compare: [], success: [put(100), put(100), put(100)], failure: [] };
    assert.throws(() => commandToPropose(txn, limits), { code: 'INVALID_ARGUMENT', message: /limit is 250/ });
    assert.throws(() => decodeCommand(encodeCommand(valid(txn)), limits), { code: 'INVALID_ARGUMENT' });
    assert.equal(decodeCommand(commandToPropose(put(100), limits), limits).type, 'put');
  });

  it('the store keeps copies, not views into the entry it applied', () => {
    const sm = new KvStateMachine();
    const bytes = encodeCommand(valid({ type: 'put', key: 'k', value: 'abc' }));
    assert.ok(sm.apply(bytes).ok);
    bytes.fill(0x7a);
    assert.equal(bytesToUtf8(sm.store.get('k')!.value), 'abc');
    assert.equal(sm.store.get('k')!.value.buffer.byteLength, 3);
  });

  it('applying encoded commands or the same objects gives byte-identical snapshots', () => {
    const cmds = [
      { type: 'lease-grant', id: 5, ttlMs: 1000, now: 0 },
      { type: 'put', key: 'a', value: '1', lease: 5, clientId: 'c', seq: 1 },
      { type: 'put', key: 'b', value: '2', prevKv: true },
      { type: 'put', key: 'a', value: 'x', ignoreValue: true, clientId: 'c', seq: 2 },
      { type: 'put', key: 'a', value: '1', clientId: 'c', seq: 1 },
      { type: 'delete', range: { key: 'b' } },
    ];
    const byObject = new KvStateMachine();
    const byBytes = new KvStateMachine();
    for (const c of cmds) {
      assert.deepEqual(shape(byBytes.apply(encodeCommand(valid(c)))), shape(byObject.apply(c)));
    }
    assert.deepEqual(byBytes.snapshot(), byObject.snapshot());
  });

  it("auth stamps round-trip in both layouts; the member's stamp replaces one that came with the request", () => {
    const stamp = { user: 'spiffe://example.org/ns/ключ', revision: 12 };
    for (const c of [
      { type: 'put', key: 'k', value: 'v', clientId: 'c', seq: 3, auth: stamp },
      { type: 'put', key: 'k', value: 'v', auth: { user: null, revision: 0 } },
      { type: 'delete', range: { prefix: 'a/' }, auth: stamp },
      { type: 'role-grant-permission', role: 'r', permission: { type: 'read', prefix: 'a/' }, auth: stamp },
    ]) {
      assert.deepEqual(shape(roundTrip(c)), shape(valid(c)));
    }
    const forged = valid({ type: 'put', key: 'k', value: 'v', auth: { user: 'root', revision: 1 } });
    assert.equal(decodeCommand(encodeToPropose(forged, DEFAULT_LIMITS, undefined), DEFAULT_LIMITS).auth, undefined);
    const mine = { user: 'alice', revision: 4 };
    assert.deepEqual(decodeCommand(encodeToPropose(forged, DEFAULT_LIMITS, mine), DEFAULT_LIMITS).auth, mine);
    const txn = valid({ type: 'txn', auth: { user: 'root', revision: 1 } });
    assert.equal(decodeCommand(encodeToPropose(txn, DEFAULT_LIMITS, undefined), DEFAULT_LIMITS).auth, undefined);
    for (const auth of [{ user: '', revision: 1 }, { user: 'a', revision: -1 }, { user: 7, revision: 1 }, 'root']) {
      assert.throws(() => valid({ type: 'delete', range: 'k', auth }), { code: 'INVALID_ARGUMENT' });
    }
  });
});
