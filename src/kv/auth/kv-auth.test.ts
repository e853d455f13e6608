import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParleyError } from '../../wire/parley-error.js';
import { bytesToUtf8 } from '../bytes.js';
import { encodeCommand } from '../command-codec.js';
import { type KvCommand, validateCommand } from '../commands.js';
import { KvStateMachine } from '../kv-state-machine.js';
import type { ApplyOutcome } from '../types.js';
import type { KvCaller } from './auth-types.js';

const user = (name: string): KvCaller => ({ kind: 'user', name, authenticated: true });
const root = user('root');
const alice = user('alice');
const bob = user('bob');
const stranger: KvCaller = { kind: 'user', name: 'mallory', authenticated: false };

/** What a member does: check at propose time (a refusal never reaches the log), stamp, encode. */
function propose(sm: KvStateMachine, caller: KvCaller, command: object): Uint8Array {
  const cmd = validateCommand(command, sm.limits);
  return encodeCommand({ ...cmd, auth: sm.authorize(caller, cmd) } as KvCommand);
}

/** Proposes and applies at once; a refusal at propose time becomes a failed outcome. */
function run(sm: KvStateMachine, caller: KvCaller, command: object): ApplyOutcome {
  let bytes: Uint8Array;
  try {
    bytes = propose(sm, caller, command);
  } catch (err) {
    return { ok: false, error: err as ParleyError };
  }
  return sm.apply(bytes);
}

function must(o: ApplyOutcome) {
  if (!o.ok) assert.fail(`${o.error.code}: ${o.error.message}`);
  return o.result;
}

function refused(o: ApplyOutcome, code: string, ...mentions: string[]): ParleyError {
  if (o.ok) assert.fail(`expected ${code}, got ${JSON.stringify(o.result)}`);
  assert.equal(o.error.code, code, o.error.message);
  for (const m of mentions) assert.ok(o.error.message.includes(m), `"${o.error.message}" names ${m}`);
  return o.error;
}

/** A store with auth enabled, users root (role root), alice (role `a`) and bob (no roles). */
function enabledStore(...grants: object[]): KvStateMachine {
  const sm = new KvStateMachine();
  for (const c of [
    { type: 'user-add', user: 'root' },
    { type: 'user-grant-role', user: 'root', role: 'root' },
    { type: 'user-add', user: 'alice' },
    { type: 'user-add', user: 'bob' },
    { type: 'role-add', role: 'a' },
    { type: 'user-grant-role', user: 'alice', role: 'a' },
    ...grants.map((permission) => ({ type: 'role-grant-permission', role: 'a', permission })),
    { type: 'auth-enable' },
  ]) {
    must(run(sm, stranger, c));
  }
  assert.equal(sm.auth.enabled, true);
  return sm;
}

const range = (r: object) => ({ type: 'range', range: r });

