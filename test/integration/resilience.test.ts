/**
 * Harder failures across processes: a frozen node (SIGSTOP), a caller that dies mid-call, a
 * cancellation that must cross two hops, a node restarted under the same id, a duplicate id, and
 * payloads and concurrency large enough to fill the pipes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import type { SeenAbort } from './fixtures/node-process.js';
import { killAll, type NodeProcess, spawnNode, until, within } from './harness.js';

async function startClient(id: string, seed: string, options: Partial<NodeOptions> = {}): Promise<ParleyNode> {
  const client = createNode({
    id,
    port: null,
    seeds: [seed],
    logger: 'silent',
    failureTimeout: 1000,
    gossipInterval: 200,
    ...options,
  });
  await client.start();
  return client;
}

/** Runs `fn` with fresh processes and a client, and always cleans up. */
async function withCluster(
  fn: (procs: NodeProcess[], track: (c: ParleyNode) => ParleyNode) => Promise<void>,
): Promise<void> {
  const procs: NodeProcess[] = [];
  const clients: ParleyNode[] = [];
  try {
    await fn(procs, (c) => {
      clients.push(c);
      return c;
    });
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await killAll(procs);
  }
}

const abortsAt = (c: ParleyNode, id: string) => c.call('svc.aborts', {}, { nodeId: id }) as Promise<SeenAbort[]>;
const sleepingAt = (c: ParleyNode, id: string) => c.call('svc.sleeping', {}, { nodeId: id }) as Promise<string[]>;

