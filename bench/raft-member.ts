/**
 * A raft benchmark member in its own OS process:
 *
 *   node dist/bench/raft-member.js <id> <wal-dir> <id=port,id=port,...> <pipe|node> [tuning-json]
 *
 * Transports:
 *  - `pipe`: listens on its own port and dials every other member (one outbound pipe per peer, for sending;
 *    inbound pipes only receive): length-prefixed msgpackr frames (bench/raft-pipe.ts), one write per microtask.
 *  - `node`: a Parley node (createNode: TCP mesh, HELLO, Parley frames, msgpack codec); each Ready's messages to
 *    a peer go as one one-way `$raft.step` call in their wire form (checked on arrival), exactly as `parley server`
 *    sends them.
 * Speaks the peer-process protocol (harness/peer-process-protocol.ts) with the orchestrator (raft-cluster.ts):
 *   status → { id, leader, saves }        campaign → starts an election here
 *   load { concurrency, warmupMs, durationMs, payloadBytes } → LoadResult (proposers run in this process)
 *   stop → exits (process.exit, so --cpu-prof writes its profile)
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNode } from '../src/node/node.js';
import type { Message } from '../src/raft/core/messages.js';
import { checkWireMessage, encodeWireMessage } from '../src/raft/core/wire-message.js';
import type { NodeId } from '../src/raft/types.js';
import { type ChildCommand, type ChildMessage, MARKER } from './harness/peer-process-protocol.js';
import { BenchRaftMember, DEFAULT_TUNING, type RaftTuning } from './raft-bench-member.js';
import { connectPipe, type FramePipe, listenPipes } from './raft-pipe.js';

function tell(message: ChildMessage): void {
  process.stdout.write(`${MARKER}${JSON.stringify(message)}\n`);
}

/** Dials until the peer listens (members start in any order); gives up after 20 s. */
async function dialPeer(port: number, onMessage: (v: unknown) => void): Promise<FramePipe> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await connectPipe(port, onMessage);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

type Connect = (
  id: NodeId,
  ports: ReadonlyMap<NodeId, number>,
  deliver: (m: Message) => void,
) => Promise<(messages: readonly Message[]) => void>;

const connectPipes: Connect = async (id, ports, deliver) => {
  const outbound = new Map<NodeId, FramePipe>();
  await listenPipes(ports.get(id)!, (_pipe, onMessage) => onMessage((v) => deliver(v as Message)));
  await Promise.all(
    [...ports]
      .filter(([peer]) => peer !== id)
      .map(async ([peer, port]) => outbound.set(peer, await dialPeer(port, () => {}))),
  );
  // A message to a peer not (yet) connected is dropped; raft retries what matters.
  return (messages) => {
    for (const m of messages) outbound.get(m.to)?.send(m);
  };
};

const connectNode: Connect = async (id, ports, deliver) => {
  const node = createNode({
    id,
    host: '127.0.0.1',
    port: ports.get(id)!,
    seeds: [...ports].filter(([peer]) => peer !== id).map(([, port]) => `127.0.0.1:${port}`),
    logger: 'error',
  });
  node.addService({
    name: '$raft',
    actions: {
      step: (params: unknown) => {
        if (!Array.isArray(params)) return;
        for (const m of params) deliver(checkWireMessage(m));
      },
    },
  });
  await node.start();
  const peers = [...ports.keys()].filter((peer) => peer !== id);
  const deadline = Date.now() + 20_000;
  while (!peers.every((peer) => node.nodes().some((n) => n.id === peer && n.connected))) {
    if (Date.now() > deadline) throw new Error(`member ${id}: peers not connected after 20 s`);
    await sleep(50);
  }
  return (messages) => {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, list] of byPeer) {
      try {
        node.send('$raft.step', list.map(encodeWireMessage), { nodeId: to });
      } catch {
        // Not connected: raft retries what matters.
      }
    }
  };
};

async function main(): Promise<void> {
  const [id, dir, membersArg, transport, tuningArg] = process.argv.slice(2);
  if (!id || !dir || !membersArg || (transport !== 'pipe' && transport !== 'node')) {
    throw new Error('usage: raft-member.js <id> <wal-dir> <id=port,...> <pipe|node> [tuning-json]');
  }
  const ports = new Map<NodeId, number>(
    membersArg.split(',').map((pair) => {
      const [peer, port] = pair.split('=');
      return [peer!, Number(port)];
    }),
  );
  const tuning: RaftTuning = {
    ...DEFAULT_TUNING,
    ...(tuningArg ? (JSON.parse(tuningArg) as Partial<RaftTuning>) : {}),
  };
  const connect = transport === 'pipe' ? connectPipes : connectNode;
  let send: (messages: readonly Message[]) => void = () => {};
  const member = BenchRaftMember.open(id, [...ports.keys()], dir, (messages) => send(messages), tuning);
  send = await connect(id, ports, (m) => member.step(m));
  member.start();
  tell({ type: 'ready', address: `127.0.0.1:${ports.get(id)}`, description: `raft member ${id}` });

  const handlers: Record<string, (args: Record<string, number>) => Promise<unknown>> = {
    status: async () => ({ id, leader: member.leader, saves: member.saveStats }),
    campaign: async () => {
      member.campaign();
      return null;
    },
    load: async ({ concurrency = 1, warmupMs = 1000, durationMs = 3000, payloadBytes = 128 }) =>
      member.runLoad({ concurrency, warmupMs, durationMs, payloadBytes }),
  };
  const stop = () => {
    member.close();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const command = JSON.parse(line) as ChildCommand;
    if (command.cmd === 'stop') {
      tell({ type: 'reply', id: command.id, ok: true, result: null });
      setImmediate(stop);
      return;
    }
    const handler = handlers[command.cmd];
    if (!handler) {
      tell({ type: 'reply', id: command.id, ok: false, error: `unknown command '${command.cmd}'` });
      return;
    }
    handler(command.args ?? {}).then(
      (result) => tell({ type: 'reply', id: command.id, ok: true, result }),
      (err) => tell({ type: 'reply', id: command.id, ok: false, error: (err as Error)?.message ?? String(err) }),
    );
  });
  lines.on('close', stop);
}

main().catch((err) => {
  tell({ type: 'failed', unavailable: false, message: (err as Error)?.stack ?? String(err) });
  process.exit(1);
});
