import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../../base/testing/wait-until.js';
import { MemoryNetwork, MemoryTransport } from '../../transport/memory-transport.js';
import type { Principal } from '../../transport/principal.js';
import { generateNodeKeys } from '../../transport/security/node-keys.js';
import { ParleyError } from '../../wire/parley-error.js';
import type { Context, EventContext } from '../context.js';
import { createNode, type ParleyNode } from '../node.js';
import type { NodeOptions } from '../options.js';
import { NamedNetwork } from '../testing/named-transport.js';
import type { AuditEntry } from './audit-log.js';
import type { Policy } from './policy.js';

const isCode =
  (code: string, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ParleyError && e.code === code && (message === undefined || message.test(e.message));

const POLICY: Policy = {
  version: 1,
  members: ['srv*'],
  deny: [
    { name: 'no-refunds-for-mallory', principals: ['mallory'], call: ['billing.refund'] },
    { name: 'nobody-fakes-audit', principals: ['*'], emit: ['audit.**'] },
  ],
  allow: [
    {
      name: 'clients',
      principals: ['alice', 'mallory'],
      call: ['billing.*'],
      emit: ['order.*', 'audit.**'],
      subscribe: ['order.*'],
    },
    { name: 'alice-secrets', principals: ['alice'], subscribe: ['secret.*'] },
    { name: 'guests', principals: ['unauthenticated'], call: ['orders.get'] },
  ],
};

async function startNamed(net: NamedNetwork, id: string, name: string | null, options: Partial<NodeOptions> = {}) {
  const node = createNode({ id, logger: 'silent', gossipInterval: 100, transport: net.transport(name), ...options });
  return node;
}

describe('authorization in the node (a policy on the serving node)', () => {
  const net = new NamedNetwork();
  let srv: ParleyNode;
  let alice: ParleyNode;
  let mallory: ParleyNode;
  let anon: ParleyNode;
  const audit: AuditEntry[] = [];
  const seen: {
    principal?: Principal | undefined;
    orderFrom?: Principal | undefined;
    internal: number;
    orders: string[];
    audits: string[];
  } = {
    internal: 0,
    orders: [],
    audits: [],
  };
  const secrets: Record<string, number> = { alice: 0, mallory: 0 };

  before(async () => {
    srv = await startNamed(net, 'srv', 'srv', { policy: POLICY, audit: (e) => audit.push(e) });
    srv.addService({
      name: 'billing',
      actions: {
        charge: (_p: unknown, ctx: Context) => {
          seen.principal = ctx.principal;
          return 'charged';
        },
        refund: () => 'refunded',
      },
    });
    srv.addService({ name: 'orders', actions: { get: () => 'order' } });
    srv.addService({
      name: '$internal',
      actions: {
        poke: () => {
          seen.internal++;
          return 'poked';
        },
      },
    });
    srv.addService({
      name: 'sink',
      actions: {},
      events: {
        'order.*': (p: string, ctx: EventContext) => {
          seen.orders.push(p);
          seen.orderFrom = ctx.principal;
        },
        'audit.*': (p: string) => void seen.audits.push(p),
      },
    });
    await srv.start();
    const seeds = [srv.address!];
    alice = await startNamed(net, 'alice', 'alice', { seeds });
    mallory = await startNamed(net, 'mallory', 'mallory', { seeds });
    anon = await startNamed(net, 'anon', null, { seeds });
    for (const [node, name] of [
      [alice, 'alice'],
      [mallory, 'mallory'],
    ] as const) {
      node.addService({ name: 'listener', actions: {}, events: { 'secret.*': () => void secrets[name]!++ } });
    }
    for (const n of [alice, mallory, anon]) await n.start();
    await waitUntil(() => [alice, mallory, anon].every((n) => n.nodes().some((p) => p.id === 'srv' && p.connected)));
    await waitUntil(() => srv.nodes().filter((p) => p.connected).length === 4);
  });
  after(() => Promise.all([alice, mallory, anon, srv].map((n) => n.stop())));

  it('a deny rule refuses the call, names the rule, and the connection keeps serving allowed calls', async () => {
    await assert.rejects(
      mallory.call('billing.refund'),
      isCode('PERMISSION_DENIED', /'mallory' may not call 'billing\.refund': denied by rule 'no-refunds-for-mallory'/),
    );
    assert.equal(await mallory.call('billing.charge'), 'charged');
    assert.equal(await alice.call('billing.refund'), 'refunded');
    const entry = audit.find((e) => e.event === 'denied' && e.rule === 'no-refunds-for-mallory');
    assert.ok(entry, 'the denial is in the audit log');
    assert.equal(entry.principal, 'mallory');
    assert.equal(entry.code, 'PERMISSION_DENIED');
    assert.ok(srv.authorization.denials().call >= 1);
  });

  it('default deny: no rule allows it, and the handler sees the authenticated principal when allowed', async () => {
    await assert.rejects(
      alice.call('orders.get'),
      isCode('PERMISSION_DENIED', /no rule allows 'alice' to call 'orders\.get'/),
    );
    assert.equal(await alice.call('billing.charge'), 'charged');
    assert.deepEqual(seen.principal && { name: seen.principal.name, via: seen.principal.via }, {
      name: 'alice',
      via: 'tls',
    });
  });

  it('an unauthenticated peer gets UNAUTHENTICATED, and only what `unauthenticated` is allowed', async () => {
    await assert.rejects(anon.call('billing.charge'), isCode('UNAUTHENTICATED', /unauthenticated peer 'anon'/));
    assert.equal(await anon.call('orders.get'), 'order');
  });

  it('`$` internal actions and $node introspection are refused to non-members; one-way messages too', async () => {
    const before = srv.authorization.denials().internal;
    await assert.rejects(
      alice.call('$internal.poke', undefined, { nodeId: 'srv' }),
      isCode('PERMISSION_DENIED', /reachable only by cluster members/),
    );
    await assert.rejects(alice.call('$node.info', undefined, { nodeId: 'srv' }), isCode('PERMISSION_DENIED'));
    alice.send('$internal.poke', undefined, { nodeId: 'srv' });
    assert.equal(await alice.call('billing.charge'), 'charged'); // after the one-way, on the same connection
    assert.equal(seen.internal, 0);
    assert.equal(srv.authorization.denials().internal, before + 2);
    assert.equal(await srv.call('$internal.poke'), 'poked'); // this node's own calls are allowed
  });

  it('an event the sender may not emit is dropped (counted), the next allowed one arrives', async () => {
    await mallory.emit('audit.forged', 'x');
    await mallory.emit('order.created', 'o1');
    await waitUntil(() => seen.orders.includes('o1'));
    assert.deepEqual(seen.audits, []);
    // The handler sees who emitted it, as the connection proved it.
    assert.deepEqual(seen.orderFrom && [seen.orderFrom.name, seen.orderFrom.via], ['mallory', 'tls']);
    await srv.emit('order.created', 'o2');
    await waitUntil(() => seen.orders.includes('o2'));
    assert.deepEqual(seen.orderFrom && [seen.orderFrom.name, seen.orderFrom.via], ['srv', 'local']);
    assert.ok(srv.authorization.denials().emit >= 1);
  });

  it('events are routed only to peers that may receive them: balanced among allowed ones, broadcast skips the rest', async () => {
    await waitUntil(() => srv.nodes().filter((n) => n.services.some((s) => s.name === 'listener')).length === 2);
    for (let i = 0; i < 6; i++) await srv.emit('secret.x', i);
    await srv.broadcast('secret.y', 0);
    await waitUntil(() => secrets.alice === 7);
    assert.equal(await mallory.call('billing.charge'), 'charged'); // the mallory link is drained
    assert.equal(secrets.mallory, 0);
    assert.ok(srv.authorization.denials().subscribe >= 1);
  });
});

describe('authorization: the policy file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-policy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const allowCharge = (who: string): Policy => ({
    version: 1,
    allow: [{ name: `charge-${who}`, principals: [who], call: ['billing.charge'] }],
  });

  it('an invalid policy refuses the node at creation, naming the field', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ version: 1, allow: [{ name: 'x', principals: ['*'], call: ['a*b'] }] }));
    assert.throws(
      () => createNode({ policy: path, logger: 'silent' }),
      isCode('INVALID_ARGUMENT', /allow\[0\]\.call\[0\]/),
    );
    assert.throws(
      () => createNode({ policy: join(dir, 'missing.json'), logger: 'silent' }),
      isCode('INVALID_ARGUMENT', /cannot read/),
    );
    assert.throws(
      () => createNode({ policy: { version: 1 } as unknown as Policy, logger: 'silent' }),
      isCode('INVALID_ARGUMENT'),
    );
  });

  it('a .yaml file is read as YAML: the same policy as its JSON; a duplicate key or a bad line is refused naming YAML', async () => {
    const path = join(dir, 'policy.yaml');
    writeFileSync(
      path,
      [
        'version: 1',
        'description: finance may charge',
        'groups:',
        '  finance: [alice]',
        'allow:',
        '  - name: charge',
        "    principals: ['group:finance']",
        '    call: [billing.charge]',
        '',
      ].join('\n'),
    );
    const net = new NamedNetwork();
    const srv = createNode({ id: 'srv', logger: 'silent', transport: net.transport('srv'), policy: path });
    srv.addService({ name: 'billing', actions: { charge: () => 'charged', refund: () => 'refunded' } });
    await srv.start();
    const alice = createNode({
      id: 'alice',
      logger: 'silent',
      transport: net.transport('alice'),
      seeds: [srv.address!],
    });
    await alice.start();
    try {
      await alice.waitFor('billing.charge');
      assert.equal(await alice.call('billing.charge'), 'charged');
      await assert.rejects(alice.call('billing.refund'), isCode('PERMISSION_DENIED'));
    } finally {
      await alice.stop();
      await srv.stop();
    }
    const twice = join(dir, 'twice.yml');
    writeFileSync(twice, 'version: 1\nallow: []\nallow: []\n');
    assert.throws(() => createNode({ policy: twice, logger: 'silent' }), isCode('INVALID_ARGUMENT', /not valid YAML/));
    const bombs = join(dir, 'bombs.yaml');
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    lines.push('version: 1', 'allow: []');
    writeFileSync(bombs, lines.join('\n'));
    assert.throws(
      () => createNode({ policy: bombs, logger: 'silent' }),
      isCode('INVALID_ARGUMENT', /not valid YAML|alias|version/),
    );
  });

  it('is re-read: a broken version keeps the last good policy (one error), a good one replaces it', async () => {
    const path = join(dir, 'policy.json');
    writeFileSync(path, JSON.stringify(allowCharge('alice')));
    const net = new NamedNetwork();
    const audit: AuditEntry[] = [];
    const srv = createNode({
      id: 'srv',
      logger: 'silent',
      transport: net.transport('srv'),
      policy: path,
      audit: (e) => audit.push(e),
    });
    srv.addService({ name: 'billing', actions: { charge: () => 'charged' } });
    await srv.start();
    const alice = createNode({
      id: 'alice',
      logger: 'silent',
      transport: net.transport('alice'),
      seeds: [srv.address!],
    });
    await alice.start();
    try {
      await alice.waitFor('billing.charge');
      assert.equal(await alice.call('billing.charge'), 'charged');
      assert.deepEqual(
        audit.map((e) => e.event),
        ['policy-loaded'],
      );

      writeFileSync(path, '{ "version": 1, "allow": [ oops');
      await waitUntil(() => audit.some((e) => e.event === 'policy-rejected'), 5000);
      assert.equal(await alice.call('billing.charge'), 'charged'); // the last good policy is in force
      const rejected = audit.find((e) => e.event === 'policy-rejected')!;
      assert.match(rejected.reason!, /not valid JSON.*last good policy stays/);

      writeFileSync(path, JSON.stringify(allowCharge('bob')));
      await waitUntil(() => audit.some((e) => e.event === 'policy-reloaded'), 5000);
      await assert.rejects(alice.call('billing.charge'), isCode('PERMISSION_DENIED', /no rule allows 'alice'/));
      assert.equal(audit.filter((e) => e.event === 'policy-rejected').length, 1, 'one error per bad version');
    } finally {
      await alice.stop();
      await srv.stop();
    }
  });
});

