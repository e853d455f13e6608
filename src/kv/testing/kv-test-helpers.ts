import assert from 'node:assert/strict';
import type { ErrorCode } from '../../wire/status.js';
import { bytesToUtf8 } from '../bytes.js';
import type { KvStateMachine } from '../kv-state-machine.js';
import type { KeyValue, KvResult } from '../types.js';

/** Applies a command that must succeed; returns its result narrowed to the command's type. */
export function ok<T extends KvResult['type']>(sm: KvStateMachine, cmd: { type: T } & Record<string, unknown>) {
  const o = sm.apply(cmd);
  if (!o.ok) assert.fail(`${cmd.type} failed: ${o.error.code} ${o.error.message}`);
  assert.equal(o.result.type, cmd.type);
  return o.result as Extract<KvResult, { type: T }>;
}

/** Applies a command that must fail with `code`; returns the error. */
export function fails(sm: KvStateMachine, cmd: unknown, code: ErrorCode) {
  const o = sm.apply(cmd);
  if (o.ok) assert.fail(`expected ${code}, got ${JSON.stringify(o.result)}`);
  assert.equal(o.error.code, code, o.error.message);
  return o.error;
}

/** Key → value as UTF-8 strings, for compact assertions. */
export function kvText(kvs: readonly KeyValue[]): [string, string][] {
  return kvs.map((kv) => [bytesToUtf8(kv.key), bytesToUtf8(kv.value)]);
}
