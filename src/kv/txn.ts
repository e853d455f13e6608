import { compareBytes } from './bytes.js';
import type { Compare } from './commands.js';
import type { KeyValue } from './types.js';

/**
 * Evaluates one txn comparison against the key's current value. A missing key compares as
 * version = createRevision = modRevision = lease = 0; a value comparison on a missing key is
 * false whatever the operator (etcd does the same).
 */
export function evaluateCompare(c: Compare, kv: KeyValue | undefined): boolean {
  let d: number;
  if (c.target === 'value') {
    if (kv === undefined) return false;
    d = compareBytes(kv.value, c.value as Uint8Array);
  } else {
    const actual = kv === undefined ? 0 : kv[c.target];
    d = actual - (c.value as number);
  }
  switch (c.op) {
    case '=':
      return d === 0;
    case '!=':
      return d !== 0;
    case '<':
      return d < 0;
    case '>':
      return d > 0;
  }
}