describe('authorization with real authentication (node keys, cluster secret)', () => {
  const keys = { alice: generateNodeKeys(), bob: generateNodeKeys(), carol: generateNodeKeys() };
  const trust = {
    alice: keys.alice.publicKey,
    bob: keys.bob.publicKey,
    carol: { publicKey: keys.carol.publicKey, groups: ['ops'] },
  };
  const started: ParleyNode[] = [];
  after(() => Promise.all(started.map((n) => n.stop())));
  const start = async (network: MemoryNetwork, id: string, options: Partial<NodeOptions>) => {
    const n = createNode({
      id,
      logger: 'silent',
      gossipInterval: 50,
      transport: new MemoryTransport(network, { maxFrameSize: 1 << 20, maxOutboundBytes: 1 << 24 }),
      ...options,
    });
    started.push(n);
    await n.start();
    return n;
  };
  const vault = { name: 'vault', actions: { read: () => 'secret', write: () => 'written' } };

  it('key mode: the principal the key proves, and the groups the trust list gives it, decide', async () => {
    const net = new MemoryNetwork();
    const alice = await start(net, 'alice', {
      auth: { key: keys.alice.secretKey, trust },
      policy: {
        version: 1,
        members: ['alice'],
        allow: [
          { name: 'bob-reads', principals: ['bob'], call: ['vault.read'] },
          { name: 'ops-writes', principals: ['group:ops'], call: ['vault.*'] },
        ],
      },
    });
    alice.addService(vault);
    const seeds = [alice.address!];
    const bob = await start(net, 'bob', { auth: { key: keys.bob.secretKey, trust }, seeds });
    const carol = await start(net, 'carol', { auth: { key: keys.carol.secretKey, trust }, seeds });
    await bob.waitFor('vault.read', 3000);
    await carol.waitFor('vault.write', 3000);
    assert.equal(await bob.call('vault.read'), 'secret');
    await assert.rejects(
      bob.call('vault.write'),
      isCode('PERMISSION_DENIED', /no rule allows 'bob' to call 'vault\.write'/),
    );
    assert.equal(await carol.call('vault.write'), 'written');
    await assert.rejects(bob.call('$node.info', undefined, { nodeId: 'alice' }), isCode('PERMISSION_DENIED'));
    assert.equal(await bob.call('vault.read'), 'secret');
  });

  it('secret mode: holders of the secret are members by default; rules still apply to their calls', async () => {
    const net = new MemoryNetwork();
    const secret = 'correct horse battery staple, and then some more';
    const a = await start(net, 'alpha', {
      auth: { secret },
      policy: { version: 1, allow: [{ name: 'beta-reads', principals: ['beta'], call: ['vault.read'] }] },
    });
    a.addService(vault);
    const b = await start(net, 'beta', { auth: { secret }, seeds: [a.address!] });
    await b.waitFor('vault.read', 3000);
    assert.equal(await b.call('vault.read'), 'secret');
    assert.equal(((await b.call('$node.info', undefined, { nodeId: 'alpha' })) as { id: string }).id, 'alpha');
    await assert.rejects(b.call('vault.write'), isCode('PERMISSION_DENIED'));
  });
});

