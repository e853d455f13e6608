import { type History, type Operation, UNKNOWN, type Unknown } from './history.js';
import type { Model } from './model.js';

/**
 * A sequential specification of Parley's etcd-like key-value store.
 *
 * Two variants (see docs/LINEARIZABILITY.md, "Revisions and partitioning"):
 * - `kvModel()` ignores revisions. Every operation only depends on the keys it touches, so the
 *   history is partitioned into connected components of keys (one per key unless a txn spans
 *   several); `modRevision` compares cannot be checked and are rejected.
 * - `kvModel({ revisions: true })` also models the store's global revision: it increases by exactly
 *   one per write (put; delete that removed something; txn whose taken branch writes), and every
 *   output that carries a revision must match. The revision couples all keys, so it never partitions.
 */

export type KvCompare =
  | { readonly key: string; readonly target: 'value'; readonly equals: string | null }
  | { readonly key: string; readonly target: 'version' | 'modRevision'; readonly equals: number };

export type KvTxnOp =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string };

export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | {
      readonly op: 'cas';
      readonly key: string;
      /** Compare on the current value (null: absent) or, with revisions, on the key's modRevision. */
      readonly expect: { readonly value: string | null } | { readonly modRevision: number };
      readonly value: string;
    }
  | {
      readonly op: 'txn';
      readonly compare: readonly KvCompare[];
      readonly success: readonly KvTxnOp[];
      readonly failure: readonly KvTxnOp[];
    };

export type KvTxnResult =
  | { readonly op: 'get'; readonly value: string | null }
  | { readonly op: 'put' }
  | { readonly op: 'delete'; readonly deleted: number };

/** `revision` is the store revision in the response header; optional everywhere. */
export type KvOutput =
  | { readonly op: 'get'; readonly value: string | null; readonly revision?: number }
  | { readonly op: 'put'; readonly revision?: number }
  | { readonly op: 'delete'; readonly deleted: number; readonly revision?: number }
  | { readonly op: 'cas'; readonly succeeded: boolean; readonly revision?: number }
  | {
      readonly op: 'txn';
      readonly succeeded: boolean;
      readonly results?: readonly KvTxnResult[];
      readonly revision?: number;
    };

export interface KvKeyState {
  readonly value: string;
  /** Writes since the key was (re)created; 1 after the first put (0 when versions are not modelled). */
  readonly version: number;
  /** Revision of the last write (0 when revisions are not modelled). */
  readonly modRevision: number;
}

/** Immutable; `keys` holds only present keys. */
export interface KvState {
  readonly revision: number;
  readonly keys: ReadonlyMap<string, KvKeyState>;
}

export interface KvModelOptions {
  /** Model and check the global revision (disables partitioning). Default false. */
  readonly revisions?: boolean;
  /**
   * Track per-key versions, needed for txn compares on `version`. Default: same as `revisions`.
   * Off, states that differ only in how many times a key was written are equal, which lets the
   * cache merge branches where an unknown-outcome put did or did not happen before an overwrite
   * (with versions on, such branches stay distinct and the search can be much slower).
   */
  readonly versions?: boolean;
}

/** Keys an input reads or writes. */
export function keysOf(input: KvInput): string[] {
  if (input.op !== 'txn') return [input.key];
  const keys = new Set<string>();
  for (const c of input.compare) keys.add(c.key);
  for (const o of input.success) keys.add(o.key);
  for (const o of input.failure) keys.add(o.key);
  return [...keys];
}

interface Applied {
  readonly state: KvState;
  readonly output: KvOutput;
}

