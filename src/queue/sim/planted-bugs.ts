import type { AckCommand, PartitionCommand, PartitionOutcome, PublishCommand } from '../types.js';
import type { PartitionReplica } from './queue-application.js';

/**
 * Bugs planted into a partition replica to prove the queue checker has teeth: each wraps a
 * correct replica and breaks one promise of docs/QUEUES.md, the way a plausible implementation
 * mistake would. A run with a planted bug must end with the checker reporting it (and the seed
 * that replays it).
 *
 *  - forget-dedup: publishes are stored as if they had no msgId (the dedup window is skipped);
 *  - lose-on-restore: a snapshot holds the state of the snapshot before it (a cache not
 *    refreshed), so a member that restores it loses the messages and acks applied in between;
 *  - unblock-keys: an ordered-by-key consumer is created as a competing one, so a later message
 *    of a key is delivered while an earlier one is unacked;
 *  - accept-stale-token: an ack's token is replaced by the message's latest token, so a stale
 *    worker's late ack is accepted.
 */
export const PLANTED_BUGS = ['forget-dedup', 'lose-on-restore', 'unblock-keys', 'accept-stale-token'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

export function plantBug(bug: PlantedBug, inner: PartitionReplica): PartitionReplica {
  switch (bug) {
    case 'forget-dedup':
      return rewriting(inner, (cmd) => (cmd.type === 'publish' ? withoutMsgIds(cmd) : cmd));
    case 'unblock-keys':
      return rewriting(inner, (cmd) =>
        cmd.type === 'consumer-create' && cmd.config.mode === 'ordered-by-key'
          ? { ...cmd, config: { ...cmd.config, mode: 'competing' } }
          : cmd,
      );
    case 'lose-on-restore':
      return staleSnapshots(inner);
    case 'accept-stale-token':
      return latestTokens(inner);
  }
}

function rewriting(inner: PartitionReplica, rewrite: (cmd: PartitionCommand) => PartitionCommand): PartitionReplica {
  return {
    apply: (cmd) => inner.apply(rewrite(cmd)),
    snapshot: () => inner.snapshot(),
    restore: (b) => inner.restore(b),
    view: (c) => inner.view(c),
  };
}

function withoutMsgIds(cmd: PublishCommand): PublishCommand {
  return { ...cmd, messages: cmd.messages.map(({ msgId: _dropped, ...m }) => m) };
}

function staleSnapshots(inner: PartitionReplica): PartitionReplica {
  let previous: Uint8Array | null = null;
  return {
    apply: (cmd) => inner.apply(cmd),
    snapshot: () => {
      const now = inner.snapshot();
      const out = previous ?? now;
      previous = now;
      return out;
    },
    restore: (b) => inner.restore(b),
    view: (c) => inner.view(c),
  };
}

function latestTokens(inner: PartitionReplica): PartitionReplica {
  const latest = new Map<string, number>();
  const rewrite = (cmd: AckCommand): AckCommand => ({
    ...cmd,
    acks: cmd.acks.map((a) => ({ ...a, token: latest.get(`${cmd.consumer}/${a.seq}`) ?? a.token })),
  });
  return {
    apply: (cmd): PartitionOutcome => {
      const out = inner.apply(cmd.type === 'ack' ? rewrite(cmd) : cmd);
      if (cmd.type === 'fetch' && out.ok && out.result.type === 'fetch') {
        for (const d of out.result.deliveries) latest.set(`${cmd.consumer}/${d.message.seq}`, d.token);
      }
      return out;
    },
    snapshot: () => inner.snapshot(),
    restore: (b) => inner.restore(b),
    view: (c) => inner.view(c),
  };
}
