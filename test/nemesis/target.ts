/**
 * What the nemesis workload drives: a key-value store that runs the checker's operations
 * (`KvInput` → `KvOutput`, see test/support/linearizability/kv-model.ts) and streams every change.
 *
 * Two implementations: `kv-client-target.ts` (the real client against `parley server`
 * processes) and `memory-target.ts` (an in-process KvStateMachine with optional planted bugs,
 * which proves the harness can fail). This file also holds the mapping of the checker's
 * operations onto etcd-style txn requests, shared by both.
 */
import type { KvInput, KvOutput, KvTxnOp, KvTxnResult } from '../support/linearizability/index.js';

/** A change as a watch delivers it, with bytes decoded as UTF-8. */
export interface WatchedEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

export interface WatchHandle {
  cancel(): void;
  /** Resolves when the watch ends: null after cancel(), the error when it failed. */
  readonly closed: Promise<Error | null>;
}

export interface KvTarget {
  /** Runs one operation. Throws when the outcome is not definitely known to the client. */
  run(input: KvInput): Promise<KvOutput>;
  /** Watches every key from `startRevision`; `onEvents` gets whole revisions, in order. */
  watchAll(startRevision: number, onEvents: (events: readonly WatchedEvent[]) => void): WatchHandle;
  /** Every key with its value and modRevision, and the store revision of the read (linearizable). */
  readAll(): Promise<{ readonly kvs: ReadonlyMap<string, KeyState>; readonly revision: number }>;
  close(): Promise<void>;
}

export interface KeyState {
  readonly value: string;
  readonly modRevision: number;
}

// ---- etcd-style request shapes (keys and values as strings; the client encodes them as UTF-8) ----

export type CompareRequest =
  | { readonly key: string; readonly target: 'value'; readonly op: '='; readonly value: string }
  | { readonly key: string; readonly target: 'version' | 'modRevision'; readonly op: '='; readonly value: number };

export type OpRequest =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'range'; readonly range: string }
  | { readonly type: 'delete'; readonly range: string };

export interface TxnRequest {
  readonly compare: readonly CompareRequest[];
  readonly success: readonly OpRequest[];
  readonly failure: readonly OpRequest[];
}

/** One response of a txn branch, as the store returns it (values as bytes or strings). */
export type OpResponse =
  | { readonly type: 'put' }
  | { readonly type: 'range'; readonly kvs: readonly { readonly value: Uint8Array | string }[] }
  | { readonly type: 'delete'; readonly deleted: number };

/**
 * The txn that implements a `cas` or `txn` input. "Absent" (`value: null`) becomes `version = 0`,
 * because a value compare on a missing key is false whatever the operator (etcd semantics).
 */
export function txnRequestOf(input: KvInput & { op: 'cas' | 'txn' }): TxnRequest {
  if (input.op === 'cas') {
    if (!('value' in input.expect)) throw new TypeError('the nemesis workload only compares on values');
    return {
      compare: [valueCompare(input.key, input.expect.value)],
      success: [{ type: 'put', key: input.key, value: input.value }],
      failure: [],
    };
  }
  return {
    compare: input.compare.map((c) => {
      if (c.target !== 'value') throw new TypeError('the nemesis workload only compares on values');
      return valueCompare(c.key, c.equals);
    }),
    success: input.success.map(opRequestOf),
    failure: input.failure.map(opRequestOf),
  };
}

function valueCompare(key: string, value: string | null): CompareRequest {
  return value === null ? { key, target: 'version', op: '=', value: 0 } : { key, target: 'value', op: '=', value };
}

function opRequestOf(op: KvTxnOp): OpRequest {
  if (op.op === 'put') return { type: 'put', key: op.key, value: op.value };
  if (op.op === 'get') return { type: 'range', range: op.key };
  return { type: 'delete', range: op.key };
}

/** The checker's output for a txn response; throws on a response that does not fit the request. */
export function txnOutputOf(
  input: KvInput & { op: 'cas' | 'txn' },
  response: { readonly succeeded: boolean; readonly responses: readonly OpResponse[]; readonly revision: number },
): KvOutput {
  if (input.op === 'cas') return { op: 'cas', succeeded: response.succeeded, revision: response.revision };
  const ops = response.succeeded ? input.success : input.failure;
  if (response.responses.length !== ops.length) {
    throw new Error(`txn answered ${response.responses.length} responses for ${ops.length} operations`);
  }
  const results: KvTxnResult[] = ops.map((op, i) => {
    const r = response.responses[i]!;
    if (op.op === 'get' && r.type === 'range') {
      const first = r.kvs[0];
      return { op: 'get', value: first === undefined ? null : text(first.value) };
    }
    if (op.op === 'put' && r.type === 'put') return { op: 'put' };
    if (op.op === 'delete' && r.type === 'delete') return { op: 'delete', deleted: r.deleted };
    throw new Error(`txn response ${i} is a ${r.type}, the request was a ${op.op}`);
  });
  return { op: 'txn', succeeded: response.succeeded, results, revision: response.revision };
}

const decoder = new TextDecoder();

export function text(bytes: Uint8Array | string): string {
  return typeof bytes === 'string' ? bytes : decoder.decode(bytes);
}
