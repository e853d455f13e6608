import { readF64, shortText, writeF64 } from '../base/byte-fields.js';
import { ParleyError } from '../wire/parley-error.js';

/**
 * Proposal identity and bookkeeping for the driver.
 *
 * Every proposal's entry data is wrapped in an envelope carrying (origin member, sequence
 * number). When an entry is applied, the member that proposed it recognises the envelope and
 * settles exactly that promise — whatever index the entry ended up at and whichever leader
 * appended it. An entry at the "expected" index with another id therefore never resolves the
 * wrong caller.
 *
 * Envelope layout: u8 version (1) | u16 origin length | origin UTF-8 | f64 seq | payload.
 * Entries without a valid envelope (the leader's empty no-op) decode to null.
 */

const VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface ProposalEnvelope {
  readonly origin: string;
  readonly seq: number;
  readonly payload: Uint8Array;
}

export function encodeProposal(origin: string, seq: number, payload: Uint8Array): Uint8Array {
  return encodeEnvelope(encoder.encode(origin), seq, payload);
}

/** encodeProposal with the origin already UTF-8 encoded (a tracker encodes its origin once, not per proposal). */
function encodeEnvelope(o: Uint8Array, seq: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(11 + o.length + payload.length);
  out[0] = VERSION;
  out[1] = o.length & 0xff;
  out[2] = o.length >>> 8;
  out.set(o, 3);
  writeF64(out, 3 + o.length, seq);
  out.set(payload, 11 + o.length);
  return out;
}

/** Every member decodes the envelope of every committed entry: no DataView, no decoder call for an ASCII origin. */
export function decodeProposal(data: Uint8Array): ProposalEnvelope | null {
  if (data.length < 11 || data[0] !== VERSION) return null;
  const len = data[1]! | (data[2]! << 8);
  if (11 + len > data.length) return null;
  // A plain view, not subarray: entries from the network are Buffers, whose subarray goes
  // through Buffer's species constructor on every applied entry.
  return {
    origin: shortText(data, 3, 3 + len, decoder),
    seq: readF64(data, 3 + len),
    payload: new Uint8Array(data.buffer, data.byteOffset + 11 + len, data.length - 11 - len),
  };
}

interface Pending<R> {
  readonly resolve: (result: R) => void;
  readonly reject: (err: ParleyError) => void;
}

/**
 * The promises of this member's in-flight proposals, keyed by sequence number.
 * Invariant: each promise is settled at most once; a settled seq is forgotten, so an entry
 * applied after its proposal was rejected (leadership lost) is applied but answers no one.
 */
export class ProposalTracker<R> {
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending<R>>();

  private readonly originUtf8: Uint8Array;

  constructor(readonly origin: string) {
    this.originUtf8 = encoder.encode(origin);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Allocates an id for a new proposal; returns the envelope to propose and its promise. */
  track(payload: Uint8Array): { data: Uint8Array; seq: number; result: Promise<R> } {
    const seq = this.nextSeq++;
    let entry!: Pending<R>;
    const result = new Promise<R>((resolve, reject) => {
      entry = { resolve, reject };
    });
    this.pending.set(seq, entry);
    return { data: encodeEnvelope(this.originUtf8, seq, payload), seq, result };
  }

  /** An applied entry: settles the matching proposal if it was ours. */
  applied(envelope: ProposalEnvelope, result: R): void {
    if (envelope.origin !== this.origin) return;
    const p = this.pending.get(envelope.seq);
    if (p === undefined) return;
    this.pending.delete(envelope.seq);
    p.resolve(result);
  }

  /** The state machine threw while applying our entry. */
  failed(envelope: ProposalEnvelope, err: ParleyError): void {
    if (envelope.origin !== this.origin) return;
    const p = this.pending.get(envelope.seq);
    if (p === undefined) return;
    this.pending.delete(envelope.seq);
    p.reject(err);
  }

  /** Rejects one proposal (e.g. the core dropped it before it reached any log). */
  reject(seq: number, err: ParleyError): void {
    const p = this.pending.get(seq);
    if (p === undefined) return;
    this.pending.delete(seq);
    p.reject(err);
  }

  /** Rejects every pending proposal (leadership lost, stop). */
  rejectAll(err: ParleyError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}

/** The error for proposals in flight when this member's leader changed or stepped down. */
export function leadershipLost(): ParleyError {
  return new ParleyError(
    'UNAVAILABLE',
    'leadership lost, the proposal may or may not have been applied — retry only if idempotent',
    { details: { reason: 'leadership-lost' } },
  );
}

/** The error for proposals the core refused: nothing was appended, a retry is safe. */
export function proposalDropped(cause: unknown): ParleyError {
  return new ParleyError(
    'UNAVAILABLE',
    'proposal dropped (no leader known or leader busy); it was not applied, retry',
    {
      details: { reason: 'proposal-dropped' },
      cause,
    },
  );
}

/** The error for proposals in flight when the driver stops. */
export function driverStopped(): ParleyError {
  return new ParleyError('CANCELLED', 'raft driver stopped, the proposal may or may not have been applied', {
    details: { reason: 'stopped' },
  });
}
