/**
 * Type-level tests of traffic's call and action options: compiled by `tsc` and never run. Importing
 * traffic adds its options to the node's option types (module augmentation in call-options.ts), so
 * the compiler checks them; each `@ts-expect-error` line must fail to type-check.
 */
import { createNode } from '../node/node.js';
import { defineService } from '../node/service.js';
import { Traffic } from './traffic.js';

export async function trafficOptions(): Promise<void> {
  const traffic = new Traffic();
  const node = createNode({ port: null, ...traffic.nodeOptions });
  await node.call('kv.get', { key: 'a' }, { strategy: 'hash', hashKey: 'a', idempotent: true });
  await node.call('kv.get', { key: 'a' }, { traffic: { retry: { maxAttempts: 2 }, timeout: 50 } });
  // @ts-expect-error unknown strategy name
  await node.call('kv.get', { key: 'a' }, { strategy: 'fastest' });
  // @ts-expect-error hashKey is a string or number
  await node.call('kv.get', { key: 'a' }, { hashKey: { id: 1 } });
  // @ts-expect-error idempotent is a boolean
  await node.call('kv.get', { key: 'a' }, { idempotent: 'yes' });
  // @ts-expect-error misspelled policy
  await node.call('kv.get', { key: 'a' }, { traffic: { retries: 3 } });
  defineService({
    name: 'kv',
    actions: {
      get: { handler: () => 1, traffic: { server: { bulkhead: { maxConcurrent: 4 } } } },
      // @ts-expect-error the action's policies are checked too
      put: { handler: () => 1, traffic: { server: { bulkhed: { maxConcurrent: 4 } } } },
    },
  });
}