describe('resilience across processes', () => {
  it('a frozen node (SIGSTOP): calls to it fail with UNAVAILABLE after the idle timeout instead of hanging; it recovers after SIGCONT', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'f1' }, procs);
      const b = await spawnNode({ id: 'f2', seeds: [a.address], failureTimeout: 5000 }, procs);
      const c = track(
        await startClient('f-client', a.address, { idleTimeout: 1000, keepaliveInterval: 200, failureTimeout: 5000 }),
      );
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet f1 and f2');
      const pending = c.call('svc.sleep', { ms: 100 }, { nodeId: 'f2', timeout: 60_000 }).catch((e: unknown) => e);
      b.child.kill('SIGSTOP');
      try {
        const outcome = await within(pending, 10_000, 'a call to the frozen node');
        // The call may have finished before the freeze; if not, it must fail UNAVAILABLE.
        assert.ok(outcome === 'f2' || ParleyError.is(outcome, 'UNAVAILABLE'), `ended with ${String(outcome)}`);
        const frozen = c.call('svc.whoami', {}, { nodeId: 'f2', timeout: 60_000 }).catch((e: unknown) => e);
        const r = await within(frozen, 10_000, 'a call sent to the frozen node');
        assert.ok(ParleyError.is(r, 'UNAVAILABLE'), `a call to the frozen node ended with ${String(r)}`);
        await until(() => !c.nodes().some((n) => n.id === 'f2' && n.connected), 'the client to mark f2 down');
        const who = await Promise.all(Array.from({ length: 10 }, () => c.call('svc.whoami', {}, { timeout: 5000 })));
        assert.deepEqual([...new Set(who)], ['f1'], 'balanced calls avoid the frozen node');
      } finally {
        b.child.kill('SIGCONT');
      }
      await until(() => c.nodes().some((n) => n.id === 'f2' && n.connected), 'f2 to be back after SIGCONT', 15_000);
      assert.equal(await c.call('svc.whoami', {}, { nodeId: 'f2', timeout: 5000 }), 'f2');
    }));

  it('cancelling a call cancels the nested call it made on a third process', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'n1' }, procs);
      await spawnNode({ id: 'n2', seeds: [a.address] }, procs);
      const c = track(await startClient('n-client', a.address));
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet n1 and n2');
      const token = 'two-hops';
      const controller = new AbortController();
      const call = c
        .call(
          'svc.nested',
          { target: 'svc.sleep', params: { ms: 60_000, token }, nodeId: 'n2' },
          { nodeId: 'n1', signal: controller.signal, timeout: 60_000 },
        )
        .catch((e: unknown) => e);
      await until(async () => (await sleepingAt(c, 'n2')).includes(token), 'the inner handler to start on n2');
      controller.abort();
      assert.ok(ParleyError.is(await within(call, 5000, 'the cancelled call'), 'CANCELLED'));
      await until(
        async () => (await abortsAt(c, 'n2')).some((x) => x.token === token),
        'the inner handler on n2 to abort',
      );
    }));

  it('when the caller’s process dies, the handlers it started elsewhere are aborted', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'c1' }, procs);
      const middle = await spawnNode({ id: 'c2', seeds: [a.address] }, procs);
      const c = track(await startClient('c-client', a.address));
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet c1 and c2');
      const token = 'orphan';
      // c-client → c2.nested → c1.sleep; then c2 (the caller of c1.sleep) is SIGKILLed.
      const call = c
        .call(
          'svc.nested',
          { target: 'svc.sleep', params: { ms: 60_000, token }, nodeId: 'c1' },
          { nodeId: 'c2', timeout: 60_000 },
        )
        .catch((e: unknown) => e);
      await until(async () => (await sleepingAt(c, 'c1')).includes(token), 'the handler to start on c1');
      middle.child.kill('SIGKILL');
      const r = await within(call, 10_000, 'the call to the killed middle node');
      assert.ok(ParleyError.is(r, 'UNAVAILABLE'), `ended with ${String(r)}`);
      await until(
        async () => (await abortsAt(c, 'c1')).some((x) => x.token === token),
        'c1 to abort the orphaned handler',
      );
      assert.equal((await abortsAt(c, 'c1')).find((x) => x.token === token)?.code, 'CANCELLED');
      assert.deepEqual(await sleepingAt(c, 'c1'), []);
    }));

  it('a node restarted under the same id is called again; calls pending on the old process fail', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'r1' }, procs);
      const old = await spawnNode({ id: 'r2', seeds: [a.address], failureTimeout: 10_000 }, procs);
      const c = track(await startClient('r-client', a.address, { failureTimeout: 10_000 }));
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet r1 and r2');
      const pending = c.call('svc.sleep', { ms: 60_000 }, { nodeId: 'r2', timeout: 60_000 }).catch((e: unknown) => e);
      await until(async () => (await sleepingAt(c, 'r2')).length === 1, 'the call to run on r2');
      old.child.kill('SIGKILL');
      const outcome = await within(pending, 10_000, 'the call pending on r2');
      assert.ok(ParleyError.is(outcome, 'UNAVAILABLE'), `the pending call ended with ${String(outcome)}`);
      const reborn = await spawnNode({ id: 'r2', seeds: [a.address] }, procs);
      // The new process may even get the old port back; its pid tells them apart.
      await until(async () => {
        if (!c.nodes().some((n) => n.id === 'r2' && n.connected)) return false;
        const info = (await c.call('$node.info', {}, { nodeId: 'r2', timeout: 5000 }).catch(() => null)) as {
          pid: number;
        } | null;
        return info?.pid === reborn.child.pid;
      }, 'the client to reach the new r2');
      assert.equal(await c.call('svc.whoami', {}, { nodeId: 'r2', timeout: 5000 }), 'r2');
      assert.deepEqual(await sleepingAt(c, 'r2'), [], 'it is the new process');
    }));

  it('a second process with a running node’s id is refused and the first keeps serving', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'u1' }, procs);
      const first = await spawnNode({ id: 'u2', seeds: [a.address] }, procs);
      const c = track(await startClient('u-client', a.address));
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet u1 and u2');
      const impostor = await spawnNode({ id: 'u2', seeds: [a.address] }, procs);
      // For a while after the impostor joined, u1 must keep the first u2 and calls to u2 must keep working
      // (docs/PROTOCOL.md: the newcomer is refused with ALREADY_EXISTS).
      for (let i = 0; i < 15; i++) {
        const [view, served] = await Promise.all([
          c.call('$node.nodes', {}, { nodeId: 'u1' }) as Promise<{ id: string; address: string | null }[]>,
          c.call('svc.sleep', { ms: 100 }, { nodeId: 'u2', timeout: 5000 }).catch((e: unknown) => e),
        ]);
        const u2 = view.find((v) => v.id === 'u2');
        assert.equal(
          u2?.address,
          first.address,
          `poll ${i}: u1 took the impostor (${impostor.address}) for u2 (${first.address})`,
        );
        assert.equal(served, 'u2', `poll ${i}: a call to u2 ended with ${String(served)}`);
      }
      assert.equal(a.alive && first.alive, true);
    }));

  it('large payloads and many concurrent calls cross processes intact', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'b1' }, procs);
      await spawnNode({ id: 'b2', seeds: [a.address] }, procs);
      const c = track(await startClient('b-client', a.address, { maxFrameSize: 4 * 1024 * 1024 }));
      await until(() => c.nodes().filter((n) => n.connected).length === 3, 'the client to meet b1 and b2');
      const big = 'x'.repeat(2 * 1024 * 1024);
      assert.equal(await c.call('svc.add', { a: big, b: '!' }, { nodeId: 'b2', timeout: 10_000 }), `${big}!`);
      await assert.rejects(
        c.call('svc.add', { a: 'y'.repeat(5 * 1024 * 1024), b: '' }, { nodeId: 'b2' }),
        (e: unknown) => ParleyError.is(e, 'RESOURCE_EXHAUSTED'),
        'a message larger than the frame limit fails on the sender',
      );
      const n = 2000;
      const results = await within(
        Promise.all(Array.from({ length: n }, (_, i) => c.call('svc.add', { a: i, b: i }, { timeout: 20_000 }))),
        30_000,
        `${n} concurrent calls`,
      );
      assert.deepEqual(
        results,
        Array.from({ length: n }, (_, i) => 2 * i),
      );
    }));

  it('events dropped because the sender’s queue was full are reported to the receiver as missed', () =>
    withCluster(async (procs, track) => {
      const sink = await spawnNode({ id: 'q1', ticks: true }, procs);
      // A tiny outbound queue: a burst of emits in one tick overflows it.
      const c = track(await startClient('q-client', sink.address, { maxOutboundBytes: 16 * 1024 }));
      await c.waitFor('svc.events');
      await until(
        () => c.nodes().some((n) => n.id === 'q1' && n.services.some((s) => s.name === 'ticks')),
        'q1’s ticks',
      );
      const n = 200;
      const filler = 'z'.repeat(1024);
      const burst = await Promise.allSettled(Array.from({ length: n }, (_, i) => c.emit('tick.burst', { i, filler })));
      const rejected = burst.filter((r) => r.status === 'rejected');
      assert.ok(rejected.length > 0, 'the burst overflowed the 16 KiB queue');
      for (const r of rejected) assert.ok(ParleyError.is((r as PromiseRejectedResult).reason, 'RESOURCE_EXHAUSTED'));
      // One more, after the queue drained, so that a drop at the end of the burst shows as a gap too.
      await until(async () => {
        try {
          await c.emit('tick.burst', { i: n, filler: '' });
          return true;
        } catch {
          return false;
        }
      }, 'the queue to drain');
      type Seen = { payload: { i: number }; seq: number; missed: number };
      let got: Seen[] = [];
      await until(
        async () =>
          (got = (await c.call('svc.events', { event: 'tick.burst' }, { nodeId: 'q1' })) as Seen[]).some(
            (e) => e.payload.i === n,
          ),
        'the last event at q1',
      );
      const delivered = got.map((e) => e.payload.i);
      const dropped = Array.from({ length: n }, (_, i) => i).filter((i) => !delivered.includes(i));
      assert.equal(dropped.length, rejected.length, 'exactly the rejected emits are missing');
      assert.deepEqual(
        delivered,
        [...delivered].sort((x, y) => x - y),
        'the others arrived in order',
      );
      assert.equal(
        got.reduce((sum, e) => sum + e.missed, 0),
        rejected.length,
        'the receiver was told how many it missed',
      );
      for (let k = 1; k < got.length; k++) {
        assert.equal(got[k]!.seq, got[k - 1]!.seq + 1 + got[k]!.missed, `seq and missed agree at delivery ${k}`);
      }
    }));

  it('a receiver restarted under the same id gets event numbers from 1 again, with nothing reported missed', () =>
    withCluster(async (procs, track) => {
      const a = await spawnNode({ id: 'w1' }, procs);
      const old = await spawnNode({ id: 'w2', seeds: [a.address], ticks: true }, procs);
      const c = track(await startClient('w-client', a.address, { failureTimeout: 10_000 }));
      const ticksAt = async () =>
        (await c.call('svc.events', { event: 'tick.life' }, { nodeId: 'w2', timeout: 5000 })) as {
          seq: number;
          missed: number;
        }[];
      await until(
        () => c.nodes().some((n) => n.id === 'w2' && n.services.some((s) => s.name === 'ticks')),
        'w2’s ticks',
      );
      for (let i = 0; i < 5; i++) await c.emit('tick.life', { i });
      await until(async () => (await ticksAt()).length === 5, 'five ticks at the first w2');
      old.child.kill('SIGKILL');
      await old.exited;
      const reborn = await spawnNode({ id: 'w2', seeds: [a.address], ticks: true }, procs);
      await until(async () => {
        const info = (await c.call('$node.info', {}, { nodeId: 'w2', timeout: 2000 }).catch(() => null)) as {
          pid: number;
        } | null;
        return info?.pid === reborn.child.pid;
      }, 'the client to reach the new w2');
      for (let i = 0; i < 5; i++) await c.emit('tick.life', { i });
      let got: { seq: number; missed: number }[] = [];
      await until(async () => (got = await ticksAt()).length === 5, 'five ticks at the new w2');
      assert.deepEqual(
        got.map((e) => [e.seq, e.missed]),
        [
          [1, 0],
          [2, 0],
          [3, 0],
          [4, 0],
          [5, 0],
        ],
      );
    }));
});
