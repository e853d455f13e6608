/**
 * Status codes: the gRPC status set, by name. Numbers are the gRPC numbers so that the
 * codes map 1:1 onto gRPC and are stable on the wire (RESPONSE carries the number).
 */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A status name such as `'UNAVAILABLE'`. */
export type ErrorCode = Exclude<keyof typeof StatusCode, 'OK'>;

const NAMES: readonly ErrorCode[] = (Object.keys(StatusCode) as (keyof typeof StatusCode)[]).filter(
  (k): k is ErrorCode => k !== 'OK',
);

/** The code for a wire number; numbers outside the set become UNKNOWN. */
export function codeFromNumber(n: number): ErrorCode {
  const name = NAMES.find((k) => StatusCode[k] === n);
  return name ?? 'UNKNOWN';
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (NAMES as readonly string[]).includes(value);
}
