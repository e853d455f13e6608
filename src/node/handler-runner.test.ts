import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryNetwork } from '../transport/memory-transport.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Context } from './context.js';
import type { ParleyNode } from './node.js';
import { startCluster, stopAll } from './testing/test-cluster.js';

/**
 * runHandler, through real nodes: one runner serves local calls and requests from peers, so each
 * rule is checked on both paths. A handler that never settles on its own shows who gave up.
 */
describe('runHandler: deadlines and cancellation, local and remote', () => {
  let nodes: ParleyNode[];
  const aborted: string[] = [];
  /** Never settles by itself; records why its context aborted. */
  const hang = (_p: unknown, ctx: Context) =>
    new Promise((_, reject) =>
      ctx.signal.addEventListener('abort', () => {
        aborted.push(`${ctx.nodeId}:${ParleyError.from(ctx.signal.reason).code}`);
        reject(ctx.signal.reason);
      }),
    );
  const svc = {
    name: 'h',
    actions: {
      hang,
      bounded: { handler: hang, timeout: 50 },
      sync: (p: { n: number }) => p.n * 2,
      // Ignores its signal and never settles: only the runner's own timer can end the wait.
      deaf: () => new Promise(() => {}),
      deafBounded: { handler: () => new Promise(() => {}), timeout: 50 },
      throws: () => {
        throw new Error('boom');
      },
    },
  };

  before(async () => {
    nodes = await startCluster([[svc], []], { memory: new MemoryNetwork() });
  });
  after(() => stopAll(nodes));

  const codeOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return ParleyError.from(err);
    }
    assert.fail('expected a failure');
  };

  it('a local call gives up at its deadline and aborts the handler with DEADLINE_EXCEEDED', async () => {
    aborted.length = 0;
    const err = await codeOf(nodes[0]!.call('h.hang', {}, { timeout: 30 }));
    assert.equal(err.code, 'DEADLINE_EXCEEDED');
    assert.deepEqual(aborted, ['n1:DEADLINE_EXCEEDED']);
  });

  it("an action's own timeout answers a remote caller at once, though the caller would wait longer", async () => {
    aborted.length = 0;
    const err = await codeOf(nodes[1]!.call('h.bounded', {}, { timeout: 60_000 }));
    assert.equal(err.code, 'DEADLINE_EXCEEDED');
    assert.doesNotMatch(err.message, /got no answer/, 'the serving node answered; the caller did not time out');
    assert.match(err.message, /h\.bounded/);
    assert.deepEqual(aborted, ['n1:DEADLINE_EXCEEDED']);
  });

  it('a handler that ignores its signal: the runner still gives up at the deadline, locally and remotely', async () => {
    const local = await codeOf(nodes[0]!.call('h.deaf', {}, { timeout: 30 }));
    assert.equal(local.code, 'DEADLINE_EXCEEDED');
    const remote = await codeOf(nodes[1]!.call('h.deafBounded', {}, { timeout: 60_000 }));
    assert.equal(remote.code, 'DEADLINE_EXCEEDED');
    assert.match(remote.message, /did not finish within its 50 ms timeout/, 'answered by the serving node');
  });

  it('a local call whose signal aborts gives up with the reason and aborts the handler', async () => {
    aborted.length = 0;
    const controller = new AbortController();
    const call = nodes[0]!.call('h.hang', {}, { signal: controller.signal });
    controller.abort(new ParleyError('CANCELLED', 'user left'));
    const err = await codeOf(call);
    assert.equal(err.code, 'CANCELLED');
    assert.equal(err.message, 'user left');
    assert.deepEqual(aborted, ['n1:CANCELLED']);
    const before = await codeOf(nodes[0]!.call('h.sync', { n: 1 }, { signal: controller.signal }));
    assert.equal(before.code, 'CANCELLED', 'an already aborted signal: the handler never starts');
  });

  it('sync results and throws come back the same way locally and remotely', async () => {
    for (const caller of nodes) {
      assert.equal(await caller.call('h.sync', { n: 21 }), 42);
      const err = await codeOf(caller.call('h.throws'));
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /boom/);
    }
  });
});
