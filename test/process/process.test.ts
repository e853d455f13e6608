/**
 * Integration tests with nodes as separate OS processes on loopback. The test process hosts the
 * calling node; fixture-node.ts hosts the services.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import { killAll, type NodeProcess, spawnNode, until } from './harness.js';

const code =
  (c: string, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ParleyError && e.code === c && (message === undefined || message.test(e.message));

async function clientOf(seed: string, id = 'client'): Promise<ParleyNode> {
  const client = createNode({ id, seeds: [seed], logger: 'error', failureTimeout: 1000 });
  await client.start();
  return client;
}

describe('calls, one-way, events across processes', () => {
  const procs: NodeProcess[] = [];
  let client: ParleyNode;
  before(async () => {
    procs.push(await spawnNode({ id: 'p1', group: 'g1' }));
    procs.push(await spawnNode({ id: 'p2', seeds: [procs[0]!.address], group: 'g1' }));
    procs.push(await spawnNode({ id: 'p3', seeds: [procs[0]!.address], group: 'g2' }));
    client = await clientOf(procs[0]!.address);
    await until(() => client.nodes().filter((n) => n.connected).length === 4, 'the client to meet all three nodes');
  });
  after(async () => {
    await client.stop();
    killAll(procs);
  });

  it('calls return results and errors keep their codes and messages', async () => {
    assert.equal(await client.call('svc.add', { a: 20, b: 22 }), 42);
    await assert.rejects(client.call('svc.fail'), code('INTERNAL', /^plain failure$/));
    await assert.rejects(
      client.call('svc.denied'),
      (e: unknown) => code('PERMISSION_DENIED', /denied here/)(e) && (e as ParleyError).details !== undefined,
    );
    await assert.rejects(client.call('svc.nope'), code('NOT_FOUND', /svc\.nope/));
  });

  it('balances calls over the three processes', async () => {
    const who = await Promise.all(Array.from({ length: 30 }, () => client.call('svc.whoami')));
    assert.deepEqual([...new Set(who)].sort(), ['p1', 'p2', 'p3']);
  });

  it('a one-way message runs its handler without a reply', async () => {
    client.send('svc.record', { note: 'hello' }, { nodeId: 'p2' });
    await until(
      async () => ((await client.call('svc.recorded', {}, { nodeId: 'p2' })) as unknown[]).length === 1,
      'the record',
    );
    assert.deepEqual(await client.call('svc.recorded', {}, { nodeId: 'p2' }), [{ note: 'hello' }]);
  });

  it('emit reaches exactly one handler per group; broadcast reaches all', async () => {
    for (let i = 0; i < 200; i++) await client.emit('job.run', { i });
    const counts = async () => {
      const all = await Promise.all(
        ['p1', 'p2', 'p3'].map(
          (id) => client.call('svc.events', {}, { nodeId: id }) as Promise<{ event: string; group: string }[]>,
        ),
      );
      return all.map((list) => list.filter((e) => e.event === 'job.run').length);
    };
    await until(async () => {
      const [a, b, c] = await counts();
      return a! + b! === 200 && c === 200;
    }, '200 deliveries per group');
    const [a, b] = await counts();
    assert.ok(a! > 0 && b! > 0, `both g1 members got some (${a}, ${b})`);
    await client.broadcast('job.all', {});
    await until(async () => {
      const all = await Promise.all(
        ['p1', 'p2', 'p3'].map((id) => client.call('svc.events', {}, { nodeId: id }) as Promise<{ event: string }[]>),
      );
      return all.every((list) => list.some((e) => e.event === 'job.all'));
    }, 'broadcast to every node');
  });

  it('one sender’s events arrive in order with consecutive sequence numbers', async () => {
    const before = ((await client.call('svc.events', {}, { nodeId: 'p3' })) as { seq: number; from: string }[]).filter(
      (e) => e.from === 'client',
    );
    for (let i = 0; i < 1000; i++) void client.emit('job.seq', { i });
    let mine: { seq: number; from: string; missed: number }[] = [];
    await until(async () => {
      mine = ((await client.call('svc.events', {}, { nodeId: 'p3' })) as typeof mine).filter(
        (e) => e.from === 'client',
      );
      return mine.length === before.length + 1000;
    }, '1000 events at p3');
    const seqs = mine.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++)
      assert.equal(seqs[i], seqs[i - 1]! + 1, `seq ${seqs[i]} follows ${seqs[i - 1]}`);
    assert.ok(mine.every((e) => e.missed === 0));
  });

  it('aborting the signal cancels the remote handler', async () => {
    const abortedBefore = (await client.call('svc.aborted', {}, { nodeId: 'p1' })) as number;
    const controller = new AbortController();
    const call = client.call('svc.slow', { ms: 30_000 }, { nodeId: 'p1', signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(call, code('CANCELLED'));
    await until(
      async () => (await client.call('svc.aborted', {}, { nodeId: 'p1' })) === abortedBefore + 1,
      'the remote handler to see the abort',
    );
  });

  it('a deadline fails the call with DEADLINE_EXCEEDED and a nested call inherits it', async () => {
    const started = Date.now();
    await assert.rejects(client.call('svc.slow', { ms: 30_000 }, { timeout: 100 }), code('DEADLINE_EXCEEDED'));
    assert.ok(Date.now() - started < 10_000, 'it did not hang');
    const r = (await client.call('svc.nested', { target: 'svc.deadline' }, { timeout: 3000, nodeId: 'p1' })) as {
      outer: number;
      inner: number;
    };
    assert.ok(r.outer <= started + 3000 + 5000);
    assert.ok(r.inner <= r.outer + 5, `inner deadline ${r.inner} is no later than outer ${r.outer}`);
  });
});

describe('failures across processes', () => {
  it('SIGKILL: in-flight calls fail with UNAVAILABLE, later calls re-route, the node is forgotten', async () => {
    const a = await spawnNode({ id: 'k1' });
    const b = await spawnNode({ id: 'k2', seeds: [a.address] });
    const client = await clientOf(a.address, 'killer');
    try {
      await until(() => client.nodes().filter((n) => n.connected).length === 3, 'mesh');
      const inFlight = Array.from({ length: 10 }, () =>
        client.call('svc.slow', { ms: 20_000 }, { nodeId: 'k2', timeout: 30_000 }).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      b.child.kill('SIGKILL');
      const outcomes = await Promise.all(inFlight);
      assert.ok(
        outcomes.every((o) => code('UNAVAILABLE')(o)),
        `all in-flight calls failed with UNAVAILABLE: ${outcomes.map(String)}`,
      );
      const who = await Promise.all(Array.from({ length: 10 }, () => client.call('svc.whoami')));
      assert.deepEqual([...new Set(who)], ['k1'], 'calls route to the survivor');
      await until(() => !client.nodes().some((n) => n.id === 'k2'), 'the killed node to be forgotten', 5000);
    } finally {
      await client.stop();
      killAll([a, b]);
    }
  });

  it('graceful stop (SIGTERM) loses no accepted request', async () => {
    const a = await spawnNode({ id: 's1' });
    const b = await spawnNode({ id: 's2', seeds: [a.address] });
    const client = await clientOf(a.address, 'stopper');
    try {
      await until(() => client.nodes().filter((n) => n.connected).length === 3, 'mesh');
      const calls = Array.from({ length: 40 }, () => client.call('svc.slow', { ms: 300 }, { timeout: 10_000 }));
      await new Promise((r) => setTimeout(r, 50));
      b.child.kill('SIGTERM');
      const more = Array.from({ length: 40 }, () => client.call('svc.slow', { ms: 10 }, { timeout: 10_000 }));
      const results = await Promise.all([...calls, ...more]);
      assert.equal(results.length, 80, 'every call succeeded');
      assert.ok(results.includes('s2'), 's2 served the calls it had accepted');
      assert.equal(await b.exited, 0);
    } finally {
      await client.stop();
      killAll([a, b]);
    }
  });
});