describe('authorization: who may serve (a policy on the calling node)', () => {
  const net = new NamedNetwork();
  const nodes: ParleyNode[] = [];
  let caller: ParleyNode;
  const servedBy = (_p: unknown, ctx: Context) => ctx.nodeId;

  before(async () => {
    caller = await startNamed(net, 'caller', 'caller', {
      policy: {
        version: 1,
        members: ['kv*'],
        allow: [{ name: 'workers', principals: ['worker'], serve: ['jobs.*'] }],
      },
    });
    await caller.start();
    const seeds = [caller.address!];
    for (const id of ['worker', 'mallory', 'kv1']) {
      const node = await startNamed(net, id, id, { seeds });
      node.addService({ name: 'jobs', actions: { run: servedBy } });
      node.addService({ name: '$kv', actions: { range: servedBy } });
      if (id === 'mallory') node.addService({ name: 'evil', actions: { only: servedBy } });
      await node.start();
      nodes.push(node);
    }
    await waitUntil(() => caller.nodes().filter((n) => n.connected).length === 4); // itself and three peers
  });
  after(() => Promise.all([caller, ...nodes].map((n) => n.stop())));

  it('calls go only to nodes whose principal may serve the action; `$` actions only to members', async () => {
    const jobs = new Set<unknown>();
    const kv = new Set<unknown>();
    for (let i = 0; i < 12; i++) {
      jobs.add(await caller.call('jobs.run'));
      kv.add(await caller.call('$kv.range'));
    }
    // kv1 is a member (members serve everything), worker has a serve rule, mallory has neither.
    assert.deepEqual([...jobs].sort(), ['kv1', 'worker']);
    assert.deepEqual([...kv], ['kv1']);
  });

  it('a call aimed at a node that may not serve it, or an action only such nodes offer, is refused', async () => {
    await assert.rejects(
      caller.call('jobs.run', undefined, { nodeId: 'mallory' }),
      isCode('PERMISSION_DENIED', /node 'mallory' may not serve 'jobs\.run'/),
    );
    await assert.rejects(caller.call('evil.only'), isCode('PERMISSION_DENIED', /may not serve 'evil\.only'/));
    assert.throws(() => caller.send('$kv.range', undefined, { nodeId: 'mallory' }), isCode('PERMISSION_DENIED'));
    assert.equal(await caller.call('jobs.run', undefined, { nodeId: 'worker' }), 'worker');
  });
});
