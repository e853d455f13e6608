import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryNetwork } from '../transport/memory-transport.js';
import { ParleyError } from '../wire/parley-error.js';
import type { Balancer } from './balancer.js';
import type { Context, EventContext } from './context.js';
import { createNode, type ParleyNode } from './node.js';
import { startCluster, stopAll, waitUntil } from './testing/test-cluster.js';

const isCode =
  (code: string, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ParleyError && e.code === code && (message === undefined || message.test(e.message));

describe('calls between nodes (TCP)', () => {
  let nodes: ParleyNode[];
  const seen: { ctx?: Context; nested?: number | undefined } = {};
  before(async () => {
    nodes = await startCluster([
      [
        {
          name: 'math',
          actions: {
            add: (p: { a: number; b: number }) => p.a + p.b,
            fail: () => {
              throw new Error('boom');
            },
            denied: () => {
              throw new ParleyError('PERMISSION_DENIED', 'no', { details: { who: 'x' } });
            },
            echo: (p: unknown) => p,
            ctx: (_p: unknown, ctx: Context) => {
              seen.ctx = ctx;
              return { callerId: ctx.callerId, nodeId: ctx.nodeId, meta: ctx.meta };
            },
            deadline: (_p: unknown, ctx: Context) => ctx.deadline ?? null,
            waitForAbort: (_p: unknown, ctx: Context) =>
              new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
          },
        },
      ],
      [
        {
          name: 'outer',
          actions: {
            nested: async (_p: unknown, ctx: Context) => {
              seen.nested = ctx.deadline;
              return ctx.call('math.deadline');
            },
            identity: (p: object) => p,
          },
        },
      ],
    ]);
  });
  after(() => stopAll(nodes));

  it('calls a remote action and returns its result', async () => {
    assert.equal(await nodes[1]!.call('math.add', { a: 2, b: 3 }), 5);
  });

  it('round-trips rich values through MessagePack', async () => {
    const value = { d: new Date(7), m: new Map([[1, 2]]), big: 2n ** 80n, bytes: new Uint8Array([9]) };
    const out = (await nodes[1]!.call('math.echo', value)) as typeof value;
    assert.ok(out.d instanceof Date && out.d.getTime() === 7);
    assert.ok(out.m instanceof Map && out.m.get(1) === 2);
    assert.equal(out.big, 2n ** 80n);
    assert.deepEqual([...out.bytes], [9]);
  });

  it('passes local params by reference (no serialization)', async () => {
    const p = { x: 1 };
    assert.equal(await nodes[1]!.call('outer.identity', p), p);
  });

  it('reports a plain thrown error as INTERNAL with its message', async () => {
    await assert.rejects(nodes[1]!.call('math.fail'), isCode('INTERNAL', /^boom$/));
  });

  it('keeps the code and details of a thrown ParleyError', async () => {
    await assert.rejects(nodes[1]!.call('math.denied'), (e: unknown) => {
      return (
        isCode('PERMISSION_DENIED')(e) &&
        (e as ParleyError).message === 'no' &&
        (e as ParleyError).details !== undefined
      );
    });
  });

  it('fails at once with NOT_FOUND naming an unknown action', async () => {
    await assert.rejects(nodes[1]!.call('math.nope'), isCode('NOT_FOUND', /math\.nope/));
  });

  it('gives the handler the caller id and meta', async () => {
    const r = await nodes[1]!.call('math.ctx', {}, { meta: { user: 'u1' } });
    assert.deepEqual(r, { callerId: 'n2', nodeId: 'n1', meta: { user: 'u1' } });
  });

  it('sends the remaining deadline; a nested call inherits it', async () => {
    const before = Date.now();
    const inner = (await nodes[0]!.call('outer.nested', {}, { timeout: 2000 })) as number;
    assert.ok(seen.nested !== undefined && seen.nested <= before + 2000 + 50, 'outer handler sees the caller deadline');
    assert.ok(inner <= seen.nested! + 5, 'inner handler deadline is no later than the outer one');
  });

  it('fails with DEADLINE_EXCEEDED when the handler is too slow', async () => {
    await assert.rejects(nodes[1]!.call('math.waitForAbort', {}, { timeout: 50 }), isCode('DEADLINE_EXCEEDED'));
  });

  it('aborting the signal cancels the remote handler', async () => {
    const controller = new AbortController();
    seen.ctx = undefined;
    const p = nodes[1]!.call('math.waitForAbort', {}, { signal: controller.signal, timeout: 5000 });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(p, isCode('CANCELLED'));
    // The remote side received CANCEL and aborted its context.
  });

  it('calls a chosen node with nodeId', async () => {
    const r = (await nodes[1]!.call('$node.info', {}, { nodeId: 'n1' })) as { id: string };
    assert.equal(r.id, 'n1');
  });

  it('rejects params that cannot be encoded with INVALID_ARGUMENT', async () => {
    await assert.rejects(nodes[1]!.call('math.echo', { f: Symbol('x') }), isCode('INVALID_ARGUMENT'));
  });
});

describe('cancellation reaches the remote handler', () => {
  it('the handler signal aborts with CANCELLED', async () => {
    let aborted: unknown;
    const nodes = await startCluster([
      [
        {
          name: 's',
          actions: {
            wait: (_p: unknown, ctx: Context) =>
              new Promise((resolve) =>
                ctx.signal.addEventListener('abort', () => {
                  aborted = ctx.signal.reason;
                  resolve('aborted');
                }),
              ),
          },
        },
      ],
      [],
    ]);
    try {
      const controller = new AbortController();
      const call = nodes[1]!.call('s.wait', {}, { signal: controller.signal });
      await waitUntil(() => nodes[0]!.stats().inFlight === 1);
      controller.abort();
      await assert.rejects(call, isCode('CANCELLED'));
      await waitUntil(() => aborted !== undefined);
      assert.ok(isCode('CANCELLED')(aborted));
    } finally {
      await stopAll(nodes);
    }
  });
});

describe('events', () => {
  it('emit reaches exactly one handler per group; broadcast reaches all', async () => {
    const got: { node: string; group: string; event: string }[] = [];
    const sub = (node: string) => ({
      name: 'svc',
      events: {
        'order.*': {
          group: 'billing',
          handler: (_p: unknown, ctx: EventContext) => got.push({ node, group: ctx.group, event: ctx.event }),
        },
      },
    });
    const audit = (node: string) => ({
      name: 'audit',
      events: {
        'order.**': (_p: unknown, ctx: EventContext) => got.push({ node, group: ctx.group, event: ctx.event }),
      },
    });
    const nodes = await startCluster([[], [sub('n2')], [sub('n3'), audit('n3')]]);
    try {
      await waitUntil(() => nodes[0]!.nodes().every((n) => n.connected) && nodes[0]!.nodes().length === 3);
      for (let i = 0; i < 100; i++) await nodes[0]!.emit('order.created', { i });
      await waitUntil(() => got.length === 200, 5000, '200 deliveries');
      const billing = got.filter((g) => g.group === 'billing');
      assert.equal(billing.length, 100, 'one billing handler per emit');
      assert.ok(
        billing.some((g) => g.node === 'n2') && billing.some((g) => g.node === 'n3'),
        'balanced across members',
      );
      assert.equal(got.filter((g) => g.group === 'audit').length, 100);
      got.length = 0;
      await nodes[0]!.broadcast('order.created', {});
      await waitUntil(() => got.length === 3, 5000, 'broadcast to all three handlers');
      assert.deepEqual(got.map((g) => `${g.node}/${g.group}`).sort(), ['n2/billing', 'n3/audit', 'n3/billing']);
      got.length = 0;
      await nodes[0]!.emit('order.a.b', {});
      await waitUntil(() => got.length === 1);
      assert.equal(got[0]!.group, 'audit', 'order.* does not match two segments; order.** does');
    } finally {
      await stopAll(nodes);
    }
  });

  it('one sender’s events arrive in order with consecutive sequence numbers', async () => {
    const seqs: number[] = [];
    const nodes = await startCluster([
      [],
      [{ name: 'r', events: { tick: (_p: unknown, ctx: EventContext) => seqs.push(ctx.seq) } }],
    ]);
    try {
      for (let i = 0; i < 1000; i++) void nodes[0]!.emit('tick', i);
      await waitUntil(() => seqs.length === 1000);
      assert.deepEqual(
        seqs,
        Array.from({ length: 1000 }, (_, i) => i + 1),
      );
    } finally {
      await stopAll(nodes);
    }
  });

  it('a receiver detects a gap after a partition heals', async () => {
    const memory = new MemoryNetwork();
    const events: { seq: number; missed: number }[] = [];
    const nodes = await startCluster(
      [
        [],
        [
          {
            name: 'r',
            events: { tick: (_p: unknown, ctx: EventContext) => events.push({ seq: ctx.seq, missed: ctx.missed }) },
          },
        ],
      ],
      { memory, failureTimeout: 60_000 },
    );
    try {
      await nodes[0]!.broadcast('tick', 1);
      await waitUntil(() => events.length === 1);
      memory.partition(nodes[0]!.address!, nodes[1]!.address!);
      await waitUntil(() => !nodes[0]!.nodes().find((n) => n.id === 'n2')?.connected);
      // Broadcasts while the receiver is unreachable are lost, and numbered.
      await nodes[0]!.broadcast('tick', 2);
      await nodes[0]!.broadcast('tick', 3);
      memory.heal();
      await waitUntil(() => nodes[0]!.nodes().find((n) => n.id === 'n2')?.connected === true, 10_000);
      await nodes[0]!.broadcast('tick', 4);
      await waitUntil(() => events.length === 2);
      assert.deepEqual(events, [
        { seq: 1, missed: 0 },
        { seq: 4, missed: 2 },
      ]);
    } finally {
      await stopAll(nodes);
    }
  });
});

describe('membership', () => {
  it('three nodes joined through one seed all learn each other', async () => {
    const nodes = await startCluster([[{ name: 'a', actions: { x: () => 1 } }], [], []]);
    try {
      for (const n of nodes)
        assert.deepEqual(
          n
            .nodes()
            .map((p) => p.id)
            .sort(),
          ['n1', 'n2', 'n3'],
        );
      await nodes[2]!.waitFor('a.x');
      assert.equal(await nodes[2]!.call('a.x'), 1);
    } finally {
      await stopAll(nodes);
    }
  });

  it('a service added after start is announced; a stopped node disappears at once', async () => {
    const nodes = await startCluster([[], []]);
    try {
      nodes[0]!.addService({ name: 'late', actions: { hi: () => 'hi' } });
      await nodes[1]!.waitFor('late.hi', 2000);
      assert.equal(await nodes[1]!.call('late.hi'), 'hi');
      await nodes[0]!.stop();
      await waitUntil(() => nodes[1]!.nodes().length === 1, 2000, 'graceful stop to remove the node');
      await assert.rejects(nodes[1]!.call('late.hi'), isCode('NOT_FOUND'));
    } finally {
      await stopAll(nodes);
    }
  });

  it('balances calls round-robin and prefers a local action', async () => {
    const svc = (id: string) => ({ name: 'w', actions: { who: () => id } });
    const nodes = await startCluster([[], [svc('n2')], [svc('n3')]]);
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, () => nodes[0]!.call('w.who')));
      assert.equal(answers.filter((a) => a === 'n2').length, 5);
      assert.equal(answers.filter((a) => a === 'n3').length, 5);
      assert.equal(await nodes[1]!.call('w.who'), 'n2');
    } finally {
      await stopAll(nodes);
    }
  });

  it('graceful stop finishes in-flight requests before closing', async () => {
    const nodes = await startCluster([
      [{ name: 's', actions: { slow: () => new Promise((r) => setTimeout(() => r('done'), 100)) } }],
      [],
    ]);
    try {
      const calls = Array.from({ length: 20 }, () => nodes[1]!.call('s.slow'));
      await waitUntil(() => nodes[0]!.stats().inFlight === 20);
      await nodes[0]!.stop();
      assert.deepEqual(await Promise.all(calls), Array(20).fill('done'));
    } finally {
      await stopAll(nodes);
    }
  });

  it('in-flight calls fail with UNAVAILABLE when the peer connection is lost', async () => {
    const memory = new MemoryNetwork();
    const nodes = await startCluster([[{ name: 's', actions: { hang: () => new Promise(() => {}) } }], []], {
      memory,
      drainTimeout: 100,
    });
    try {
      const call = nodes[1]!.call('s.hang', {}, { timeout: 10_000 });
      await waitUntil(() => nodes[0]!.stats().inFlight === 1);
      memory.partition(nodes[0]!.address!, nodes[1]!.address!);
      await assert.rejects(call, isCode('UNAVAILABLE', /disconnected/));
    } finally {
      await stopAll(nodes);
    }
  });
});

