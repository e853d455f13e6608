/** What a call is, as far as policies care. Every field is optional; policies that need one say so. */
export interface CallInfo {
  readonly service?: string;
  readonly action?: string;
  /** The node making the call (server side: the caller; caller side: this node). */
  readonly callerNodeId?: string;
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly params?: unknown;
  /** True when repeating the call is harmless: enables retry on DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED and hedging. */
  readonly idempotent?: boolean;
  /** Server side: the key under which the idempotency store keeps the result. */
  readonly idempotencyKey?: string;
  /** 0 = critical … 3 = sheddable; the load shedder drops the highest numbers first. Default 1. */
  readonly priority?: number;
}

/**
 * What a policy hands to the function it runs. Each policy passes the context it received on,
 * replacing only the fields it owns (`signal` always; `attempt` for retry; `hedge` for hedging;
 * `deadline` for timeout), so `wrap(a, b, c)` needs no merging logic of its own.
 */
export interface PolicyContext {
  /** Aborted when the attempt must stop (caller cancelled, timeout fired, a hedge won). */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, 2 for the first retry, … (set by the retry policy). */
  readonly attempt: number;
  /** 0 for the primary attempt, 1.. for hedged copies running beside it (set by the hedging policy). */
  readonly hedge: number;
  /** Absolute deadline on the policies' clock, if any. No policy waits or retries past it. */
  readonly deadline: number | undefined;
  readonly call: CallInfo;
}

/** The incoming context of `execute`: an AbortSignal alone, or any subset of the fields. */
export type ExecuteContext = AbortSignal | Partial<PolicyContext>;

/**
 * A resilience policy: runs `fn` under some rule (retry it, time it out, limit it…).
 * Rejections are ParleyErrors when the policy itself refuses or gives up; otherwise `fn`'s own error.
 */
export interface Policy {
  execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T>;
}

const NEVER = new AbortController().signal;

/** Fills in the defaults of an incoming context. */
export function toPolicyContext(context: ExecuteContext | undefined): PolicyContext {
  if (context instanceof AbortSignal) return { signal: context, attempt: 1, hedge: 0, deadline: undefined, call: {} };
  return {
    signal: context?.signal ?? NEVER,
    attempt: context?.attempt ?? 1,
    hedge: context?.hedge ?? 0,
    deadline: context?.deadline,
    call: context?.call ?? {},
  };
}

/** The policy that just runs the function. */
export const noopPolicy: Policy = {
  execute: (fn, context) => fn(toPolicyContext(context)),
};

/**
 * Composes policies, outermost first: `wrap(retry, breaker, timeout).execute(fn)` runs
 * retry(breaker(timeout(fn))). Every attempt of the retry goes through the breaker and a fresh
 * timeout. The composite holds no state and fires nothing of its own.
 */
export function wrap(...policies: Policy[]): Policy {
  if (policies.length === 0) return noopPolicy;
  return {
    execute<T>(fn: (ctx: PolicyContext) => Promise<T>, context?: ExecuteContext): Promise<T> {
      const run = (index: number, ctx: PolicyContext): Promise<T> =>
        index === policies.length ? fn(ctx) : policies[index]!.execute((inner) => run(index + 1, inner), ctx);
      return run(0, toPolicyContext(context));
    },
  };
}

/** Calls `fn(ctx)` and always returns a promise: a synchronous throw becomes a rejection. */
export function invoke<T>(fn: (ctx: PolicyContext) => Promise<T>, ctx: PolicyContext): Promise<T> {
  try {
    return Promise.resolve(fn(ctx));
  } catch (err) {
    return Promise.reject(err);
  }
}
