/**
 * Calls, one-way messages, events, ordering, cancellation and deadlines between nodes that run as
 * separate OS processes on loopback. The test process hosts only the calling node ('client');
 * fixtures/node-process.ts hosts the services: p1 and p2 in job group 'g1', p3 in 'g2' (p3 also
 * receives the `tick.*` events of the ordering test). Every fixture also has an 'audit' handler for
 * `job.*`, so 'audit' is a third group with three members.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createNode, type ParleyNode } from '../../src/node/node.js';
import { ParleyError } from '../../src/wire/parley-error.js';
import type { ErrorCode } from '../../src/wire/status.js';
import type { SeenAbort, SeenEvent } from './fixtures/node-process.js';
import { killAll, type NodeProcess, spawnNode, until, within } from './harness.js';

const isError =
  (code: ErrorCode, message?: RegExp) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof ParleyError, `expected a ParleyError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  };

describe('messaging between node processes', () => {
  const procs: NodeProcess[] = [];
  let client: ParleyNode;
  const ids = ['p1', 'p2', 'p3'];

  before(async () => {
    const p1 = await spawnNode({ id: 'p1', group: 'g1' }, procs);
    await Promise.all([
      spawnNode({ id: 'p2', seeds: [p1.address], group: 'g1' }, procs),
      spawnNode({ id: 'p3', seeds: [p1.address], group: 'g2', ticks: true }, procs),
    ]);
    client = createNode({ id: 'client', port: null, seeds: [p1.address], logger: 'silent', gossipInterval: 200 });
    await client.start();
    await until(
      () => ids.every((id) => client.nodes().some((n) => n.id === id && n.connected)),
      'the client to connect to p1, p2 and p3',
    );
    // Emits are planned from what the client knows: wait until every fixture's services are known.
    await client.waitFor(['svc.whoami', 'svc.events'], 10_000);
  });

  after(async () => {
    await client?.stop();
    await killAll(procs);
  });

  const eventsAt = (id: string, event: string) =>
    client.call('svc.events', { event }, { nodeId: id }) as Promise<SeenEvent[]>;
  const abortsAt = (id: string) => client.call('svc.aborts', {}, { nodeId: id }) as Promise<SeenAbort[]>;

  describe('call', () => {
    it('returns the remote handler’s result', async () => {
      assert.equal(await client.call('svc.add', { a: 20, b: 22 }), 42);
      for (const id of ids) assert.equal(await client.call('svc.whoami', {}, { nodeId: id }), id);
    });

    it('the handler sees who called it and the caller’s meta, also through a nested call', async () => {
      assert.deepEqual(await client.call('svc.context', {}, { nodeId: 'p2', meta: { trace: 't-1' } }), {
        nodeId: 'p2',
        callerId: 'client',
        meta: { trace: 't-1' },
      });
      const r = (await client.call(
        'svc.nested',
        { target: 'svc.context', nodeId: 'p3' },
        { nodeId: 'p1', meta: { trace: 't-2' } },
      )) as { inner: unknown };
      assert.deepEqual(r.inner, { nodeId: 'p3', callerId: 'p1', meta: { trace: 't-2' } }, 'meta flows on to p3');
    });

    it('a ParleyError thrown by the handler keeps its code, message and details', async () => {
      await assert.rejects(client.call('svc.denied', {}, { nodeId: 'p2' }), (err: unknown) => {
        isError('PERMISSION_DENIED', /you may not do this/)(err);
        assert.deepEqual((err as ParleyError).details, { node: 'p2' });
        return true;
      });
    });

    it('a plain Error thrown by the handler arrives as INTERNAL with its message', async () => {
      await assert.rejects(
        client.call('svc.fail', {}, { nodeId: 'p3' }),
        isError('INTERNAL', /plain failure in the handler/),
      );
    });

    it('an action no node offers fails with NOT_FOUND naming it', async () => {
      await assert.rejects(client.call('svc.nope'), isError('NOT_FOUND', /svc\.nope/));
    });

    it('an action the chosen node does not serve fails with NOT_FOUND naming it', async () => {
      await assert.rejects(client.call('nosuch.action', {}, { nodeId: 'p1' }), isError('NOT_FOUND', /nosuch\.action/));
    });
  });

  describe('send (one-way)', () => {
    it('runs the handler remotely, and the sender does not wait for it', async () => {
      // The handler blocks until a later call releases it, so `send` returning proves it did not wait.
      const token = `oneway-${Date.now()}`;
      const returned = client.send('svc.record', { token, gated: true }, { nodeId: 'p2' });
      assert.equal(returned, undefined, 'send returns nothing to wait for');
      await until(
        async () => ((await client.call('svc.oneWayStarted', {}, { nodeId: 'p2' })) as string[]).includes(token),
        'the one-way handler to start on p2',
      );
      assert.ok(!((await client.call('svc.recorded', {}, { nodeId: 'p2' })) as string[]).includes(token));
      assert.equal(await client.call('svc.release', { token }, { nodeId: 'p2' }), true);
      await until(
        async () => ((await client.call('svc.recorded', {}, { nodeId: 'p2' })) as string[]).includes(token),
        'the one-way handler to finish on p2',
      );
    });

    it('without nodeId, the message reaches exactly one node', async () => {
      const token = `oneway-balanced-${Date.now()}`;
      client.send('svc.record', { token });
      const holders = async () => {
        const lists = await Promise.all(
          ids.map((id) => client.call('svc.recorded', {}, { nodeId: id }) as Promise<string[]>),
        );
        return lists.filter((l) => l.includes(token)).length;
      };
      await until(async () => (await holders()) > 0, 'the balanced one-way message to arrive');
      // A later round-trip to every node flushes anything else that was on its way.
      assert.equal(await holders(), 1);
    });
  });

  describe('emit and broadcast', () => {
    it('emit reaches exactly one handler per group; the balanced group spreads the load', async () => {
      const n = 200;
      for (let i = 0; i < n; i++) await client.emit('job.work', { i });
      const perHandler = async () => {
        const lists = await Promise.all(ids.map((id) => eventsAt(id, 'job.work')));
        return lists.map((list) => ({
          job: list.filter((e) => e.handler === 'job').map((e) => (e.payload as { i: number }).i),
          audit: list.filter((e) => e.handler === 'audit').map((e) => (e.payload as { i: number }).i),
        }));
      };
      await until(async () => {
        const [a, b, c] = await perHandler();
        return (
          a!.job.length + b!.job.length === n &&
          c!.job.length === n &&
          a!.audit.length + b!.audit.length + c!.audit.length === n
        );
      }, `${n} deliveries in each of g1, g2 and audit`);
      const [a, b, c] = await perHandler();
      const all = Array.from({ length: n }, (_, i) => i);
      assert.deepEqual(
        [...a!.job, ...b!.job].sort((x, y) => x - y),
        all,
        'g1 got each event exactly once',
      );
      assert.deepEqual(
        [...c!.job].sort((x, y) => x - y),
        all,
        'g2 got each event exactly once',
      );
      assert.deepEqual(
        [...a!.audit, ...b!.audit, ...c!.audit].sort((x, y) => x - y),
        all,
        'audit got each event once',
      );
      assert.ok(
        a!.job.length > 0 && b!.job.length > 0,
        `both g1 members got some (${a!.job.length}, ${b!.job.length})`,
      );
      const lists = await Promise.all(ids.map((id) => eventsAt(id, 'job.work')));
      const expectedGroup: Record<string, string> = { p1: 'g1', p2: 'g1', p3: 'g2' };
      for (const [k, list] of lists.entries()) {
        for (const e of list) {
          assert.equal(e.group, e.handler === 'audit' ? 'audit' : expectedGroup[ids[k]!], 'ctx.group');
          assert.equal(e.from, 'client', 'ctx.callerId is the emitting node');
        }
      }
    });

    it('broadcast reaches every matching handler on every node', async () => {
      await client.broadcast('job.everyone', { hello: true });
      await until(async () => {
        const lists = await Promise.all(ids.map((id) => eventsAt(id, 'job.everyone')));
        return lists.every((l) => l.length >= 2);
      }, 'the broadcast at both handlers of every node');
      const lists = await Promise.all(ids.map((id) => eventsAt(id, 'job.everyone')));
      for (const [i, list] of lists.entries()) {
        assert.deepEqual(list.map((e) => e.handler).sort(), ['audit', 'job'], `${ids[i]} ran each handler once`);
      }
    });

    it('1,000 events from one sender arrive in order, seq increasing by exactly 1', async () => {
      const n = 1000;
      const sends: Promise<void>[] = [];
      for (let i = 0; i < n; i++) sends.push(client.emit('tick.n', { i }));
      await Promise.all(sends);
      let got: SeenEvent[] = [];
      await until(async () => (got = await eventsAt('p3', 'tick.n')).length >= n, `${n} ticks at p3`, 20_000);
      assert.equal(got.length, n, 'no tick arrived twice');
      assert.deepEqual(
        got.map((e) => (e.payload as { i: number }).i),
        Array.from({ length: n }, (_, i) => i),
        'payloads arrive in the order they were emitted',
      );
      for (let k = 1; k < n; k++) assert.equal(got[k]!.seq, got[k - 1]!.seq + 1, `seq at delivery ${k}`);
      assert.ok(
        got.every((e) => e.missed === 0 && e.from === 'client'),
        'no gaps reported',
      );
    });
  });

  describe('cancellation and deadlines', () => {
    it('aborting the caller’s signal cancels the remote handler', async () => {
      const token = `cancel-${Date.now()}`;
      const controller = new AbortController();
      const call = client.call(
        'svc.sleep',
        { ms: 60_000, token },
        { nodeId: 'p1', signal: controller.signal, timeout: 60_000 },
      );
      const settled = call.then(
        () => assert.fail('the cancelled call resolved'),
        (err: unknown) => err,
      );
      await until(
        async () => ((await client.call('svc.sleeping', {}, { nodeId: 'p1' })) as string[]).includes(token),
        'the slow handler to start on p1',
      );
      controller.abort();
      isError('CANCELLED')(await within(settled, 5000, 'the cancelled call'));
      await until(
        async () => (await abortsAt('p1')).some((a) => a.token === token),
        'the remote handler’s ctx.signal to abort',
      );
      assert.deepEqual(
        (await abortsAt('p1')).find((a) => a.token === token),
        { token, code: 'CANCELLED' },
      );
    });

    it('a call with timeout 100 to a slow handler fails with DEADLINE_EXCEEDED, and the handler is aborted', async () => {
      const token = `deadline-${Date.now()}`;
      const call = client.call('svc.sleep', { ms: 60_000, token }, { nodeId: 'p2', timeout: 100 });
      await assert.rejects(within(call, 10_000, 'the call with a 100 ms deadline'), isError('DEADLINE_EXCEEDED'));
      await until(async () => (await abortsAt('p2')).some((a) => a.token === token), 'the handler on p2 to be aborted');
      const seen = (await abortsAt('p2')).find((a) => a.token === token)!;
      assert.ok(seen.code === 'DEADLINE_EXCEEDED' || seen.code === 'CANCELLED', `aborted with ${seen.code}`);
    });

    it('a nested ctx.call from a remote handler inherits the remaining deadline', async () => {
      const timeout = 5000;
      const r = (await client.call(
        'svc.nested',
        { target: 'svc.deadline', nodeId: 'p2' },
        { nodeId: 'p1', timeout },
      )) as { outer: number | null; sentAt: number; inner: { deadline: number | null; startedAt: number } };
      assert.ok(r.outer !== null, 'the outer handler has a deadline');
      assert.ok(r.inner.deadline !== null, 'the inner handler has a deadline');
      // The budget travels as "ms left", so the inner deadline may exceed the outer one by at most
      // the time the nested request took from p1 to p2 (all processes share one clock).
      const transit = r.inner.startedAt - r.sentAt;
      assert.ok(
        r.inner.deadline <= r.outer + transit,
        `inner deadline ${r.inner.deadline} is later than outer ${r.outer} + transit ${transit}`,
      );
      assert.ok(
        r.inner.deadline - r.inner.startedAt <= timeout,
        'the inner handler got at most the caller’s budget, not a default deadline',
      );
    });

    it('a nested call is cut off by the outer deadline', async () => {
      const token = `nested-deadline-${Date.now()}`;
      const call = client.call(
        'svc.nested',
        { target: 'svc.sleep', params: { ms: 60_000, token }, nodeId: 'p3' },
        { nodeId: 'p1', timeout: 300 },
      );
      await assert.rejects(within(call, 10_000, 'the nested call'), isError('DEADLINE_EXCEEDED'));
      // Under load the 300 ms can run out before p1 forwards the inner call, and then p3 never
      // starts it; what must never happen is an inner handler left running past the deadline.
      const failedAt = Date.now();
      const sleepingAt = (id: string) => client.call('svc.sleeping', {}, { nodeId: id }) as Promise<string[]>;
      await until(async () => {
        if ((await abortsAt('p3')).some((a) => a.token === token)) return true;
        return Date.now() > failedAt + 1000 && !(await sleepingAt('p3')).includes(token);
      }, 'the inner handler on p3 to be aborted or never started');
      assert.ok(!(await sleepingAt('p3')).includes(token), 'no inner handler is left running on p3');
    });
  });
});