/** Applies `input` sequentially; the reference semantics of the store. */
export function applyKv(state: KvState, input: KvInput, revisions: boolean, versions = true): Applied {
  // Copy-on-write: reads share `state.keys`; the first write copies it.
  let copy: Map<string, KvKeyState> | undefined;
  const rev = state.revision + 1; // the revision a write in this operation gets
  let wrote = false;
  const read = (key: string) => (copy ?? state.keys).get(key);
  const put = (key: string, value: string) => {
    const prev = read(key);
    copy ??= new Map(state.keys);
    copy.set(key, { value, version: versions ? (prev?.version ?? 0) + 1 : 0, modRevision: revisions ? rev : 0 });
    wrote = true;
  };
  const del = (key: string): number => {
    if (!read(key)) return 0;
    copy ??= new Map(state.keys);
    copy.delete(key);
    wrote = true;
    return 1;
  };
  const finish = (output: KvOutput): Applied => {
    const revision = wrote ? rev : state.revision;
    const next = wrote && copy ? { revision: revisions ? revision : 0, keys: copy } : state;
    return { state: next, output: revisions ? { ...output, revision } : output };
  };
  switch (input.op) {
    case 'get':
      return finish({ op: 'get', value: state.keys.get(input.key)?.value ?? null });
    case 'put':
      put(input.key, input.value);
      return finish({ op: 'put' });
    case 'delete':
      return finish({ op: 'delete', deleted: del(input.key) });
    case 'cas': {
      const cur = state.keys.get(input.key);
      const ok =
        'value' in input.expect
          ? (cur?.value ?? null) === input.expect.value
          : (cur?.modRevision ?? 0) === input.expect.modRevision;
      if (ok) put(input.key, input.value);
      return finish({ op: 'cas', succeeded: ok });
    }
    case 'txn': {
      const ok = input.compare.every((c) => {
        const cur = state.keys.get(c.key);
        if (c.target === 'value') return (cur?.value ?? null) === c.equals;
        if (c.target === 'version') return (cur?.version ?? 0) === c.equals;
        return (cur?.modRevision ?? 0) === c.equals;
      });
      const results: KvTxnResult[] = [];
      for (const o of ok ? input.success : input.failure) {
        if (o.op === 'get') results.push({ op: 'get', value: read(o.key)?.value ?? null });
        else if (o.op === 'put') {
          put(o.key, o.value);
          results.push({ op: 'put' });
        } else results.push({ op: 'delete', deleted: del(o.key) });
      }
      return finish({ op: 'txn', succeeded: ok, results });
    }
  }
}

/**
 * True when `observed` is what the model produced, ignoring fields the client did not record
 * (and, when revisions are not modelled, ignoring revisions).
 */
function matches(expected: KvOutput, observed: KvOutput, revisions: boolean): boolean {
  if (expected.op !== observed.op) return false;
  if (revisions && observed.revision !== undefined && observed.revision !== expected.revision) return false;
  switch (observed.op) {
    case 'get':
      return (expected as typeof observed).value === observed.value;
    case 'put':
      return true;
    case 'delete':
      return (expected as typeof observed).deleted === observed.deleted;
    case 'cas':
      return (expected as typeof observed).succeeded === observed.succeeded;
    case 'txn': {
      const e = expected as typeof observed;
      if (e.succeeded !== observed.succeeded) return false;
      if (observed.results === undefined) return true;
      return JSON.stringify(e.results) === JSON.stringify(observed.results);
    }
  }
}

function usesTarget(input: KvInput, target: 'version' | 'modRevision'): boolean {
  if (input.op === 'cas') return target === 'modRevision' && 'modRevision' in input.expect;
  if (input.op === 'txn') return input.compare.some((c) => c.target === target);
  return false;
}

export function describeKvInput(input: KvInput): string {
  switch (input.op) {
    case 'get':
    case 'delete':
      return `${input.op}(${input.key})`;
    case 'put':
      return `put(${input.key}, ${JSON.stringify(input.value)})`;
    case 'cas': {
      const e = 'value' in input.expect ? JSON.stringify(input.expect.value) : `modRev=${input.expect.modRevision}`;
      return `cas(${input.key}, ${e} → ${JSON.stringify(input.value)})`;
    }
    case 'txn': {
      const cmp = input.compare.map((c) => `${c.key}.${c.target}==${JSON.stringify(c.equals)}`).join(' && ');
      const ops = (l: readonly KvTxnOp[]) =>
        l.map((o) => (o.op === 'put' ? `put(${o.key}, ${JSON.stringify(o.value)})` : `${o.op}(${o.key})`)).join('; ');
      return `txn(if ${cmp || 'true'} then ${ops(input.success) || '-'} else ${ops(input.failure) || '-'})`;
    }
  }
}

export function describeKvOutput(output: KvOutput | Unknown): string {
  if (output === UNKNOWN) return 'unknown';
  const rev = output.revision !== undefined ? ` @rev ${output.revision}` : '';
  switch (output.op) {
    case 'get':
      return `${JSON.stringify(output.value)}${rev}`;
    case 'put':
      return `ok${rev}`;
    case 'delete':
      return `deleted ${output.deleted}${rev}`;
    case 'cas':
      return `${output.succeeded ? 'succeeded' : 'failed'}${rev}`;
    case 'txn':
      return `${output.succeeded ? 'succeeded' : 'failed'}${output.results ? ` ${JSON.stringify(output.results)}` : ''}${rev}`;
  }
}

