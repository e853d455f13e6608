/**
 * Membership and failures with nodes as separate OS processes: discovery through one seed, a node
 * killed with SIGKILL, and a node stopped gracefully with SIGTERM while calls are in flight.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNode, type ParleyNode, type PeerView } from '../../src/node/node.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { killAll, type NodeProcess, spawnNode, until, within } from './harness.js';

const FAILURE_TIMEOUT_MS = 1000;

async function startClient(id: string, seed: string): Promise<ParleyNode> {
  const client = createNode({
    id,
    port: null,
    seeds: [seed],
    logger: 'silent',
    failureTimeout: FAILURE_TIMEOUT_MS,
    gossipInterval: 200,
  });
  await client.start();
  return client;
}

const connectedIds = (views: PeerView[]) =>
  views
    .filter((v) => v.connected)
    .map((v) => v.id)
    .sort();

describe('discovery', () => {
  it('three processes joined through one seed all learn each other', async () => {
    const procs: NodeProcess[] = [];
    let client: ParleyNode | undefined;
    try {
      const seed = await spawnNode({ id: 'd1' }, procs);
      await Promise.all([
        spawnNode({ id: 'd2', seeds: [seed.address] }, procs),
        spawnNode({ id: 'd3', seeds: [seed.address] }, procs),
      ]);
      client = await startClient('d-observer', seed.address);
      const c = client;
      // The observer learns d2 and d3 through gossip too, in either order: wait for both.
      await until(
        () => ['d2', 'd3'].every((id) => c.nodes().some((n) => n.id === id && n.connected)),
        'the observer to meet d2 and d3',
      );
      await until(async () => {
        const views = await Promise.all(
          ['d1', 'd2', 'd3'].map((id) => c.call('$node.nodes', {}, { nodeId: id }) as Promise<PeerView[]>),
        );
        return views.every((v) => ['d1', 'd2', 'd3'].every((id) => connectedIds(v).includes(id)));
      }, 'every node to list d1, d2 and d3 as connected');
      // d2 and d3 only knew d1's address: they must have learnt each other's through gossip.
      const d2 = (await c.call('$node.nodes', {}, { nodeId: 'd2' })) as PeerView[];
      assert.equal(d2.find((v) => v.id === 'd3')?.address, procs.find((p) => p.id === 'd3')!.address);
    } finally {
      await client?.stop();
      await killAll(procs);
    }
  });
});

describe('node failure', () => {
  it('SIGKILL: in-flight calls fail with UNAVAILABLE, later calls re-route, the node is forgotten', async () => {
    const procs: NodeProcess[] = [];
    let client: ParleyNode | undefined;
    try {
      const a = await spawnNode({ id: 'k1', failureTimeout: FAILURE_TIMEOUT_MS }, procs);
      const b = await spawnNode({ id: 'k2', seeds: [a.address], failureTimeout: FAILURE_TIMEOUT_MS }, procs);
      client = await startClient('k-client', a.address);
      const c = client;
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet k1 and k2');

      // Calls pinned to k2 that will still be running when it dies.
      const tokens = Array.from({ length: 5 }, (_, i) => `doomed-${i}`);
      const doomed = tokens.map((token) =>
        c.call('svc.sleep', { ms: 60_000, token }, { nodeId: 'k2', timeout: 60_000 }).then(
          (v) => v,
          (err: unknown) => err,
        ),
      );
      // And a caller that keeps calling through the balancer meanwhile.
      let calling = true;
      const outcomes: unknown[] = [];
      const loop = (async () => {
        while (calling) {
          outcomes.push(await c.call('svc.sleep', { ms: 20 }, { timeout: 10_000 }).catch((err: unknown) => err));
        }
      })();
      await until(
        async () => ((await c.call('svc.sleeping', {}, { nodeId: 'k2' })) as string[]).length >= tokens.length,
        'the pinned calls to be running on k2',
      );
      b.child.kill('SIGKILL');
      assert.equal((await within(b.exited, 5000, 'k2 exiting')).signal, 'SIGKILL');

      const results = await within(Promise.all(doomed), 10_000, 'the calls in flight to the killed node');
      for (const r of results) {
        assert.ok(ParleyError.is(r, 'UNAVAILABLE'), `an in-flight call ended with ${String(r)}, not UNAVAILABLE`);
        assert.match((r as ParleyError).message, /k2/);
      }

      await until(
        () => c.nodes().some((n) => n.id === 'k2' && !n.connected) || !c.nodes().some((n) => n.id === 'k2'),
        'the client to see k2 down',
      );
      const settled = outcomes.length;
      const after = await Promise.all(Array.from({ length: 20 }, () => c.call('svc.whoami', {}, { timeout: 5000 })));
      assert.deepEqual([...new Set(after)], ['k1'], 'later calls go to the survivor');
      calling = false;
      await within(loop, 10_000, 'the calling loop');
      for (const o of outcomes) {
        if (o === 'k1' || o === 'k2') continue;
        assert.ok(ParleyError.is(o, 'UNAVAILABLE'), `a balanced call during the kill ended with ${String(o)}`);
      }
      assert.ok(
        outcomes.slice(settled).every((o) => o === 'k1'),
        'balanced calls made after the client saw k2 down all succeeded on k1',
      );

      await until(
        () => !c.nodes().some((n) => n.id === 'k2'),
        `k2 to disappear from nodes() after the failure timeout (${FAILURE_TIMEOUT_MS} ms)`,
        FAILURE_TIMEOUT_MS * 5,
      );
      assert.equal(a.alive, true, 'the survivor is still running');
    } finally {
      await client?.stop();
      await killAll(procs);
    }
  });

  it('graceful stop (SIGTERM) while calls are in flight loses no accepted request', async () => {
    const procs: NodeProcess[] = [];
    let client: ParleyNode | undefined;
    try {
      const a = await spawnNode({ id: 's1' }, procs);
      const b = await spawnNode({ id: 's2', seeds: [a.address] }, procs);
      client = await startClient('s-client', a.address);
      const c = client;
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet s1 and s2');

      // Eight callers keep calling a 200 ms action through the balancer until s2 has exited.
      let calling = true;
      const outcomes: unknown[] = [];
      const callers = Array.from({ length: 8 }, async () => {
        while (calling) {
          outcomes.push(await c.call('svc.sleep', { ms: 200 }, { timeout: 20_000 }).catch((err: unknown) => err));
        }
      });
      await until(
        async () => ((await c.call('svc.sleeping', {}, { nodeId: 's2' })) as string[]).length > 0,
        'calls to be running on s2',
      );
      b.child.kill('SIGTERM');
      const exit = await within(b.exited, 15_000, 's2 stopping');
      assert.deepEqual(exit, { code: 0, signal: null }, `s2 stopped cleanly; stderr: ${b.stderr()}`);
      const whenStopped = outcomes.length;
      await until(() => outcomes.length >= whenStopped + 8, 'a few more calls after s2 stopped');
      calling = false;
      await within(Promise.all(callers), 10_000, 'the callers');

      const failures = outcomes.filter((o) => o !== 's1' && o !== 's2');
      assert.deepEqual(failures.map(String), [], 'every call issued during the graceful stop succeeded');
      assert.ok(outcomes.includes('s2'), 's2 served the calls it had accepted');
      assert.ok(
        outcomes.slice(whenStopped).every((o) => o === 's1'),
        'the survivor took the rest',
      );
    } finally {
      await client?.stop();
      await killAll(procs);
    }
  });

  it('graceful stop (SIGTERM) finishes the event handlers it started and loses no emitted event', async () => {
    const procs: NodeProcess[] = [];
    let client: ParleyNode | undefined;
    try {
      const a = await spawnNode({ id: 'e1', slowEvents: 200 }, procs);
      const b = await spawnNode({ id: 'e2', seeds: [a.address], slowEvents: 200 }, procs);
      client = await startClient('e-client', a.address);
      const c = client;
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet e1 and e2');
      await c.waitFor('slow.progress');
      type Progress = { received: number[]; completed: number[] };
      const progress = (id: string) => c.call('slow.progress', {}, { nodeId: id }) as Promise<Progress>;

      let emitting = true;
      let emitted = 0;
      const emitter = (async () => {
        while (emitting) {
          await c.emit('slow.tick', { i: emitted++ });
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await until(async () => (await progress('e2')).received.length >= 5, 'e2 to be handling events');
      b.child.kill('SIGTERM');
      const exit = await within(b.exited, 15_000, 'e2 stopping');
      assert.deepEqual(exit, { code: 0, signal: null }, `e2 stopped cleanly; stderr: ${b.stderr()}`);
      const atExit = emitted;
      await until(() => emitted >= atExit + 10, 'a few more emits after e2 stopped');
      emitting = false;
      await within(emitter, 10_000, 'the emitter');

      const final = b.messages.find(
        (m): m is { final: { slow: Progress } } => typeof m === 'object' && m !== null && 'final' in m,
      );
      assert.ok(final, `e2 printed its final report; stdout: ${JSON.stringify(b.messages)}`);
      const e2 = final.final.slow;

      let e1: Progress = { received: [], completed: [] };
      await until(async () => {
        e1 = await progress('e1');
        return e1.received.length + e2.received.length >= emitted && e1.completed.length === e1.received.length;
      }, 'every emitted event to be handled').catch(() => {});
      const handled = [...e1.received, ...e2.received].sort((x, y) => x - y);
      const lost = Array.from({ length: emitted }, (_, i) => i).filter((i) => !handled.includes(i));
      const twice = handled.filter((i, k) => handled[k - 1] === i);
      const cutOff = e2.received.filter((i) => !e2.completed.includes(i));
      assert.deepEqual(
        { lost, twice, cutOff },
        { lost: [], twice: [], cutOff: [] },
        `of ${emitted} events: e1 received ${e1.received.length}, e2 received ${e2.received.length} and completed ${e2.completed.length} before it exited`,
      );
    } finally {
      await client?.stop();
      await killAll(procs);
    }
  });
});
