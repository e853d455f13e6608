import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, settle } from '../../base/testing/fake-clock.js';
import { ParleyError } from '../../wire/parley-error.js';
import { ReadBatcher } from './read-batcher.js';

/** ReadIndex rounds the test completes by hand. */
function rounds() {
  const pending: { resolve(): void; reject(e: unknown): void; signal: AbortSignal }[] = [];
  const readIndex = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ resolve, reject, signal });
    });
  return { pending, readIndex };
}

describe('ReadBatcher', () => {
  it('a read that arrives during a round waits for the next round, which it shares with the other late reads', async () => {
    const clock = new FakeClock();
    const r = rounds();
    const batcher = new ReadBatcher(r.readIndex, clock, 1000);
    const done: string[] = [];
    void batcher.wait().then(() => done.push('a'));
    assert.equal(r.pending.length, 1, 'the first read starts a round at once');
    void batcher.wait().then(() => done.push('b'));
    void batcher.wait().then(() => done.push('c'));
    assert.equal(r.pending.length, 1, 'late reads do not join the round in flight');
    r.pending[0]!.resolve();
    await settle();
    assert.deepEqual(done, ['a'], 'b and c arrived after round 1 started: not answered by it');
    assert.equal(r.pending.length, 2, 'one more round for b and c together');
    r.pending[1]!.resolve();
    await settle();
    assert.deepEqual(done, ['a', 'b', 'c']);
  });

  it('a round that never completes fails its reads with UNAVAILABLE; the next read starts a new round', async () => {
    const clock = new FakeClock();
    const r = rounds();
    const batcher = new ReadBatcher(r.readIndex, clock, 1000);
    const lost = batcher.wait();
    clock.advance(1000);
    await assert.rejects(lost, (e: unknown) => ParleyError.is(e, 'UNAVAILABLE'));
    assert.equal(r.pending[0]!.signal.aborted, true, 'the lost round is abandoned inside raft too');
    const next = batcher.wait();
    assert.equal(r.pending.length, 2);
    r.pending[1]!.resolve();
    await next;
  });

  it('passes a failed round on to its reads', async () => {
    const r = rounds();
    const batcher = new ReadBatcher(r.readIndex, new FakeClock(), 1000);
    const read = batcher.wait();
    r.pending[0]!.reject(new ParleyError('UNAVAILABLE', 'no leader'));
    await assert.rejects(read, /no leader/);
  });
});