describe('KV roles: admin commands', () => {
  it('auth enable needs the user root with the role root', () => {
    const sm = new KvStateMachine();
    refused(run(sm, stranger, { type: 'auth-enable' }), 'FAILED_PRECONDITION', 'user root');
    must(run(sm, stranger, { type: 'user-add', user: 'root' }));
    refused(run(sm, stranger, { type: 'auth-enable' }), 'FAILED_PRECONDITION');
    must(run(sm, stranger, { type: 'user-grant-role', user: 'root', role: 'root' }));
    must(run(sm, stranger, { type: 'auth-enable' }));
    assert.equal(sm.auth.enabled, true);
  });

  it('only root changes users and roles once auth is enabled; root stays root', () => {
    const sm = enabledStore();
    refused(run(sm, alice, { type: 'user-add', user: 'eve' }), 'PERMISSION_DENIED', 'root', 'alice');
    refused(
      run(sm, alice, { type: 'role-grant-permission', role: 'a', permission: { type: 'readwrite', prefix: '' } }),
      'PERMISSION_DENIED',
    );
    refused(run(sm, alice, { type: 'auth-disable' }), 'PERMISSION_DENIED');
    refused(run(sm, stranger, { type: 'user-add', user: 'eve' }), 'UNAUTHENTICATED');
    refused(run(sm, alice, { type: 'compact', revision: 1 }), 'PERMISSION_DENIED');
    must(run(sm, root, { type: 'user-add', user: 'eve' }));
    refused(run(sm, root, { type: 'user-delete', user: 'root' }), 'FAILED_PRECONDITION');
    refused(run(sm, root, { type: 'user-revoke-role', user: 'root', role: 'root' }), 'FAILED_PRECONDITION');
    refused(run(sm, root, { type: 'role-delete', role: 'root' }), 'FAILED_PRECONDITION');
    // An admin command that slipped past the member's check (stamped by a forged or buggy member) is refused at apply.
    const forged = encodeCommand({ type: 'user-add', user: 'x', auth: { user: 'alice', revision: sm.auth.revision } });
    refused(sm.apply(forged), 'PERMISSION_DENIED');
    assert.throws(() => sm.auth.user(root, 'x'), /not found/);
  });

  it('every change bumps the auth revision; a change that changes nothing does not', () => {
    const sm = enabledStore();
    const r0 = sm.auth.revision;
    must(run(sm, root, { type: 'role-add', role: 'b' }));
    assert.equal(sm.auth.revision, r0 + 1);
    must(run(sm, root, { type: 'auth-enable' }));
    must(run(sm, root, { type: 'user-grant-role', user: 'alice', role: 'a' }));
    assert.equal(sm.auth.revision, r0 + 1);
  });

  it('reads: a user sees itself and its roles; lists are for root', () => {
    const sm = enabledStore({ type: 'read', key: 'k' });
    assert.deepEqual(sm.auth.user(alice, 'alice'), { name: 'alice', roles: ['a'] });
    assert.throws(() => sm.auth.user(alice, 'bob'), { code: 'PERMISSION_DENIED' });
    assert.equal(sm.auth.role(alice, 'a').permissions.length, 1);
    assert.throws(() => sm.auth.role(bob, 'a'), { code: 'PERMISSION_DENIED' });
    assert.throws(() => sm.auth.userNames(alice), { code: 'PERMISSION_DENIED' });
    assert.deepEqual(sm.auth.userNames(root), ['alice', 'bob', 'root']);
    assert.deepEqual(sm.auth.roleNames(root), ['a', 'root']);
  });
});

