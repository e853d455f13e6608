/**
 * A raft benchmark member in its own OS process:
 *
 *   node dist/bench/raft-member.js <id> <wal-dir> <id=port,id=port,...> [tuning-json]
 *
 * Listens on its own port and dials every other member (one outbound pipe per peer, for sending; inbound pipes
 * only receive): length-prefixed msgpackr frames (bench/raft-pipe.ts), writes coalesced per microtask.
 * Speaks the peer-process protocol (harness/peer-process-protocol.ts) with the orchestrator (raft-cluster.ts):
 *   status → { id, leader, saves }        campaign → starts an election here
 *   load { concurrency, warmupMs, durationMs, payloadBytes } → LoadResult (proposers run in this process)
 *   stop → exits (process.exit, so --cpu-prof writes its profile)
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from '../src/raft/core/messages.js';
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

async function main(): Promise<void> {
  const [id, dir, membersArg, tuningArg] = process.argv.slice(2);
  if (!id || !dir || !membersArg) throw new Error('usage: raft-member.js <id> <wal-dir> <id=port,...> [tuning-json]');
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
  const outbound = new Map<NodeId, FramePipe>();
  const member = BenchRaftMember.open(
    id,
    [...ports.keys()],
    dir,
    (messages) => {
      // A message to a peer not (yet) connected is dropped; raft retries what matters.
      for (const m of messages) outbound.get(m.to)?.send(m);
    },
    tuning,
  );
  const deliver = (value: unknown) => member.step(value as Message);
  await listenPipes(ports.get(id)!, (_pipe, onMessage) => onMessage(deliver));
  await Promise.all(
    [...ports]
      .filter(([peer]) => peer !== id)
      .map(async ([peer, port]) => outbound.set(peer, await dialPeer(port, () => {}))),
  );
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
