/**
 * Property test: random roles and random requests over a small byte alphabet, the store's
 * decision compared to a brute-force oracle that knows nothing of intervals or sweeps. The
 * oracle asks, for every probe key, whether the request could touch it and, if so, whether
 * some permission of the needed type names it (by the permission's own meaning: equal key,
 * in [key, end), from key on, starts with prefix). The probes are every short string of the
 * alphabet plus every boundary of every range involved, so coverage between two probes is
 * constant and the oracle is exact, open-ended ranges included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../base/random.js';
import { fromByteString, prefixEnd } from '../bytes.js';
import { keyRange } from '../key-range.js';
import { AuthStore } from './auth-store.js';
import type { KvCaller, KvPermissionType } from './auth-types.js';

const ALPHABET = [0x00, 0x61, 0x62, 0xff];

type Shape =
  | { kind: 'key'; key: string }
  | { kind: 'range'; key: string; end: string }
  | { kind: 'from'; key: string }
  | { kind: 'prefix'; key: string };

function contains(s: Shape, k: string): boolean {
  switch (s.kind) {
    case 'key':
      return k === s.key;
    case 'range':
      return k >= s.key && k < s.end;
    case 'from':
      return k >= s.key;
    case 'prefix':
      return k.startsWith(s.key);
  }
}

function boundaries(s: Shape): string[] {
  const out = [s.key, `${s.key}\0`];
  if (s.kind === 'range') out.push(s.end);
  if (s.kind === 'prefix') {
    const e = prefixEnd(s.key);
    if (e !== null) out.push(e);
  }
  return out;
}

describe('KV roles: permission decisions against a brute-force oracle', () => {
  it('2000 random roles × requests decide as the oracle does', () => {
    const random = seededRandom(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const word = (min: number) => {
      let s = '';
      const n = min + Math.floor(random() * (3 - min + 1));
      for (let i = 0; i < n; i++) s += String.fromCharCode(pick(ALPHABET));
      return s;
    };
    const shape = (): Shape => {
      const kind = pick(['key', 'range', 'from', 'prefix'] as const);
      if (kind === 'key') return { kind, key: word(1) };
      if (kind === 'range') {
        let a = word(0);
        let b = word(1);
        while (a === b) b = word(1);
        if (a > b) [a, b] = [b, a];
        return { kind, key: a, end: b };
      }
      return { kind, key: word(kind === 'from' ? 0 : 0) };
    };
    const universe: string[] = [''];
    for (let len = 1; len <= 3; len++) {
      for (const prev of universe.filter((u) => u.length === len - 1)) {
        for (const c of ALPHABET) universe.push(prev + String.fromCharCode(c));
      }
    }
    const alice: KvCaller = { kind: 'user', name: 'alice', authenticated: true };
    let allowed = 0;
    for (let round = 0; round < 2000; round++) {
      const auth = new AuthStore();
      auth.userAdd('root');
      auth.grantRole('root', 'root');
      auth.userAdd('alice');
      auth.roleAdd('r1');
      auth.roleAdd('r2');
      auth.grantRole('alice', 'r1');
      auth.grantRole('alice', 'r2');
      auth.enable();
      const perms: { shape: Shape; type: KvPermissionType; role: string }[] = [];
      const n = Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        let s = shape();
        // A permission's rangeEnd '\0' means "to the end" (etcd's convention), never [key, '\0').
        if (s.kind === 'range' && s.end === '\0') s = { kind: 'from', key: s.key };
        const type = pick(['read', 'write', 'readwrite'] as const);
        const b = (x: string) => fromByteString(x);
        const spec =
          s.kind === 'key'
            ? { type, key: b(s.key) }
            : s.kind === 'range'
              ? { type, key: b(s.key), rangeEnd: b(s.end) }
              : s.kind === 'from'
                ? { type, key: b(s.key), rangeEnd: new Uint8Array([0]) }
                : prefixSpec(type, s.key);
        // Same [key, rangeEnd) granted twice to a role keeps the later type, as the store does.
        const role = pick(['r1', 'r2']);
        const dup = perms.findIndex((p) => p.role === role && sameKeys(p.shape, s));
        if (dup >= 0) perms.splice(dup, 1);
        perms.push({ shape: s, type, role });
        auth.grantPermission(role, spec);
      }
      const req = shape();
      const need = pick(['read', 'write'] as const);
      const spec =
        req.kind === 'key'
          ? { key: fromByteString(req.key) }
          : req.kind === 'prefix'
            ? { prefix: fromByteString(req.key) }
            : req.kind === 'from'
              ? { from: fromByteString(req.key) }
              : { from: fromByteString(req.key), to: fromByteString(req.end) };
      const probes = new Set([...universe, ...universe.map((u) => `${u}\0`), ...boundaries(req)]);
      for (const p of perms) for (const x of boundaries(p.shape)) probes.add(x);
      const granted = perms.filter((p) => p.type === 'readwrite' || p.type === need);
      const oracle = [...probes].every((k) => !contains(req, k) || granted.some((p) => contains(p.shape, k)));
      const decided = auth.allows(alice, keyRange(spec), need);
      if (decided !== oracle) {
        assert.fail(
          `round ${round}: ${need} ${JSON.stringify(req)} with ${JSON.stringify(perms)}: store ${decided}, oracle ${oracle}`,
        );
      }
      if (decided) allowed++;
    }
    // Both answers occur often enough for the comparison to mean something.
    assert.ok(allowed > 200 && allowed < 1800, `allowed ${allowed} of 2000`);
  });
});

function prefixSpec(type: KvPermissionType, prefix: string) {
  const end = prefixEnd(prefix);
  return {
    type,
    key: fromByteString(prefix),
    rangeEnd: end === null ? new Uint8Array([0]) : fromByteString(end),
  };
}

/** Whether two shapes are stored as the same [key, rangeEnd). */
function sameKeys(a: Shape, b: Shape): boolean {
  const stored = (s: Shape) => {
    if (s.kind === 'key') return `${s.key}|`;
    if (s.kind === 'range') return `${s.key}|${s.end}`;
    if (s.kind === 'from') return `${s.key}|\0`;
    const e = prefixEnd(s.key);
    return `${s.key}|${e ?? '\0'}`;
  };
  return stored(a) === stored(b);
}