describe('KV roles: key ranges', () => {
  it('unauthenticated callers and strangers are refused while auth is enabled, and not before', () => {
    const sm = new KvStateMachine();
    must(run(sm, stranger, { type: 'put', key: 'k', value: 'v' }));
    const on = enabledStore({ type: 'readwrite', prefix: '' });
    refused(run(on, stranger, range({ key: 'k' })), 'UNAUTHENTICATED', 'authentication is enabled');
    refused(run(on, user('nobody'), range({ key: 'k' })), 'PERMISSION_DENIED', 'nobody', 'not a KV user');
    refused(run(on, bob, range({ key: 'k' })), 'PERMISSION_DENIED', "user 'bob'", 'read key "k"');
    must(run(on, alice, range({ key: 'k' })));
  });

  it('open-ended ranges need a permission that reaches the end of the keys', () => {
    const sm = enabledStore({ type: 'read', key: 'a', rangeEnd: 'm' });
    must(run(sm, alice, range({ from: 'a', to: 'm' })));
    must(run(sm, alice, range({ from: 'c', to: 'd' })));
    refused(run(sm, alice, range({ from: 'a', to: 'n' })), 'PERMISSION_DENIED', 'range ["a", "n")');
    refused(run(sm, alice, range({ from: 'a' })), 'PERMISSION_DENIED', 'end of keys');
    must(
      run(sm, root, {
        type: 'role-grant-permission',
        role: 'a',
        permission: { type: 'read', key: 'm', rangeEnd: '\0' },
      }),
    );
    // Two permissions that meet cover the union.
    must(run(sm, alice, range({ from: 'a' })));
    refused(run(sm, alice, range({ from: '' })), 'PERMISSION_DENIED');
  });

  it("a prefix 'a/' covers a/… and never 'a0' (the next byte after '/')", () => {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    must(run(sm, alice, { type: 'put', key: 'a/x', value: '1' }));
    must(run(sm, alice, range({ prefix: 'a/' })));
    must(run(sm, alice, range({ from: 'a/', to: 'a0' })));
    refused(run(sm, alice, { type: 'put', key: 'a0', value: '1' }), 'PERMISSION_DENIED', 'write key "a0"');
    refused(run(sm, alice, range({ prefix: 'a' })), 'PERMISSION_DENIED');
    refused(run(sm, alice, range({ from: 'a/', to: 'a1' })), 'PERMISSION_DENIED');
    refused(run(sm, alice, { type: 'put', key: 'a', value: '1' }), 'PERMISSION_DENIED');
    refused(run(sm, alice, { type: 'delete', range: { prefix: 'a' } }), 'PERMISSION_DENIED');
  });

  it('read is not write, write is not read', () => {
    const sm = enabledStore({ type: 'read', key: 'r' }, { type: 'write', key: 'w' });
    must(run(sm, alice, range({ key: 'r' })));
    refused(run(sm, alice, { type: 'put', key: 'r', value: '1' }), 'PERMISSION_DENIED');
    must(run(sm, alice, { type: 'put', key: 'w', value: '1' }));
    refused(run(sm, alice, range({ key: 'w' })), 'PERMISSION_DENIED');
  });

  it('a txn needs every compared key and every operation of both branches', () => {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    must(run(sm, root, { type: 'put', key: 's/secret', value: 'x' }));
    const probe = (compare: object[], failure: object[]) =>
      run(sm, alice, { type: 'txn', compare, success: [{ type: 'put', key: 'a/1', value: '1' }], failure });
    must(probe([{ key: 'a/1', target: 'version', op: '=', value: 0 }], []));
    // A compare reveals a value bit by bit: it needs read on the key.
    refused(probe([{ key: 's/secret', target: 'value', op: '=', value: 'x' }], []), 'PERMISSION_DENIED', 's/secret');
    // The failure branch never runs here, and still needs its permissions.
    refused(probe([], [{ type: 'range', range: { key: 's/secret' } }]), 'PERMISSION_DENIED');
    refused(probe([], [{ type: 'delete', range: { prefix: 's/' } }]), 'PERMISSION_DENIED');
  });
});

