import type { ConfChange } from '../core/conf-change.js';
import type { Message } from '../core/messages.js';
import type { Ready, Status } from '../core/ready.js';
import type { RawNodeApi } from '../driver.js';
import type { ConfState } from '../types.js';

/** A RawNode that hands out scripted Readys, one per kick. */
export class ScriptedNode implements RawNodeApi {
  readonly readys: Ready[] = [];
  tick(): void {}
  step(_m: Message): void {}
  propose(_d: Uint8Array): void {}
  proposeBatch(_d: readonly Uint8Array[]): void {}
  readIndex(_c: Uint8Array): void {}
  hasReady(): boolean {
    return this.readys.length > 0;
  }
  ready(): Ready {
    return this.readys.shift()!;
  }
  advance(): void {}
  applyConfChange(_cc: ConfChange): ConfState {
    throw new Error('not scripted');
  }
  proposeConfChange(_cc: ConfChange): void {}
  transferLeadership(): void {}
  reportSnapshot(): void {}
  status(): Status {
    throw new Error('not scripted');
  }
}
