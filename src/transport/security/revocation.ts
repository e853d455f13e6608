import type { CancelTimer, Timer } from '../../base/clock.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { RefusalReason } from '../connection-refusal.js';
import type { Principal } from '../principal.js';
import type { ResolvedAuth } from './auth-options.js';

/**
 * Revocation without restart: when the trust list or the token keys change (a reloaded file,
 * `node.updateAuth`), every authenticated connection is judged again against the new options, and
 * a connection whose identity no longer holds is closed (the mesh sends GOODBYE `UNAUTHENTICATED`
 * with refusal `revoked`, logs it, and the node audits it): its peer must authenticate again, and
 * is refused. A connection authenticated by a token is closed when the token's `exp` passes
 * (`token-expired`; its client may redial with a fresh token).
 *
 * What is judged again: a key (still trusted, under the same name and groups), a token (verified
 * again with the new keys; a key removed from `auth.tokens` revokes every token it signed). A
 * cluster secret, a TLS certificate and the hook's verdict are not (see SECURITY.md, Revocation).
 *
 * Invariants: at most one expiry timer per connection, cancelled when it closes; a connection is
 * judged against the newest options only (a stale judgement is dropped).
 */

/** What a connection's handshake presented that can be judged again. */
export interface PresentedProof {
  /** The canonical public key (key mode). */
  readonly publicKey?: string | undefined;
  /** The bearer token (token mode). */
  readonly token?: string | undefined;
}

export interface Revocation {
  readonly reason: RefusalReason;
  readonly message: string;
}

/** Why `principal`, proven by `proof`, no longer holds under `auth`; undefined while it does. */
export async function revocationOf(
  principal: Principal,
  proof: PresentedProof,
  auth: ResolvedAuth,
): Promise<Revocation | undefined> {
  if (principal.via === 'key' && proof.publicKey !== undefined) {
    const entry = auth.trust.get(proof.publicKey);
    if (!entry) return { reason: 'revoked', message: `the key of '${principal.name}' was removed from the trust list` };
    if (entry.name !== principal.name) {
      return { reason: 'revoked', message: `the key of '${principal.name}' is now trusted as '${entry.name}'` };
    }
    if (!sameGroups(entry.groups, principal.groups)) {
      return { reason: 'revoked', message: `the groups of '${principal.name}' changed in the trust list` };
    }
    return undefined;
  }
  if (principal.via === 'token' && proof.token !== undefined) {
    if (!auth.verifyToken) return { reason: 'revoked', message: 'this node no longer accepts tokens' };
    try {
      const again = await auth.verifyToken(proof.token);
      if (again.name !== principal.name || !sameGroups(again.groups, principal.groups)) {
        return { reason: 'revoked', message: `the token of '${principal.name}' no longer proves the same identity` };
      }
      return undefined;
    } catch (err) {
      const e = ParleyError.from(err);
      const expired = (e.details as { reason?: unknown } | undefined)?.reason === 'token-expired';
      return {
        reason: expired ? 'token-expired' : 'revoked',
        message: `the token of '${principal.name}': ${e.message}`,
      };
    }
  }
  return undefined;
}

/** Milliseconds until a token principal's `exp` (negative: past), or undefined when it has none. */
export function tokenExpiresInMs(principal: Principal, nowEpochMs: number): number | undefined {
  if (principal.via !== 'token') return undefined;
  const exp = principal.claims?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 - nowEpochMs : undefined;
}

/**
 * Closes token connections when their token expires: `watch` at admission, `forget` at close.
 * Long waits are cut into timer-sized steps (a timer clamps beyond 2^31 ms).
 */
export class TokenExpiry<K> {
  private readonly timers = new Map<K, CancelTimer>();

  constructor(
    private readonly timer: Timer,
    private readonly expired: (key: K, principal: Principal) => void,
    private readonly wallNow: () => number = Date.now,
  ) {}

  watch(key: K, principal: Principal): void {
    const left = tokenExpiresInMs(principal, this.wallNow());
    if (left === undefined) return;
    this.forget(key);
    this.timers.set(
      key,
      this.timer.setTimeout(
        () => {
          this.timers.delete(key);
          if ((tokenExpiresInMs(principal, this.wallNow()) ?? 0) > 0) this.watch(key, principal);
          else this.expired(key, principal);
        },
        Math.min(Math.max(left, 0), MAX_STEP_MS),
      ),
    );
  }

  forget(key: K): void {
    this.timers.get(key)?.();
    this.timers.delete(key);
  }
}

const MAX_STEP_MS = 2 ** 31 - 1;

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((g) => set.has(g));
}