describe('KV roles: watches', () => {
  it('a watch from a key needs read to the end of the keys (GHSA-xg4h-6gfc-h4m8)', () => {
    const sm = enabledStore({ type: 'read', key: 'k' });
    assert.throws(() => sm.authorize(alice, validateCommand(range({ from: 'k' }), sm.limits)), {
      code: 'PERMISSION_DENIED',
    });
    // On the one key it may read, the watch starts and sees only that key.
    sm.authorize(alice, validateCommand(range({ key: 'k' }), sm.limits));
    const id = sm.watches.watch({ range: { key: 'k' }, caller: alice });
    must(run(sm, root, { type: 'put', key: 'k', value: '1' }));
    must(run(sm, root, { type: 'put', key: 'l', value: 'secret' }));
    assert.deepEqual(
      sm.watches.poll(id).events.map((e) => bytesToUtf8(e.kv.key)),
      ['k'],
    );
  });

  it('revoked permission mid-watch: the watch ends with PERMISSION_DENIED and delivers nothing more', () => {
    const sm = enabledStore({ type: 'read', prefix: 'a/' });
    must(run(sm, root, { type: 'role-add', role: 'b' }));
    must(run(sm, root, { type: 'role-grant-permission', role: 'b', permission: { type: 'read', prefix: 'a/' } }));
    must(run(sm, root, { type: 'user-grant-role', user: 'bob', role: 'b' }));
    const wa = sm.watches.watch({ range: { prefix: 'a/' }, caller: alice });
    const wb = sm.watches.watch({ range: { prefix: 'a/' }, caller: bob });
    const internal = sm.watches.watch({ range: { prefix: 'a/' } });
    must(run(sm, root, { type: 'put', key: 'a/1', value: 'before' }));
    must(run(sm, root, { type: 'role-revoke-permission', role: 'a', prefix: 'a/' }));
    must(run(sm, root, { type: 'put', key: 'a/2', value: 'after' }));
    const ended = sm.watches.poll(wa);
    assert.equal(ended.canceled?.code, 'PERMISSION_DENIED');
    assert.deepEqual(ended.events, []);
    assert.throws(() => sm.watches.poll(wa), { code: 'NOT_FOUND' });
    assert.equal(sm.watches.poll(wb).events.length, 2);
    assert.equal(sm.watches.poll(internal).events.length, 2);
    // Deleting the user ends the other one.
    must(run(sm, root, { type: 'user-delete', user: 'bob' }));
    assert.equal(sm.watches.poll(wb).canceled?.code, 'PERMISSION_DENIED');
  });

  it('a member that catches up by snapshot over a revocation ends the watches it no longer allows', () => {
    const leader = enabledStore({ type: 'read', prefix: 'a/' });
    const lagging = new KvStateMachine();
    lagging.restore(leader.snapshot());
    const w = lagging.watches.watch({ range: { prefix: 'a/' }, caller: alice });
    must(run(leader, root, { type: 'role-revoke-permission', role: 'a', prefix: 'a/' }));
    must(run(leader, root, { type: 'put', key: 'a/1', value: 'after' }));
    lagging.restore(leader.snapshot());
    assert.equal(lagging.watches.poll(w).canceled?.code, 'PERMISSION_DENIED');
  });

  it('enabling auth ends the watches of unauthenticated callers', () => {
    const sm = new KvStateMachine();
    const w = sm.watches.watch({ range: { prefix: '' }, caller: stranger });
    must(run(sm, stranger, { type: 'user-add', user: 'root' }));
    must(run(sm, stranger, { type: 'user-grant-role', user: 'root', role: 'root' }));
    assert.equal(sm.watches.poll(w).canceled, undefined);
    must(run(sm, stranger, { type: 'auth-enable' }));
    assert.equal(sm.watches.poll(w).canceled?.code, 'UNAUTHENTICATED');
  });
});

describe('KV roles: leases', () => {
  function withLease() {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    const id = (must(run(sm, alice, { type: 'lease-grant', ttlMs: 60_000, now: 0 })) as { id: number }).id;
    must(run(sm, alice, { type: 'put', key: 'a/1', value: 'mine', lease: id }));
    return { sm, id };
  }

  it('TimeToLive lists the keys only to a caller who may read all of them (CVE-2023-32082)', () => {
    const { sm, id } = withLease();
    assert.deepEqual(sm.timeToLive(id, 0, { keys: true }, alice).keys?.map(bytesToUtf8), ['a/1']);
    must(run(sm, root, { type: 'put', key: 's/secret-name', value: 'x', lease: id }));
    assert.equal(sm.timeToLive(id, 0, {}, alice).id, id);
    assert.throws(
      () => sm.timeToLive(id, 0, { keys: true }, alice),
      (err: ParleyError) => err.code === 'PERMISSION_DENIED' && !err.message.includes('secret'),
    );
    assert.equal(sm.timeToLive(id, 0, { keys: true }, root).keys?.length, 2);
    assert.throws(() => sm.timeToLive(id, 0, {}, stranger), { code: 'UNAUTHENTICATED' });
  });

  it('revoking a lease needs write on every attached key (it deletes them)', () => {
    const { sm, id } = withLease();
    must(run(sm, root, { type: 'put', key: 's/secret', value: 'x', lease: id }));
    const err = refused(run(sm, alice, { type: 'lease-revoke', id }), 'PERMISSION_DENIED', 'lease');
    assert.ok(!err.message.includes('s/secret'));
    assert.equal(sm.store.get('s/secret')?.lease, id);
    must(run(sm, root, { type: 'lease-revoke', id }));
    assert.equal(sm.store.get('s/secret'), undefined);
  });

  it('a put with a lease needs write on the key; a lease grant needs a user', () => {
    const { sm, id } = withLease();
    refused(run(sm, alice, { type: 'put', key: 's/x', value: '1', lease: id }), 'PERMISSION_DENIED');
    refused(run(sm, stranger, { type: 'lease-grant', ttlMs: 1000, now: 0 }), 'UNAUTHENTICATED');
    must(run(sm, bob, { type: 'lease-grant', ttlMs: 1000, now: 0 }));
  });
});

