import type { Entry } from '../types.js';
import { HEADER_BYTES, RecordType, writeHeader, writeRecord } from './record.js';
import { ENTRY_FIXED_BYTES, writeEntryPayload } from './record-payloads.js';
import { type RecordSealer, SEALED_RECORD_DATA_BYTES, sealedEntriesBytes } from './record-sealer.js';

/**
 * A growable buffer of encoded records: everything one save() writes, so that it reaches the
 * file in ONE write() and becomes durable with ONE fdatasync. Entries are encoded in place
 * (no per-entry allocation). The buffer is reused between batches.
 */
export class RecordBatch {
  private buf: Uint8Array;
  private length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  get byteLength(): number {
    return this.length;
  }

  addEntry(e: Entry): void {
    const payloadLength = ENTRY_FIXED_BYTES + e.data.length;
    this.reserve(HEADER_BYTES + payloadLength);
    writeEntryPayload(this.buf, this.length + HEADER_BYTES, e);
    writeHeader(this.buf, this.length, RecordType.Entry, payloadLength);
    this.length += HEADER_BYTES + payloadLength;
  }

  /**
   * Contiguous entries sealed in place by `sealer` (encryption at rest): one SealedEntries record
   * per SEALED_RECORD_DATA_BYTES of data (at least one entry each), so one cipher per save.
   */
  addSealedEntries(entries: readonly Entry[], sealer: RecordSealer): void {
    let from = 0;
    while (from < entries.length) {
      let to = from + 1;
      let data = entries[from]!.data.length;
      while (to < entries.length && data + entries[to]!.data.length <= SEALED_RECORD_DATA_BYTES) {
        data += entries[to]!.data.length;
        to++;
      }
      const payloadLength = sealedEntriesBytes(entries, from, to);
      this.reserve(HEADER_BYTES + payloadLength);
      sealer.writeSealedEntries(this.buf, this.length + HEADER_BYTES, entries, from, to);
      writeHeader(this.buf, this.length, RecordType.SealedEntries, payloadLength);
      this.length += HEADER_BYTES + payloadLength;
      from = to;
    }
  }

  add(type: RecordType, payload: Uint8Array): void {
    this.reserve(HEADER_BYTES + payload.length);
    this.length = writeRecord(this.buf, this.length, type, payload);
  }

  /** The encoded records; valid until the next add or clear. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
    // Do not pin a huge buffer after one exceptional batch (e.g. a big snapshot catch-up).
    if (this.buf.length > 16 * 1024 * 1024) this.buf = new Uint8Array(64 * 1024);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}
