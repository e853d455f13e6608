/**
 * Segment files are named `wal-<seq>-<firstIndex>.log`, both as 16 hex digits so that the
 * lexical order is the numeric order. `seq` numbers are contiguous from the oldest kept
 * segment; `firstIndex` is lastIndex()+1 at the time the segment was created.
 */
export interface SegmentName {
  readonly seq: number;
  readonly firstIndex: number;
  readonly file: string;
}

const PATTERN = /^wal-([0-9a-f]{16})-([0-9a-f]{16})\.log$/;

export function segmentFileName(seq: number, firstIndex: number): string {
  return `wal-${hex16(seq)}-${hex16(firstIndex)}.log`;
}

export function parseSegmentFileName(file: string): SegmentName | null {
  const m = PATTERN.exec(file);
  if (!m) return null;
  return { seq: Number.parseInt(m[1]!, 16), firstIndex: Number.parseInt(m[2]!, 16), file };
}

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
