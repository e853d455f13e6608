import type { ConfChange } from '../raft/core/conf-change.js';
import { encodeConfChange } from '../raft/core/conf-change.js';
import type { RaftConfig } from '../raft/core/config.js';
import { raftError } from '../raft/core/errors.js';
import type { Message } from '../raft/core/messages.js';
import type { ReadState, Ready, SoftState, Status } from '../raft/core/ready.js';
import type { RawNodeApi } from '../raft/driver.js';
import type { ConfState, Entry, HardState, NodeId } from '../raft/types.js';
import { EntryType } from '../raft/types.js';

/** TEMPORARY stand-in for the real core: a single voter that commits what it persisted. */
export class SoloRawNode implements RawNodeApi {
  private term: number;
  private last: number;
  private commit: number;
  private unstable: Entry[] = [];
  private committed: Entry[] = [];
  private handed: Entry[] = [];
  private reads: ReadState[] = [];
  private soft: SoftState | null;
  private hardDirty = true;
  private applied: number;
  private conf: ConfState;

  constructor(private readonly config: RaftConfig) {
    const st = config.storage.initialState();
    this.term = Math.max(1, st.hardState.term);
    this.last = config.storage.lastIndex();
    this.commit = st.hardState.commit;
    this.applied = config.applied ?? 0;
    this.conf = st.confState;
    const first = Math.max(config.storage.firstIndex(), this.applied + 1);
    if (first <= this.commit) this.committed = config.storage.entries(first, this.commit + 1, Number.MAX_SAFE_INTEGER);
    this.soft = { lead: config.id, role: 'leader' };
    this.unstable.push({ term: ++this.term, index: ++this.last, type: EntryType.Normal, data: new Uint8Array(0) });
  }
  tick(): void {}
  step(_m: Message): void {}
  propose(data: Uint8Array): void {
    this.unstable.push({ term: this.term, index: ++this.last, type: EntryType.Normal, data });
  }
  proposeConfChange(cc: ConfChange): void {
    this.unstable.push({ term: this.term, index: ++this.last, type: EntryType.ConfChange, data: encodeConfChange(cc) });
  }
  transferLeadership(_to: NodeId): void {}
  readIndex(context: Uint8Array): void {
    this.reads.push({ index: this.commit, requestContext: context });
  }
  hasReady(): boolean {
    return this.unstable.length + this.committed.length + this.reads.length > 0 || this.soft !== null || this.hardDirty;
  }
  ready(): Ready {
    this.handed = this.unstable;
    const hs: HardState = { term: this.term, vote: this.config.id, commit: this.commit };
    const rd: Ready = {
      softState: this.soft,
      hardState: hs,
      readStates: this.reads,
      entries: this.unstable,
      snapshot: null,
      committedEntries: this.committed,
      messages: [],
      mustSync: this.unstable.length > 0,
    };
    for (const e of this.committed) this.applied = e.index;
    this.unstable = [];
    this.reads = [];
    this.soft = null;
    this.committed = [];
    this.hardDirty = false;
    return rd;
  }
  advance(): void {
    if (this.handed.length > 0) {
      this.commit = this.handed.at(-1)!.index;
      this.committed = this.handed;
      this.hardDirty = true;
    }
    this.handed = [];
  }
  applyConfChange(cc: ConfChange): ConfState {
    const voters = new Set(this.conf.voters);
    for (const c of cc.changes) {
      if (c.type === 'RemoveNode') voters.delete(c.nodeId);
      else voters.add(c.nodeId);
    }
    this.conf = { ...this.conf, voters: [...voters].sort() };
    return this.conf;
  }
  status(): Status {
    return {
      id: this.config.id,
      term: this.term,
      vote: this.config.id,
      commit: this.commit,
      applied: this.applied,
      lead: this.config.id,
      role: 'leader',
      leadTransferee: null,
      progress: null,
      config: this.conf,
    };
  }
}

export function soloBootstrap(voters: readonly NodeId[]): { hardState: HardState; entries: Entry[] } {
  if (voters.length !== 1) throw raftError('invalid-config', 'the stand-in raft core runs single-member clusters only');
  const entries = voters.map((id, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ transition: 'Auto', changes: [{ type: 'AddNode', nodeId: id }] }),
  }));
  return { hardState: { term: 1, vote: null, commit: voters.length }, entries };
}
