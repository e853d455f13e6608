import { type ErrorCode, isErrorCode } from './status.js';

/**
 * The one error class of Parley. `code` is a gRPC status name; `message` tells the user what
 * happened and what to do; `details` is optional structured data (must be encodable).
 * `retryAfterMs`, when set, is the server's pushback: do not retry sooner.
 */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: unknown; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Wraps anything thrown into a ParleyError: a ParleyError passes through; anything else is INTERNAL. */
  static from(err: unknown): ParleyError {
    if (err instanceof ParleyError) return err;
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      if (isErrorCode(code)) return new ParleyError(code, err.message, { cause: err });
      return new ParleyError('INTERNAL', err.message, { cause: err });
    }
    return new ParleyError('INTERNAL', String(err));
  }

  /** True when `err` is a ParleyError with one of `codes`. */
  static is(err: unknown, ...codes: ErrorCode[]): err is ParleyError {
    return err instanceof ParleyError && (codes.length === 0 || codes.includes(err.code));
  }
}
