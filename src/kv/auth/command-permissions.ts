import type { KvOperation, TxnOp } from '../commands.js';
import { keyRange } from '../key-range.js';
import type { LeaseTable } from '../leases.js';
import { denied } from './auth-errors.js';
import type { AuthStore } from './auth-store.js';
import type { KvCaller } from './auth-types.js';

/**
 * What each command needs of its caller (etcd's auth applier), checked when a member accepts
 * the command and again when it is applied:
 * - range: read on the whole range; put: write on the key (with or without a lease); delete:
 *   write on the whole range;
 * - txn: read on every compared key, and every operation of both branches (whichever runs);
 * - lease revoke: write on every key attached to the lease when it is applied (revoking deletes
 *   them); lease grant and keep-alive: any user;
 * - compact, lease expiry and checkpoints, and every auth change: root (anyone while auth is
 *   disabled: then nothing is checked at all, as in etcd).
 * Ranges are checked whole: a request whose range reaches past the permissions (an open-ended
 * range, a wider prefix) is refused, never trimmed to what the user may see.
 */
export function checkCommand(auth: AuthStore, caller: KvCaller, cmd: KvOperation, leases: LeaseTable): void {
  if (caller.kind === 'server' || !auth.enabled) return;
  switch (cmd.type) {
    case 'range':
    case 'put':
    case 'delete':
      checkOp(auth, caller, cmd);
      return;
    case 'txn':
      for (const c of cmd.compare) auth.checkRange(caller, keyRange({ key: c.key }), 'read');
      for (const op of cmd.success) checkOp(auth, caller, op);
      for (const op of cmd.failure) checkOp(auth, caller, op);
      return;
    case 'lease-grant':
    case 'lease-keepalive':
      auth.checkUser(caller);
      return;
    case 'lease-revoke': {
      auth.checkUser(caller);
      const lease = leases.get(cmd.id);
      if (lease === undefined) return; // NOT_FOUND when it runs
      for (const k of lease.keys) {
        if (!auth.allows(caller, { from: k, to: `${k}\0`, single: true }, 'write')) {
          // Not naming the key: the caller may not know it exists.
          throw denied(caller.name, 'write', `every key attached to lease ${cmd.id} (revoking it deletes them)`);
        }
      }
      return;
    }
    case 'compact':
    case 'lease-expire':
    case 'lease-checkpoint':
      auth.checkAdmin(caller, cmd.type);
      return;
    default:
      auth.checkAdmin(caller, cmd.type);
  }
}

function checkOp(auth: AuthStore, caller: KvCaller, op: TxnOp): void {
  switch (op.type) {
    case 'range':
      auth.checkRange(caller, keyRange(op.range), 'read');
      return;
    case 'put':
      auth.checkRange(caller, keyRange({ key: op.key }), 'write');
      return;
    case 'delete':
      auth.checkRange(caller, keyRange(op.range), 'write');
      return;
  }
}

/**
 * Lease TimeToLive with its keys (CVE-2023-32082: etcd listed them to anyone): only for a
 * caller who may read every attached key; refused otherwise, without naming any key.
 */
export function checkLeaseKeys(auth: AuthStore, caller: KvCaller, id: number, keys: Iterable<string>): void {
  if (caller.kind === 'server' || !auth.enabled) return;
  auth.checkUser(caller);
  for (const k of keys) {
    if (!auth.allows(caller, { from: k, to: `${k}\0`, single: true }, 'read')) {
      throw denied(caller.name, 'read', `every key attached to lease ${id} (asked to list them)`);
    }
  }
}
