import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToUtf8 } from './bytes.js';
import { KvStateMachine } from './kv-state-machine.js';
import { fails, ok } from './testing/kv-test-helpers.js';

describe('leases', () => {
  it('grant picks deterministic ids; explicit ids must be free', () => {
    const sm = new KvStateMachine();
    assert.equal(ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 }).id, 1);
    assert.equal(ok(sm, { type: 'lease-grant', id: 2, ttlMs: 1000, now: 0 }).id, 2);
    assert.equal(ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 }).id, 3);
    fails(sm, { type: 'lease-grant', id: 2, ttlMs: 1000, now: 0 }, 'ALREADY_EXISTS');
    assert.deepEqual(sm.leaseIds(), [1, 2, 3]);
  });

  it('revoke deletes every attached key in one revision', () => {
    const sm = new KvStateMachine();
    const l = ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: '1', lease: l.id });
    ok(sm, { type: 'put', key: 'b', value: '1', lease: l.id });
    ok(sm, { type: 'put', key: 'c', value: '1' });
    ok(sm, { type: 'put', key: 'b', value: '2', lease: l.id });
    const ttl = sm.timeToLive(l.id, 0, { keys: true });
    assert.deepEqual(ttl.keys!.map(bytesToUtf8), ['a', 'b']);
    const r = ok(sm, { type: 'lease-revoke', id: l.id });
    assert.equal(r.revision, 5);
    assert.equal(ok(sm, { type: 'range', range: { prefix: '' } }).count, 1);
    fails(sm, { type: 'lease-revoke', id: l.id }, 'NOT_FOUND');
    fails(sm, { type: 'put', key: 'a', value: '1', lease: l.id }, 'NOT_FOUND');
  });

  it('a put without the lease detaches the key; a delete too', () => {
    const sm = new KvStateMachine();
    const l = ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: '1', lease: l.id });
    ok(sm, { type: 'put', key: 'b', value: '1', lease: l.id });
    ok(sm, { type: 'put', key: 'a', value: '2' });
    ok(sm, { type: 'delete', range: { key: 'b' } });
    assert.deepEqual(sm.timeToLive(l.id, 0, { keys: true }).keys, []);
    ok(sm, { type: 'lease-revoke', id: l.id });
    assert.equal(ok(sm, { type: 'range', range: { key: 'a' } }).count, 1);
  });

  it('expiry is decided by the leader: expiredLeases(now) then a lease-expire command', () => {
    const sm = new KvStateMachine();
    const a = ok(sm, { type: 'lease-grant', ttlMs: 1000, now: 0 });
    const b = ok(sm, { type: 'lease-grant', ttlMs: 5000, now: 0 });
    ok(sm, { type: 'put', key: 'a', value: '1', lease: a.id });
    ok(sm, { type: 'put', key: 'b', value: '1', lease: b.id });
    assert.deepEqual(sm.expiredLeases(999), []);
    ok(sm, { type: 'lease-keepalive', id: a.id, now: 500 });
    assert.deepEqual(sm.expiredLeases(1499), []);
    assert.deepEqual(sm.expiredLeases(1500), [a.id]);
    const e = ok(sm, { type: 'lease-expire', ids: [a.id, 77] });
    assert.deepEqual(e.expired, [a.id]);
    assert.equal(ok(sm, { type: 'range', range: { key: 'a' } }).count, 0);
    // Applying the same expiry twice (two leaders proposed it) is harmless.
    assert.deepEqual(ok(sm, { type: 'lease-expire', ids: [a.id] }).expired, []);
    assert.equal(sm.timeToLive(b.id, 2000).remainingMs, 3000);
  });

  it('checkpoints: a new leader restores deadlines from the last remaining TTL, not a fresh TTL', () => {
    const leader = new KvStateMachine();
    const follower = new KvStateMachine();
    const both = (cmd: Record<string, unknown> & { type: string }) => {
      leader.apply(cmd);
      return follower.apply(cmd);
    };
    both({ type: 'lease-grant', id: 1, ttlMs: 10_000, now: 0 });
    both({ type: 'lease-grant', id: 2, ttlMs: 10_000, now: 0 });
    // At t=6000 the leader checkpoints remaining TTLs (4000 each), then keeps lease 2 alive at t=7000.
    both({ type: 'lease-checkpoint', checkpoints: leader.leaseCheckpoints(6000) });
    both({ type: 'lease-keepalive', id: 2, now: 7000 });
    // The leader dies at t=8000; the follower is promoted at t=9000.
    follower.promote(9000);
    assert.equal(follower.timeToLive(1, 9000).remainingMs, 4000); // checkpoint honoured
    assert.equal(follower.timeToLive(2, 9000).remainingMs, 10_000); // refreshed after the checkpoint
    assert.deepEqual(follower.expiredLeases(13_000), [1]);
  });

  it('leases survive a snapshot; deadlines are set by promote', () => {
    const sm = new KvStateMachine();
    ok(sm, { type: 'lease-grant', id: 4, ttlMs: 3000, now: 0 });
    ok(sm, { type: 'put', key: 'k', value: 'v', lease: 4 });
    ok(sm, { type: 'lease-checkpoint', checkpoints: [{ id: 4, remainingMs: 1000 }] });
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    assert.deepEqual(copy.expiredLeases(1e12), []);
    copy.promote(100);
    assert.deepEqual(copy.expiredLeases(1100), [4]);
    assert.deepEqual(copy.timeToLive(4, 100, { keys: true }).keys!.map(bytesToUtf8), ['k']);
    assert.equal(ok(copy, { type: 'lease-grant', ttlMs: 1, now: 0 }).id, 1);
    assert.equal(ok(copy, { type: 'lease-grant', ttlMs: 1, now: 0 }).id, 2);
    assert.equal(ok(copy, { type: 'lease-grant', ttlMs: 1, now: 0 }).id, 3);
    assert.equal(ok(copy, { type: 'lease-grant', ttlMs: 1, now: 0 }).id, 5);
  });
});
