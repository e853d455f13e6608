import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from './checker.js';
import { HistoryRecorder, type Operation, UNKNOWN } from './history.js';
import { type KvInput, type KvOutput, kvModel } from './kv-model.js';
import type { Model } from './model.js';

type Op = Operation<KvInput, KvOutput>;
const kv = kvModel();
const get = (clientId: number, key: string, value: string | null, call: number, ret: number): Op => ({
  clientId,
  input: { op: 'get', key },
  call,
  return: ret,
  output: { op: 'get', value },
});
const put = (clientId: number, key: string, value: string, call: number, ret: number): Op => ({
  clientId,
  input: { op: 'put', key, value },
  call,
  return: ret,
  output: { op: 'put' },
});
const lost = (op: Op): Op => ({ ...op, return: Infinity, output: UNKNOWN });
const result = (h: Op[]) => check(kv, h, { timeoutMs: 2_000 }).result;

describe('checker: hand-written KV histories', () => {
  it('empty history and a sequential history are linearizable', () => {
    assert.equal(result([]), 'ok');
    assert.equal(result([put(0, 'x', 'a', 0, 1), get(1, 'x', 'a', 2, 3), get(0, 'x', 'a', 4, 5)]), 'ok');
  });

  it('a read concurrent with a write may see either value', () => {
    assert.equal(result([put(0, 'x', 'a', 0, 1), put(0, 'x', 'b', 2, 10), get(1, 'x', 'a', 3, 4)]), 'ok');
    assert.equal(result([put(0, 'x', 'a', 0, 1), put(0, 'x', 'b', 2, 10), get(1, 'x', 'b', 3, 4)]), 'ok');
  });

  it('stale read: a read that starts after a write returned must see it', () => {
    assert.equal(result([put(0, 'x', 'a', 0, 1), put(0, 'x', 'b', 2, 3), get(1, 'x', 'a', 4, 5)]), 'illegal');
  });

  it('lost write: an acknowledged put is never seen', () => {
    const h = [put(0, 'x', 'a', 0, 1), get(1, 'x', null, 2, 3)];
    assert.equal(result(h), 'illegal');
  });

  it('read of a value never written', () => {
    assert.equal(result([put(0, 'x', 'a', 0, 1), get(1, 'x', 'zzz', 0, 3)]), 'illegal');
  });

  it('concurrent ops must still be ordered consistently (no flip-flop between two readers)', () => {
    // Two writes concurrent with everything; reader 1 sees a then b, reader 2 sees b then a.
    const h = [
      put(0, 'x', 'a', 0, 100),
      put(1, 'x', 'b', 0, 100),
      get(2, 'x', 'a', 10, 20),
      get(2, 'x', 'b', 30, 40),
      get(3, 'x', 'b', 10, 20),
      get(3, 'x', 'a', 30, 40),
    ];
    assert.equal(result(h), 'illegal');
    // One consistent order (a then b) for both readers is fine.
    h[4] = get(3, 'x', 'a', 10, 20);
    h[5] = get(3, 'x', 'b', 30, 40);
    assert.equal(result(h), 'ok');
  });

  it('unknown outcome that took effect: a later read sees it', () => {
    assert.equal(result([put(0, 'x', 'a', 0, 1), lost(put(1, 'x', 'b', 2, 3)), get(2, 'x', 'b', 50, 51)]), 'ok');
  });

  it('unknown outcome that did not take effect: later reads never see it', () => {
    assert.equal(result([put(0, 'x', 'a', 0, 1), lost(put(1, 'x', 'b', 2, 3)), get(2, 'x', 'a', 50, 51)]), 'ok');
  });

  it('an unknown outcome may take effect late, but not before its call, and not twice', () => {
    const h = [put(0, 'x', 'a', 0, 1), lost(put(1, 'x', 'b', 10, 11)), get(2, 'x', 'a', 20, 21)];
    assert.equal(result([...h, get(2, 'x', 'b', 30, 31)]), 'ok');
    // Seen, then unseen again: impossible.
    assert.equal(result([...h, get(2, 'x', 'b', 30, 31), get(2, 'x', 'a', 40, 41)]), 'illegal');
    // Seen before the put was even sent.
    assert.equal(result([put(0, 'x', 'a', 0, 1), get(2, 'x', 'b', 2, 3), lost(put(1, 'x', 'b', 10, 11))]), 'illegal');
  });

  it('a read may need several unknown-outcome ops to have taken effect in a row', () => {
    const cas: Op = {
      clientId: 2,
      input: { op: 'cas', key: 'x', expect: { value: 'a' }, value: 'b' },
      call: 1,
      return: Infinity,
      output: UNKNOWN,
    };
    const others = [lost(put(3, 'x', 'zz', 0, 1)), lost(put(4, 'x', 'yy', 0, 1))];
    const h = [lost(put(1, 'x', 'a', 0, 1)), cas, ...others, get(5, 'x', 'b', 10, 11)];
    assert.equal(result(h), 'ok');
    assert.equal(result([...h, get(5, 'x', 'a', 12, 13)]), 'illegal');
  });

  it('partitions per key; an illegal key is reported with its operations only', () => {
    const h = [put(0, 'x', 'a', 0, 1), put(0, 'y', 'a', 2, 3), get(1, 'y', null, 4, 5), get(1, 'x', 'a', 6, 7)];
    const r = check(kv, h);
    assert.equal(r.result, 'illegal');
    assert.equal(r.partitions, 2);
    if (r.result !== 'illegal') return;
    assert.deepEqual(r.failing.indexes, [1, 2]);
    assert.deepEqual(r.failing.longestPrefix, [0]);
  });

  it('times out with "unknown" on a hopeless history within the budget', () => {
    // 30 concurrent unknown-outcome adds of distinct powers of two, and one read of an impossible
    // sum: the state is the exact subset applied, so the cache cannot help (2^30 subsets).
    const counting: Model<number, number, number> = {
      init: () => 0,
      step: (s, input, output) => (output === UNKNOWN || output === s + input ? s + input : undefined),
      key: (s) => String(s),
    };
    const ops: Operation<number, number>[] = [];
    for (let i = 0; i < 30; i++) ops.push({ clientId: i, input: 2 ** i, call: 0, return: Infinity, output: UNKNOWN });
    ops.push({ clientId: 99, input: 0, call: 1, return: 1000, output: -1 });
    const started = Date.now();
    const r = check(counting, ops, { timeoutMs: 200 });
    assert.equal(r.result, 'unknown');
    assert.ok(Date.now() - started < 2_000);
  });

  it('HistoryRecorder orders events by a logical clock and closes pending ops as unknown', () => {
    const rec = new HistoryRecorder<KvInput, KvOutput>();
    const a = rec.invoke(0, { op: 'put', key: 'x', value: 'a' });
    const b = rec.invoke(1, { op: 'get', key: 'x' });
    rec.ok(a, { op: 'put' });
    rec.ok(b, { op: 'get', value: 'a' });
    rec.invoke(2, { op: 'put', key: 'x', value: 'b' });
    const h = rec.history();
    assert.equal(h.length, 3);
    assert.equal(h[2]!.output, UNKNOWN);
    assert.equal(h[2]!.return, Infinity);
    assert.equal(check(kv, h).result, 'ok');
  });
});
