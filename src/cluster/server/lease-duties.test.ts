import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, settle } from '../../base/testing/fake-clock.js';
import { KvStateMachine } from '../../kv/kv-state-machine.js';
import type { KvResult } from '../../kv/types.js';
import { silentLogger } from '../../transport/logger.js';
import { LeaseDuties } from './lease-duties.js';

interface Proposal {
  readonly command: { type: string; ids?: number[]; checkpoints?: { id: number }[] };
  /** Applies the command to the state machine and settles the proposal. */
  commit(): void;
}

/** A leader whose log is in the test's hands: proposals wait until the test commits them. */
function fixture() {
  const clock = new FakeClock(10_000);
  const sm = new KvStateMachine();
  const progress = { term: 2, commit: 5, commitTerm: 2, applied: 5 };
  const proposals: Proposal[] = [];
  const duties = new LeaseDuties(
    {
      sm,
      isLeader: true,
      raftProgress: () => progress,
      // Keep-alives wait for the test; the duties' own proposals commit at once.
      propose: (command) =>
        new Promise<KvResult>((resolve, reject) => {
          const p: Proposal = {
            command: command as Proposal['command'],
            commit: () => {
              const o = sm.apply(command);
              if (o.ok) resolve(o.result);
              else reject(o.error);
            },
          };
          proposals.push(p);
          if (p.command.type !== 'lease-keepalive') p.commit();
        }),
    },
    { logger: silentLogger, timer: clock, leaseCheckMs: 100, checkpointMs: 100 },
  );
  const grant = (ttlMs: number) => {
    const o = sm.apply({ type: 'lease-grant', ttlMs, now: clock.now() });
    assert.ok(o.ok && o.result.type === 'lease-grant');
    return o.result.id;
  };
  const proposedFor = (type: string, id: number, since = 0) =>
    proposals
      .slice(since)
      .some(
        (p) =>
          p.command.type === type && (p.command.ids?.includes(id) || p.command.checkpoints?.some((c) => c.id === id)),
      );
  /** Lets `ms` pass in 50 ms steps, letting settled proposals finish between steps. */
  const pass = async (ms: number) => {
    for (let left = ms; left > 0; left -= 50) {
      clock.advance(Math.min(50, left));
      await settle();
    }
  };
  return { clock, sm, progress, proposals, duties, grant, proposedFor, pass };
}

describe('lease duties: a keep-alive is never lost to an expiry', () => {
  it('does not expire or checkpoint a lease whose keep-alive is in flight when its deadline passes', async () => {
    const f = fixture();
    const id = f.grant(1000);
    f.duties.start();
    await f.pass(950); // 50 ms before the deadline
    const renewed = f.duties.keepAlive(id);
    const since = f.proposals.length;
    const keepAlive = f.proposals[since - 1]!;
    assert.equal(keepAlive.command.type, 'lease-keepalive');
    await f.pass(500); // the old deadline is long past while the keep-alive replicates
    assert.equal(f.proposedFor('lease-expire', id), false, 'no expiry while the keep-alive is in flight');

    assert.equal(f.proposedFor('lease-checkpoint', id, since), false, 'no checkpoint that would undo the renewal');
    keepAlive.commit();
    await renewed;
    await f.pass(400); // 1000 ms after the keep-alive was stamped minus 50: still alive
    assert.equal(f.proposedFor('lease-expire', id), false);
    await f.pass(200);
    assert.equal(f.proposedFor('lease-expire', id), true, 'expires once its renewed deadline passes');
    f.duties.stop();
  });

  it('a new leader decides nothing before it has committed an entry of its own term', async () => {
    const f = fixture();
    const id = f.grant(1000);
    // Elected in term 3; its log may hold keep-alives of term 2 that are not committed yet.
    Object.assign(f.progress, { term: 3, commitTerm: 2 });
    f.duties.start();
    await f.pass(5000);
    assert.equal(f.proposals.length, 0, 'no expiry, no checkpoint');
    assert.ok(f.sm.leaseIds().includes(id));
    // Its first entry commits (and with it every earlier one): now it may decide.
    Object.assign(f.progress, { commit: 9, commitTerm: 3, applied: 8 });
    await f.pass(200);
    assert.equal(f.proposals.length, 0, 'not before it has applied everything committed');
    f.progress.applied = 9;
    await f.pass(200);
    assert.equal(f.proposedFor('lease-expire', id), true);
    f.duties.stop();
  });
});
