import { ParleyError } from '../../wire/parley-error.js';

/** The errors of KV roles: each says what was refused, for whom, and what to do. */

export function staleAuthRevision(stamped: number, current: number): ParleyError {
  return new ParleyError(
    'ABORTED',
    `permissions changed while the request was in flight (auth revision ${stamped} → ${current}); retry`,
    { details: { reason: 'auth-revision-changed', stamped, current } },
  );
}

export function unauthenticated(): ParleyError {
  return new ParleyError(
    'UNAUTHENTICATED',
    'KV authentication is enabled; connect with a key, a secret or a token (or a client certificate)',
    { details: { reason: 'kv-auth-enabled' } },
  );
}

export function notAUser(user: string): ParleyError {
  return new ParleyError(
    'PERMISSION_DENIED',
    `'${user}' is not a KV user; an admin adds it: parley kv user add ${JSON.stringify(user)}`,
    { details: { reason: 'kv-permission', user } },
  );
}

export function denied(user: string, need: 'read' | 'write', what: string): ParleyError {
  return new ParleyError(
    'PERMISSION_DENIED',
    `user '${user}' may not ${need} ${what}; an admin grants it with parley kv role grant`,
    { details: { reason: 'kv-permission', user, need } },
  );
}

export function notRoot(user: string, action: string): ParleyError {
  return new ParleyError(
    'PERMISSION_DENIED',
    `${action} needs the root role while KV authentication is enabled; user '${user}' does not have it`,
    { details: { reason: 'kv-permission', user, need: 'root' } },
  );
}

export function invalidAuthChange(message: string): ParleyError {
  return new ParleyError('FAILED_PRECONDITION', message, { details: { reason: 'kv-auth' } });
}
