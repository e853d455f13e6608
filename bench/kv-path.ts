/**
 * The CPU of a KV put's own stages, in one process, without network or disk: deterministic enough to compare
 * builds on a loaded machine, where the end-to-end benchmark (bench/kv.ts) varies by 2–5× from run to run.
 *
 *   npm run bench -- kv-path [--puts 100000] [--rounds 3]
 *
 * Stages, per put as `$kv.put` receives it ({ key: string, value: 100 bytes, clientId, seq }):
 * - propose: what the receiving member does before proposing: validate, drop unknown fields, encode
 *   (`commandToPropose`);
 * - envelope: the raft driver's proposal envelope (origin, seq) around it;
 * - apply: what EVERY member does with the committed entry: decode + apply to the state machine.
 * "across 3 members" = propose + envelope + 3 × apply. The `msgpack` rows are the encoding used before
 * kv/command-codec.ts (msgpack of the unvalidated request; msgpack decode, byte copies and validation on apply),
 * measured with the same state machine.
 *
 * Then the raft messages that replicate a put, as `$raft.step` bodies: the leader encodes a MsgApp carrying a batch
 * of entries for each of 2 followers, each decodes and checks it (core/wire-message.ts) and answers a MsgAppResp,
 * which the leader decodes and checks; per put = 2 × (MsgApp + MsgAppResp round) / entries per MsgApp.
 */
import { Packr } from 'msgpackr';
import { commandToPropose, plain, restoreBytes } from '../src/kv/command-codec.js';
import { KvStateMachine } from '../src/kv/kv-state-machine.js';
import { newMessage } from '../src/raft/core/messages.js';
import { checkWireMessage, encodeWireMessage } from '../src/raft/core/wire-message.js';
import { encodeProposal } from '../src/raft/driver-proposals.js';
import { msgpackCodec } from '../src/wire/codec.js';
import { formatTable } from './harness/table.js';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

interface Costs {
  propose: number;
  envelope: number;
  apply: number;
}

function request(i: number, value: Uint8Array) {
  return {
    type: 'put',
    key: `bench/k${String(i % 1000).padStart(6, '0')}`,
    value,
    clientId: `bench-client-0a1b2c3d/${i % 100}`,
    seq: Math.floor(i / 100) + 1,
  };
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function measure(path: 'binary' | 'msgpack', puts: number): Costs {
  const sm = new KvStateMachine();
  const value = new Uint8Array(100).fill(97);
  const encoded: Uint8Array[] = new Array(puts);
  let t = cpuUs();
  for (let i = 0; i < puts; i++) {
    const req = request(i, value);
    encoded[i] = path === 'binary' ? commandToPropose(req, sm.limits) : new Uint8Array(packr.pack(plain(req)));
  }
  const propose = (cpuUs() - t) / puts;
  t = cpuUs();
  for (let i = 0; i < puts; i++) encodeProposal('s1', i + 1, encoded[i]!);
  const envelope = (cpuUs() - t) / puts;
  t = cpuUs();
  for (let i = 0; i < puts; i++) {
    const o = path === 'binary' ? sm.apply(encoded[i]) : sm.apply(restoreBytes(packr.unpack(encoded[i]!)));
    if (!o.ok) throw o.error;
  }
  const apply = (cpuUs() - t) / puts;
  return { propose, envelope, apply };
}

/** CPU per put of the raft messages that replicate it, with `batch` entries (190-byte puts) per MsgApp. */
function measureReplication(batch: number, rounds: number): number {
  const appendAt = (i: number) =>
    newMessage({
      type: 'MsgApp',
      from: 's1',
      to: 's2',
      term: 2,
      logTerm: 2,
      index: i,
      commit: i - 3,
      entries: Array.from({ length: batch }, (_, k) => ({
        term: 2,
        index: i + 1 + k,
        type: 0,
        data: new Uint8Array(190).fill(7),
      })),
    });
  const appends = Array.from({ length: 64 }, (_, i) => appendAt(1000 + i * batch));
  const answers = appends.map((m) =>
    newMessage({ type: 'MsgAppResp', from: 's2', to: 's1', term: 2, index: m.index + batch }),
  );
  const trip = (m: (typeof appends)[number]) => {
    const body = msgpackCodec.decode(msgpackCodec.encode(['$raft.step', [encodeWireMessage(m)], null])) as unknown[];
    for (const raw of body[1] as unknown[]) checkWireMessage(raw);
  };
  const n = Math.ceil(200_000 / batch);
  let best = Infinity;
  for (let r = 0; r <= rounds; r++) {
    const t = cpuUs();
    for (let i = 0; i < n; i++) {
      trip(appends[i & 63]!);
      trip(answers[i & 63]!);
    }
    if (r > 0) best = Math.min(best, (cpuUs() - t) / n); // round 0 warms up
  }
  return (2 * best) / batch;
}

export async function run(args: string[]): Promise<void> {
  let puts = 100_000;
  let rounds = 3;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--puts') puts = Number(args[++i]);
    else if (args[i] === '--rounds') rounds = Number(args[++i]);
    else throw new Error(`unknown option '${args[i]}' (--puts N, --rounds N)`);
  }
  console.log(`kv-path benchmark — ${new Date().toISOString()}; ${puts} puts per round, best of ${rounds} rounds`);
  console.log(`command: npm run bench -- kv-path ${args.join(' ')}`.trimEnd());
  const rows: string[][] = [];
  for (const path of ['msgpack', 'binary'] as const) {
    const best: Costs = { propose: Infinity, envelope: Infinity, apply: Infinity };
    for (let r = 0; r < rounds; r++) {
      const c = measure(path, puts);
      best.propose = Math.min(best.propose, c.propose);
      best.envelope = Math.min(best.envelope, c.envelope);
      best.apply = Math.min(best.apply, c.apply);
    }
    const across = best.propose + best.envelope + 3 * best.apply;
    rows.push([
      path === 'binary' ? 'binary put (command-codec)' : 'msgpack (before)',
      best.propose.toFixed(2),
      best.envelope.toFixed(2),
      best.apply.toFixed(2),
      across.toFixed(1),
    ]);
  }
  console.log(
    formatTable(['encoding', 'propose µs', 'envelope µs', 'apply µs (each member)', 'across 3 members µs'], rows),
  );
  const replication = [1, 8, 32].map((batch) => [String(batch), measureReplication(batch, rounds).toFixed(2)]);
  console.log('\nraft messages replicating one put (leader → 2 followers and back, wire form of core/wire-message.ts)');
  console.log(formatTable(['entries per MsgApp', 'µs per put, 3 members'], replication));
}