describe('limits', () => {
  it('a payload above the frame limit fails with RESOURCE_EXHAUSTED and the node keeps working', async () => {
    const nodes = await startCluster([[{ name: 'e', actions: { echo: (p: unknown) => p } }], []], {
      maxFrameSize: 64 * 1024,
    });
    try {
      await assert.rejects(
        nodes[1]!.call('e.echo', 'x'.repeat(100 * 1024)),
        isCode('RESOURCE_EXHAUSTED', /maximum frame size/),
      );
      assert.equal(await nodes[1]!.call('e.echo', 'ok'), 'ok');
    } finally {
      await stopAll(nodes);
    }
  });

  it('a full outbound queue fails calls at once with RESOURCE_EXHAUSTED', async () => {
    const memory = new MemoryNetwork();
    const nodes = await startCluster([[{ name: 'e', actions: { echo: (p: unknown) => p } }], []], {
      memory,
      maxOutboundBytes: 256 * 1024,
    });
    try {
      const big = 'x'.repeat(60 * 1024);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => nodes[1]!.call('e.echo', big)));
      const exhausted = results.filter(
        (r) => r.status === 'rejected' && isCode('RESOURCE_EXHAUSTED', /outbound queue/)(r.reason),
      );
      assert.ok(exhausted.length > 0, 'some calls were refused');
      assert.ok(
        results.some((r) => r.status === 'fulfilled'),
        'the queued ones went through',
      );
    } finally {
      await stopAll(nodes);
    }
  });

  it('a JSON node and a MessagePack node understand each other', async () => {
    const a = createNode({ id: 'json', codec: 'json', logger: 'silent' });
    a.addService({ name: 'j', actions: { add: (p: { a: number; b: number }) => p.a + p.b } });
    await a.start();
    const b = createNode({ id: 'mp', seeds: [a.address!], logger: 'silent' });
    b.addService({ name: 'm', actions: { neg: (p: number) => -p } });
    await b.start();
    try {
      await b.waitFor('j.add');
      await a.waitFor('m.neg');
      assert.equal(await b.call('j.add', { a: 1, b: 2 }), 3);
      assert.equal(await a.call('m.neg', 4), -4);
    } finally {
      await stopAll([a, b]);
    }
  });
});

