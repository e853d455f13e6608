import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KvCaller } from '../../kv/auth/auth-types.js';
import { waitUntil } from '../../node/testing/test-cluster.js';
import { type KvServer, startServer } from './start-server.js';

const alice: KvCaller = { kind: 'user', name: 'alice', authenticated: true };

/**
 * KvMember.propose and the auth revision, made deterministic: an auth change proposed first and
 * a put proposed right after it (same tick) are both in the log before either applies, so the
 * put's stamp is one revision old when it is applied. The member must check it again and
 * propose it anew: applied when still allowed, refused when the change took the permission.
 */
describe('KvMember: a command whose auth revision changed in flight', () => {
  let dir: string;
  let server: KvServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-kv-member-auth-'));
    server = await startServer({ id: 's1', dataDir: join(dir, 's1'), listen: '127.0.0.1:0', logger: 'silent' });
    await waitUntil(() => server.member.isLeader, 10_000, 'a leader');
    const m = server.member;
    for (const c of [
      { type: 'user-add', user: 'root' },
      { type: 'user-grant-role', user: 'root', role: 'root' },
      { type: 'user-add', user: 'alice' },
      { type: 'role-add', role: 'app' },
      { type: 'role-grant-permission', role: 'app', permission: { type: 'readwrite', prefix: 'app/' } },
      { type: 'user-grant-role', user: 'alice', role: 'app' },
      { type: 'role-add', role: 'other' },
      { type: 'auth-enable' },
    ]) {
      await m.propose(c);
    }
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is proposed again and applied when the change left it allowed', async () => {
    const m = server.member;
    const before = m.sm.auth.revision;
    const change = m.propose({ type: 'role-grant-permission', role: 'other', permission: { type: 'read', key: 'x' } });
    const put = m.propose({ type: 'put', key: 'app/1', value: 'v' }, alice);
    await change;
    const r = await put;
    assert.equal(r.type, 'put');
    assert.equal(m.sm.auth.revision, before + 1);
    assert.equal(m.sm.store.get('app/1')?.version, 1, 'applied once');
  });

  it('is refused with PERMISSION_DENIED when the change revoked the permission', async () => {
    const m = server.member;
    const revoke = m.propose({ type: 'role-revoke-permission', role: 'app', prefix: 'app/' });
    const put = m.propose({ type: 'put', key: 'app/2', value: 'v' }, alice);
    await revoke;
    await assert.rejects(put, { code: 'PERMISSION_DENIED', message: /user 'alice' may not write key "app\/2"/ });
    assert.equal(m.sm.store.get('app/2'), undefined);
  });

  it('a stamp that came with the request is replaced by the member’s own', async () => {
    const m = server.member;
    const forged = { type: 'put', key: 'secret', value: 'v', auth: { user: 'root', revision: m.sm.auth.revision } };
    await assert.rejects(m.propose(forged, alice), { code: 'PERMISSION_DENIED' });
    assert.equal(m.sm.store.get('secret'), undefined);
  });
});