export function describeKvState(state: KvState): string {
  const keys = [...state.keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = keys.map(([k, v]) => `${k}=${JSON.stringify(v.value)}${v.version ? `(v${v.version})` : ''}`).join(', ');
  return `{${body}}${state.revision ? ` rev ${state.revision}` : ''}`;
}

export function kvModel(options: KvModelOptions = {}): Model<KvState, KvInput, KvOutput> {
  const revisions = options.revisions ?? false;
  const versions = options.versions ?? revisions;
  return {
    init: () => ({ revision: revisions ? 1 : 0, keys: new Map() }),
    step(state, input, output) {
      if (!revisions && usesTarget(input, 'modRevision')) {
        throw new Error('modRevision compares need kvModel({ revisions: true })');
      }
      if (!versions && usesTarget(input, 'version')) {
        throw new Error('version compares need kvModel({ versions: true })');
      }
      const applied = applyKv(state, input, revisions, versions);
      if (output !== UNKNOWN && !matches(applied.output, output, revisions)) return undefined;
      return applied.state;
    },
    key(state) {
      let s = `${state.revision}`;
      const keys = [...state.keys.keys()].sort();
      for (const k of keys) {
        const v = state.keys.get(k)!;
        s += `\u0000${k}\u0001${v.value}\u0001${v.version}\u0001${v.modRevision}`;
      }
      return s;
    },
    partition: revisions ? undefined : partitionByKeys,
    // Measured: values-only histories check far faster unknown-first, revision ones known-first.
    unknownFirst: !revisions,
    canRemove: keepObservedWrites,
    describeOperation: (input, output) => `${describeKvInput(input)} → ${describeKvOutput(output)}`,
    describeState: describeKvState,
  };
}

/** Connected components of operations sharing keys (union-find over keys). */
export function partitionByKeys(history: History<KvInput, KvOutput>): number[][] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    while (parent.get(k) !== r) {
      const up = parent.get(k)!;
      parent.set(k, r);
      k = up;
    }
    return r;
  };
  const opKeys = history.map((op) => keysOf(op.input));
  for (const keys of opKeys) {
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (let i = 1; i < keys.length; i++) {
      const a = find(keys[0]!);
      const b = find(keys[i]!);
      if (a !== b) parent.set(a, b);
    }
  }
  const groups = new Map<string, number[]>();
  opKeys.forEach((keys, i) => {
    const root = keys.length > 0 ? find(keys[0]!) : '';
    const g = groups.get(root);
    if (g) g.push(i);
    else groups.set(root, [i]);
  });
  return [...groups.values()];
}

/** Values an operation wrote (for put/cas/txn puts). */
function writtenValues(input: KvInput): string[] {
  if (input.op === 'put' || input.op === 'cas') return [input.value];
  if (input.op !== 'txn') return [];
  return [...input.success, ...input.failure].flatMap((o) => (o.op === 'put' ? [o.value] : []));
}

/** Values an operation observed (get results, also inside txns, and cas/txn compares on value). */
function observedValues(op: Operation<KvInput, KvOutput>): string[] {
  const seen: string[] = [];
  const out = op.output;
  if (out !== UNKNOWN && out.op === 'get' && out.value !== null) seen.push(out.value);
  if (out !== UNKNOWN && out.op === 'txn') {
    for (const r of out.results ?? []) if (r.op === 'get' && r.value !== null) seen.push(r.value);
  }
  if (op.input.op === 'cas' && 'value' in op.input.expect && op.input.expect.value !== null) {
    seen.push(op.input.expect.value);
  }
  if (op.input.op === 'txn') {
    for (const c of op.input.compare) if (c.target === 'value' && c.equals !== null) seen.push(c.equals);
  }
  return seen;
}

/**
 * Minimization hint: never drop a write whose value a remaining operation observed, so a shrunk
 * stale read keeps the write it read (instead of becoming "a value never written").
 */
export function keepObservedWrites(
  removed: readonly Operation<KvInput, KvOutput>[],
  remaining: readonly Operation<KvInput, KvOutput>[],
): boolean {
  const written = new Set(removed.flatMap((op) => writtenValues(op.input)));
  if (written.size === 0) return true;
  return !remaining.some((op) => observedValues(op).some((v) => written.has(v)));
}
