import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { connectQueues } from '../cluster/client/queue-client.js';
import { PARLEY_BIN, runCli } from './testing/run-cli.js';

/** `parley stream|publish|consume|dlq` against a real `parley server` process. */
describe('parley stream, publish, consume and dlq commands', () => {
  let dir: string;
  let server: ChildProcess;
  let servers: string;
  const run = (...args: string[]) => runCli([...args, '--servers', servers], 30_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-qcli-'));
    server = spawn(
      process.execPath,
      [PARLEY_BIN, 'server', '--id', 'solo', '--data', join(dir, 'solo'), '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    servers = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('parley server printed no ready line')), 20_000);
      createInterface({ input: server.stdout! }).on('line', (line) => {
        const m = /^parley server solo listening on (\S+) /.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
  });

  after(async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, shows and removes a stream, as tables and as JSON', async () => {
    const add = await run(
      'stream',
      'add',
      'items',
      '--subjects',
      'items.>,stock.*',
      '--partitions',
      '2',
      '--max-age',
      '60000',
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'stream items: subjects items.>, stock.*, 2 partition(s) of 1 replica(s)\n');
    const again = await run(
      'stream',
      'add',
      'items',
      '--subjects',
      'items.>,stock.*',
      '--partitions',
      '2',
      '--max-age',
      '60000',
    );
    assert.equal(again.code, 0, 'the same config again is no change');
    const ls = await run('stream', 'ls');
    assert.match(
      ls.stdout,
      /^NAME +SUBJECTS +PARTITIONS +REPLICAS +RETENTION\n[- ]+\nitems +items\.>,stock\.\* +2 +1 +limits\n$/,
    );
    const lsJson = JSON.parse((await run('stream', 'ls', '--json')).stdout);
    assert.deepEqual(
      lsJson.map((v: { config: { name: string } }) => v.config.name),
      ['items'],
    );
    await run('publish', 'items.a', 'x');
    const info = await run('stream', 'info', 'items');
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /limits per partition: 1m00s/);
    assert.match(info.stdout, /PARTITION +LEADER +VOTERS +MESSAGES +BYTES +FIRST +LAST +DEAD +CONSUMERS/);
    assert.match(info.stdout, /\n +0 +solo +solo +\d+ +\d+ +\d+ +\d+ +0 +0\n +1 +solo +solo /);
    const infoJson = JSON.parse((await run('stream', 'info', 'items', '--json')).stdout);
    assert.equal(infoJson.config.maxAgeMs, 60000);
    assert.equal(infoJson.partitions.length, 2);
    assert.equal(
      infoJson.partitionInfo.reduce((n: number, p: { messages: number }) => n + p.messages, 0),
      1,
    );
    const rm = await run('stream', 'rm', 'items');
    assert.equal(rm.stdout, 'deleted stream items\n');
    const gone = await run('stream', 'info', 'items');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^NOT_FOUND: no stream named items/);
  });

  it('refuses a bad subject with INVALID_ARGUMENT and says which flag to change', async () => {
    const bad = await run('stream', 'add', 'bad', '--subjects', 'a.>.b');
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^INVALID_ARGUMENT: stream config: subjects\[0\] .*; change --subjects \(parley stream add --help\)\n$/,
    );
    const missing = await run('stream', 'add', 'bad');
    assert.equal(missing.code, 2, 'no --subjects is a usage error');
    assert.match(missing.stderr, /needs --subjects/);
  });

  it('publishes, then consume --ack prints the message and a second consume gets nothing', async () => {
    assert.equal((await run('stream', 'add', 'orders', '--subjects', 'orders.>')).code, 0);
    const pub = await run('publish', 'orders.new', '{"id":1}', '--partition-key', 'c1', '--header', 'h=v');
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(pub.stdout, 'stream orders partition 0 seq 1\n');
    const noConsumer = await run('consume', 'orders', 'workers');
    assert.equal(noConsumer.code, 1);
    assert.match(noConsumer.stderr, /^NOT_FOUND: consumer 'workers' .*add --create/);
    const look = await run('consume', 'orders', 'workers', '--create', '--json');
    assert.equal(look.code, 0, look.stderr);
    const seen = JSON.parse(look.stdout);
    assert.deepEqual(
      { ...seen, time: 0 },
      {
        stream: 'orders',
        partition: 0,
        seq: 1,
        subject: 'orders.new',
        key: 'c1',
        headers: { h: 'v' },
        time: 0,
        deliveries: 1,
        payload: '{"id":1}',
      },
    );
    const take = await run('consume', 'orders', 'workers', '--ack');
    assert.equal(take.code, 0, take.stderr);
    assert.match(
      take.stdout,
      /^PARTITION +SEQ +SUBJECT +KEY +DELIVERIES +PAYLOAD\n[- ]+\n +0 +1 +orders\.new +c1 +2 +\{"id":1\}\n$/,
    );
    const empty = await run('consume', 'orders', 'workers', '--ack', '--wait', '0');
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /no messages for consumer workers of orders/);
  });

  it('publishes --count messages with a rate, and a --msg-id once', async () => {
    await run('stream', 'add', 'bulk', '--subjects', 'bulk.*');
    const many = await run('publish', 'bulk.x', 'p', '--count', '50', '--json');
    assert.equal(many.code, 0, many.stderr);
    const summary = JSON.parse(many.stdout);
    assert.equal(summary.published, 50);
    assert.equal(typeof summary.perSecond, 'number');
    const first = JSON.parse((await run('publish', 'bulk.x', 'p', '--msg-id', 'm1', '--json')).stdout);
    const second = JSON.parse((await run('publish', 'bulk.x', 'p', '--msg-id', 'm1', '--json')).stdout);
    assert.deepEqual(second, { ...first, duplicate: true });
    const follow = await run('consume', 'bulk', 'tail', '--create', '--ack', '--follow', '--max', '2', '--json');
    assert.equal(follow.code, 0, follow.stderr);
    assert.deepEqual(
      follow.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
      [1, 2],
      '--follow --max 2 prints two messages, then stops',
    );
    const none = await run('publish', 'nowhere.x', 'p');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^NOT_FOUND: no stream takes subject 'nowhere\.x'/);
  });

  it('lists dead letters (max deliveries and a term) and replays them', async () => {
    await run('stream', 'add', 'jobs', '--subjects', 'jobs.>');
    await run('publish', 'jobs.a', 'first');
    // Given back without --ack by a consumer allowed one delivery: dead-lettered.
    const look = await run('consume', 'jobs', 'w', '--create', '--max-deliver', '1');
    assert.equal(look.code, 0, look.stderr);
    await run('publish', 'jobs.b', 'second');
    const queues = await connectQueues({ servers: [servers] });
    try {
      const [m] = await queues.fetch('jobs', 'w', { waitMs: 5000 });
      assert.equal(m?.text(), 'second');
      await m!.term('bad input');
    } finally {
      await queues.close();
    }
    const ls = await run('dlq', 'ls', 'jobs');
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^SEQ +MESSAGE +SUBJECT +CONSUMER +DELIVERIES +REASON +ERROR +PAYLOAD\n/);
    assert.match(
      ls.stdout,
      /\n +1 +1 +jobs\.a +w +1 +max-deliveries +given back by parley consume \(no --ack\) +first\n/,
    );
    assert.match(ls.stdout, /\n +2 +2 +jobs\.b +w +1 +terminated +bad input +second\n$/);
    const letters = JSON.parse((await run('dlq', 'ls', 'jobs', '--json')).stdout);
    assert.deepEqual(
      letters.map((d: { seq: number; reason: string; message: { payload: string } }) => [
        d.seq,
        d.reason,
        d.message.payload,
      ]),
      [
        [1, 'max-deliveries', 'first'],
        [2, 'terminated', 'second'],
      ],
    );
    const replay = await run('dlq', 'replay', 'jobs', '1', '2');
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(
      replay.stdout,
      'dead letter 1 replayed as jobs partition 0 seq 3\ndead letter 2 replayed as jobs partition 0 seq 4\n',
    );
    const twice = await run('dlq', 'replay', 'jobs', '1');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /dead letter 1: NOT_FOUND: dead letter 1 does not exist/);
    assert.match((await run('dlq', 'ls', 'jobs')).stdout, /^no dead letters in jobs partition 0\n$/);
    const again = await run('consume', 'jobs', 'w', '--ack', '--json');
    assert.deepEqual(
      again.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).payload),
      ['first', 'second'],
    );
  });

  it('explains its flags and refuses --follow without --ack', async () => {
    for (const command of ['stream', 'publish', 'consume', 'dlq']) {
      const help = await runCli([command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^usage: parley ${command} `));
    }
    const follow = await run('consume', 'orders', 'w', '--follow');
    assert.equal(follow.code, 2);
    assert.match(follow.stderr, /--follow needs --ack/);
  });
});
