import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from './checker.js';
import { generateKvHistory } from './gen-history.js';
import type { Operation } from './history.js';
import { type KvInput, type KvOutput, kvModel } from './kv-model.js';
import { minimize } from './minimize.js';
import { explainFailure } from './report.js';

type Op = Operation<KvInput, KvOutput>;

describe('failure report', () => {
  it('shrinks a long history with one stale read to a few operations and explains it', () => {
    const h: Op[] = generateKvHistory({ seed: 3, clients: 3, ops: 200, keys: 1, window: 5 });
    // Append two puts and then a read that sees the first: a stale read.
    const end = Math.max(...h.map((o) => o.return)) + 10;
    const put = (value: string, at: number): Op => ({
      clientId: 'w',
      input: { op: 'put', key: 'k0', value },
      call: at,
      return: at + 1,
      output: { op: 'put' },
    });
    h.push(put('old', end), put('new', end + 2));
    h.push({
      clientId: 'r',
      input: { op: 'get', key: 'k0' },
      call: end + 4,
      return: end + 5,
      output: { op: 'get', value: 'old' },
    });
    const r = check(kvModel(), h);
    assert.equal(r.result, 'illegal');
    const report = explainFailure(kvModel(), r, { minimizeBudgetMs: 1_500 });
    console.log(report.text);
    assert.ok(report.after <= 3, `shrunk to ${report.after}`);
    assert.match(report.text, /client r:/);
    assert.match(report.text, /Why it stops/);
    assert.match(report.text, /get\(k0\) → "old": impossible/);
  });

  it('minimize keeps the history illegal', () => {
    const h: Op[] = [
      { clientId: 0, input: { op: 'put', key: 'x', value: 'a' }, call: 0, return: 1, output: { op: 'put' } },
      { clientId: 0, input: { op: 'put', key: 'x', value: 'b' }, call: 2, return: 3, output: { op: 'put' } },
      { clientId: 1, input: { op: 'get', key: 'x' }, call: 4, return: 5, output: { op: 'get', value: 'b' } },
      { clientId: 1, input: { op: 'get', key: 'x' }, call: 6, return: 7, output: { op: 'get', value: 'a' } },
    ];
    const m = minimize(kvModel(), h, 500);
    assert.ok(m.complete);
    assert.equal(check(kvModel(), m.operations).result, 'illegal');
    assert.ok(m.operations.length <= 3);
  });
});
