import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from './checker.js';
import { type Operation, UNKNOWN } from './history.js';
import { type KvInput, type KvOutput, kvModel, partitionByKeys } from './kv-model.js';

type Op = Operation<KvInput, KvOutput>;
const op = (clientId: number, call: number, ret: number, input: KvInput, output: KvOutput | typeof UNKNOWN): Op => ({
  clientId,
  input,
  call,
  return: ret,
  output,
});

describe('kv model', () => {
  it('delete returns the deleted count; cas on value', () => {
    const h: Op[] = [
      op(0, 0, 1, { op: 'put', key: 'x', value: 'a' }, { op: 'put' }),
      op(0, 2, 3, { op: 'cas', key: 'x', expect: { value: 'b' }, value: 'c' }, { op: 'cas', succeeded: false }),
      op(0, 4, 5, { op: 'cas', key: 'x', expect: { value: 'a' }, value: 'c' }, { op: 'cas', succeeded: true }),
      op(0, 6, 7, { op: 'delete', key: 'x' }, { op: 'delete', deleted: 1 }),
      op(0, 8, 9, { op: 'delete', key: 'x' }, { op: 'delete', deleted: 0 }),
    ];
    assert.equal(check(kvModel(), h).result, 'ok');
    const bad = [...h.slice(0, 4), op(0, 8, 9, { op: 'delete', key: 'x' }, { op: 'delete', deleted: 1 })];
    assert.equal(check(kvModel(), bad).result, 'illegal');
  });

  it('two concurrent cas from the same expected value cannot both succeed', () => {
    const cas = (c: number, v: string) =>
      op(c, 2, 10, { op: 'cas', key: 'x', expect: { value: 'a' }, value: v }, { op: 'cas', succeeded: true });
    const h = [op(0, 0, 1, { op: 'put', key: 'x', value: 'a' }, { op: 'put' }), cas(1, 'b'), cas(2, 'c')];
    assert.equal(check(kvModel(), h).result, 'illegal');
  });

  it('multi-key txn: atomic transfer; a torn read is illegal; txn keys merge partitions', () => {
    const txn: KvInput = {
      op: 'txn',
      compare: [{ key: 'a', target: 'version', equals: 1 }],
      success: [
        { op: 'put', key: 'a', value: '0' },
        { op: 'put', key: 'b', value: '1' },
      ],
      failure: [],
    };
    const h: Op[] = [
      op(0, 0, 1, { op: 'put', key: 'a', value: '1' }, { op: 'put' }),
      op(0, 2, 20, txn, { op: 'txn', succeeded: true, results: [{ op: 'put' }, { op: 'put' }] }),
      op(1, 3, 4, { op: 'get', key: 'b' }, { op: 'get', value: '1' }),
      op(1, 5, 6, { op: 'get', key: 'a' }, { op: 'get', value: '0' }),
      op(2, 7, 8, { op: 'get', key: 'c' }, { op: 'get', value: null }),
    ];
    assert.deepEqual(
      partitionByKeys(h).map((p) => p.length),
      [4, 1],
    );
    assert.throws(() => check(kvModel(), h), /versions/);
    assert.equal(check(kvModel({ versions: true }), h).result, 'ok');
    // b already shows the transfer but a, read later, does not.
    const torn = [...h];
    torn[3] = op(1, 5, 6, { op: 'get', key: 'a' }, { op: 'get', value: '1' });
    assert.equal(check(kvModel({ versions: true }), torn).result, 'illegal');
  });

  it('revisions: +1 per write, reads return the current revision, no-op delete does not bump', () => {
    const m = kvModel({ revisions: true });
    assert.equal(m.partition, undefined);
    const h: Op[] = [
      op(0, 0, 1, { op: 'put', key: 'x', value: 'a' }, { op: 'put', revision: 2 }),
      op(0, 2, 3, { op: 'delete', key: 'y' }, { op: 'delete', deleted: 0, revision: 2 }),
      op(1, 4, 5, { op: 'put', key: 'y', value: 'b' }, { op: 'put', revision: 3 }),
      op(1, 6, 7, { op: 'get', key: 'x' }, { op: 'get', value: 'a', revision: 3 }),
      op(
        1,
        8,
        9,
        { op: 'cas', key: 'x', expect: { modRevision: 2 }, value: 'c' },
        { op: 'cas', succeeded: true, revision: 4 },
      ),
    ];
    assert.equal(check(m, h).result, 'ok');
    // Without revisions these outputs are also fine, apart from the modRevision cas, which is refused.
    assert.throws(() => check(kvModel(), h));
    // A skipped revision is illegal.
    const skipped = [...h];
    skipped[2] = op(1, 4, 5, { op: 'put', key: 'y', value: 'b' }, { op: 'put', revision: 4 });
    assert.equal(check(m, skipped).result, 'illegal');
  });

  it('revisions order writes to different keys: reads across keys must agree', () => {
    const m = kvModel({ revisions: true });
    // Concurrent puts to x and y; the revisions say x came first, but a read says y was at rev 2.
    const h: Op[] = [
      op(0, 0, 10, { op: 'put', key: 'x', value: 'a' }, { op: 'put', revision: 2 }),
      op(1, 0, 10, { op: 'put', key: 'y', value: 'b' }, { op: 'put', revision: 3 }),
      op(2, 1, 9, { op: 'get', key: 'y' }, { op: 'get', value: 'b', revision: 2 }),
    ];
    assert.equal(check(m, h).result, 'illegal');
    // The per-key model cannot see this.
    assert.equal(check(kvModel(), h).result, 'ok');
  });

  it('an unknown txn either applied atomically or not at all', () => {
    const txn: KvInput = {
      op: 'txn',
      compare: [],
      success: [
        { op: 'put', key: 'a', value: '1' },
        { op: 'put', key: 'b', value: '1' },
      ],
      failure: [],
    };
    const base: Op[] = [op(0, 0, Infinity, txn, UNKNOWN)];
    const reads = (a: string | null, b: string | null): Op[] => [
      op(1, 5, 6, { op: 'get', key: 'a' }, { op: 'get', value: a }),
      op(1, 7, 8, { op: 'get', key: 'b' }, { op: 'get', value: b }),
    ];
    assert.equal(check(kvModel(), [...base, ...reads('1', '1')]).result, 'ok');
    assert.equal(check(kvModel(), [...base, ...reads(null, null)]).result, 'ok');
    assert.equal(check(kvModel(), [...base, ...reads(null, '1')]).result, 'ok'); // took effect between the reads
    assert.equal(check(kvModel(), [...base, ...reads('1', null)]).result, 'illegal'); // torn
  });
});