describe('KV roles: checked at apply against the auth revision', () => {
  it('a permission revoked between propose and apply: ABORTED (not applied, not remembered), then refused', () => {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    const inFlight = propose(sm, alice, { type: 'put', key: 'a/1', value: 'v', clientId: 'c1', seq: 1 });
    must(run(sm, root, { type: 'role-revoke-permission', role: 'a', prefix: 'a/' }));
    const stale = refused(sm.apply(inFlight), 'ABORTED', 'retry');
    assert.equal((stale.details as { reason: string }).reason, 'auth-revision-changed');
    assert.equal(sm.store.get('a/1'), undefined);
    // The member checks it again: refused now.
    refused(run(sm, alice, { type: 'put', key: 'a/1', value: 'v', clientId: 'c1', seq: 1 }), 'PERMISSION_DENIED');
    // The ABORTED outcome was not remembered for (c1, 1): once allowed again, the same retry applies.
    must(run(sm, root, { type: 'role-grant-permission', role: 'a', permission: { type: 'readwrite', prefix: 'a/' } }));
    must(run(sm, alice, { type: 'put', key: 'a/1', value: 'v', clientId: 'c1', seq: 1 }));
    assert.equal(bytesToUtf8(sm.store.get('a/1')!.value), 'v');
  });

  it('a stamp from the future is stale too; a stamped put round-trips through the binary codec', () => {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    const future = encodeCommand({
      type: 'put',
      key: new Uint8Array([97]),
      value: new Uint8Array(0),
      auth: { user: 'alice', revision: sm.auth.revision + 1 },
    });
    refused(sm.apply(future), 'ABORTED');
    const anonymous = encodeCommand({
      type: 'put',
      key: new Uint8Array([97]),
      value: new Uint8Array(0),
      auth: { user: null, revision: sm.auth.revision },
    });
    refused(sm.apply(anonymous), 'UNAUTHENTICATED');
  });

  it("retry identities are scoped to their user: bob cannot read alice's remembered outcome", () => {
    const sm = enabledStore({ type: 'readwrite', prefix: 'a/' });
    must(run(sm, root, { type: 'put', key: 'a/1', value: 'old secret' }));
    must(run(sm, alice, { type: 'put', key: 'a/1', value: 'new', prevKv: true, clientId: 'lane', seq: 7 }));
    // Bob replays alice's retry identity on a key he may not write: checked, not answered from alice's entry.
    const stamped = encodeCommand({
      ...validateCommand({ type: 'put', key: 'a/1', value: 'x', prevKv: true, clientId: 'lane', seq: 7 }, sm.limits),
      auth: { user: 'bob', revision: sm.auth.revision },
    } as KvCommand);
    refused(sm.apply(stamped), 'PERMISSION_DENIED');
  });
});

describe('KV roles: snapshots', () => {
  it('the auth state round-trips through a snapshot and decides the same', () => {
    const sm = enabledStore(
      { type: 'read', key: 'a', rangeEnd: 'm' },
      { type: 'write', prefix: 'w/' },
      { type: 'readwrite', key: 'z', rangeEnd: '\0' },
    );
    must(run(sm, root, { type: 'role-add', role: 'empty' }));
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    assert.deepEqual(copy.auth.dump(), sm.auth.dump());
    assert.deepEqual(copy.snapshot(), sm.snapshot());
    for (const probe of [
      range({ from: 'a', to: 'm' }),
      range({ from: 'a' }),
      range({ from: 'z' }),
      { type: 'put', key: 'w/1', value: '' },
      { type: 'put', key: 'x', value: '' },
    ]) {
      assert.equal(run(copy, alice, probe).ok, run(sm, alice, probe).ok, JSON.stringify(probe));
    }
    // A command stamped before the snapshot was taken is judged by the same auth revision after a restore.
    assert.equal(copy.auth.revision, sm.auth.revision);
  });
});