describe('context lifetime', () => {
  it('local calls sharing one long-lived signal do not pile up abort listeners', async () => {
    const nodes = await startCluster([
      [{ name: 'l', actions: { touch: (_p: unknown, ctx: Context) => ctx.signal.aborted } }],
    ]);
    try {
      const controller = new AbortController();
      const { EventEmitter } = await import('node:events');
      for (let i = 0; i < 50; i++)
        assert.equal(await nodes[0]!.call('l.touch', {}, { signal: controller.signal }), false);
      assert.equal(EventEmitter.getEventListeners(controller.signal, 'abort').length, 0);
    } finally {
      await stopAll(nodes);
    }
  });
});

describe('a restarted peer', () => {
  it('fails the calls that were waiting on its previous incarnation when its old connection went silent', async () => {
    const memory = new MemoryNetwork();
    const nodes = await startCluster([[], [{ name: 's', actions: { hang: () => new Promise(() => {}) } }]], {
      memory,
      drainTimeout: 50,
      idleTimeout: 60_000,
      keepaliveInterval: 20,
    });
    const [caller, server] = nodes as [ParleyNode, ParleyNode];
    let replacement: ParleyNode | undefined;
    try {
      const call = caller.call('s.hang', {}, { timeout: 60_000 });
      await waitUntil(() => server.stats().inFlight === 1);
      // The old process goes silent (a dead link or a frozen process) while its connection still looks open,
      // then a new process with the same id (a new incarnation) dials in: that is a restart.
      memory.blackhole(caller.address!, server.address!);
      await new Promise((r) => setTimeout(r, 100));
      const { MemoryTransport } = await import('../transport/memory-transport.js');
      replacement = createNode({
        id: 'n2',
        logger: 'silent',
        transport: new MemoryTransport(memory, { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 }),
        seeds: [caller.address!],
      });
      await replacement.start();
      await assert.rejects(call, isCode('UNAVAILABLE', /restarted/));
    } finally {
      memory.heal();
      await replacement?.stop();
      await stopAll(nodes);
    }
  });

  it('refuses a second live node with the same id; the first keeps serving', async () => {
    const memory = new MemoryNetwork();
    const nodes = await startCluster([[], [{ name: 's', actions: { who: () => 'first' } }]], { memory });
    const [caller] = nodes as [ParleyNode, ParleyNode];
    const { MemoryTransport } = await import('../transport/memory-transport.js');
    const impostor = createNode({
      id: 'n2',
      logger: 'silent',
      transport: new MemoryTransport(memory, { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 }),
      seeds: [caller.address!],
    });
    impostor.addService({ name: 's', actions: { who: () => 'impostor' } });
    try {
      await impostor.start();
      for (let i = 0; i < 20; i++) {
        assert.equal(await caller.call('s.who'), 'first');
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(impostor.nodes().length, 1, 'the impostor never joined');
    } finally {
      await impostor.stop();
      await stopAll(nodes);
    }
  });
});

describe('hooks for traffic policies', () => {
  it('a balancer sees endpoints with their metadata and every remote attempt’s start and outcome', async () => {
    const seen: {
      picked: { id: string; zone: unknown }[];
      starts: string[];
      ends: { id: string; ok: boolean; code?: string }[];
    } = {
      picked: [],
      starts: [],
      ends: [],
    };
    const balancer: Balancer = {
      pick: (candidates) => {
        const chosen = candidates.find((c) => c.meta.zone === 'b') ?? candidates[0]!;
        seen.picked.push({ id: chosen.nodeId, zone: chosen.meta.zone });
        return chosen;
      },
      onStart: (e) => seen.starts.push(e.nodeId),
      onEnd: (e, _call, outcome) =>
        seen.ends.push({ id: e.nodeId, ok: outcome.ok, ...(outcome.code ? { code: outcome.code } : {}) }),
    };
    const a = createNode({ id: 'za', meta: { zone: 'a' }, logger: 'silent' });
    a.addService({
      name: 'z',
      actions: {
        ok: () => 'a',
        fail: () => {
          throw new ParleyError('ABORTED', 'no');
        },
      },
    });
    await a.start();
    const b = createNode({ id: 'zb', meta: { zone: 'b' }, seeds: [a.address!], logger: 'silent' });
    b.addService({
      name: 'z',
      actions: {
        ok: () => 'b',
        fail: () => {
          throw new ParleyError('ABORTED', 'no');
        },
      },
    });
    await b.start();
    const caller = createNode({ id: 'zc', seeds: [a.address!], balancer, logger: 'silent' });
    await caller.start();
    try {
      await waitUntil(() => caller.nodes().filter((n) => n.connected).length === 3);
      assert.equal(await caller.call('z.ok'), 'b');
      await assert.rejects(caller.call('z.fail'), isCode('ABORTED'));
      assert.deepEqual(seen.picked, [
        { id: 'zb', zone: 'b' },
        { id: 'zb', zone: 'b' },
      ]);
      assert.deepEqual(seen.starts, ['zb', 'zb']);
      assert.deepEqual(seen.ends, [
        { id: 'zb', ok: true },
        { id: 'zb', ok: false, code: 'ABORTED' },
      ]);
    } finally {
      await stopAll([caller, b, a]);
    }
  });

  it('an idempotency key and a priority travel with the call to the handler', async () => {
    const nodes = await startCluster([
      [
        {
          name: 'o',
          actions: {
            opts: (_p: unknown, ctx: Context) => ({ key: ctx.idempotencyKey ?? null, priority: ctx.priority ?? null }),
          },
        },
      ],
      [],
    ]);
    try {
      assert.deepEqual(await nodes[1]!.call('o.opts', {}, { idempotencyKey: 'pay-42', priority: 3 }), {
        key: 'pay-42',
        priority: 3,
      });
      assert.deepEqual(await nodes[1]!.call('o.opts', {}), { key: null, priority: null });
      assert.deepEqual(await nodes[0]!.call('o.opts', {}, { idempotencyKey: 'local' }), {
        key: 'local',
        priority: null,
      });
    } finally {
      await stopAll(nodes);
    }
  });
});
