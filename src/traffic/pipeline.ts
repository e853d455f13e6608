import type { Policy } from './policy.js';

/**
 * The order of the traffic pipeline, outermost first, and why each stage sits where it does: the one
 * place the order is written. `Traffic` builds every caller chain and every server chain by walking
 * these lists (`buildPipeline`), so moving a stage here moves it everywhere, and the tests that
 * drive real nodes (pipeline.test.ts, server-policies.test.ts) fail when two stages are swapped.
 *
 * The caller chain ends in the attempt: the node's balancer pick (per-node breakers, ejected
 * outliers, then the strategy, excluding nodes already tried) and the per-node breaker recording it.
 */
export const CALLER_PIPELINE = [
  { stage: 'fallback', why: 'outermost: replaces the final error, after retries and hedges are exhausted' },
  {
    stage: 'retry',
    why: 'each attempt goes through everything below: a fresh breaker check, timeout and balancer pick',
  },
  {
    stage: 'hedging',
    why: 'below retry so a hedged group counts as one attempt; each copy is picked and timed on its own',
  },
  { stage: 'circuit-breaker', why: 'outside the timeout so the breaker sees timeouts (DEADLINE_EXCEEDED) as failures' },
  { stage: 'timeout', why: 'per attempt; the whole call is bounded by the caller deadline the retry policy honours' },
  { stage: 'bulkhead', why: 'limits concurrent attempts; a queued attempt still counts against its timeout' },
  { stage: 'rate-limit', why: 'innermost policy: only attempts that will really be sent spend tokens' },
] as const;

/** The server chain of one local action, outermost first; the handler runs inside the last stage. */
export const SERVER_PIPELINE = [
  { stage: 'rate-limit', why: 'cheapest rejection first: over-quota callers cost almost nothing' },
  { stage: 'load-shedding', why: 'adaptive concurrency limit by priority; sheds before queues and latency grow' },
  { stage: 'bulkhead', why: 'bounds what actually runs' },
  {
    stage: 'idempotency',
    why: 'answers repeats from the store or joins the running call; inside the limits so repeats cannot bypass quotas',
  },
] as const;

export type CallerStage = (typeof CALLER_PIPELINE)[number]['stage'];
export type ServerStage = (typeof SERVER_PIPELINE)[number]['stage'];

/** How to build each stage of a pipeline: its policy, or undefined when the stage is off. */
export type StageBuilders<S extends string> = { readonly [K in S]: () => Policy | undefined };

/**
 * The policies of the stages that are on, in the order of `pipeline` (outermost first), ready for
 * `wrap(...)`. Invariant: the result lists stages in `pipeline` order; no stage appears twice.
 */
export function buildPipeline<S extends string>(
  pipeline: readonly { readonly stage: S }[],
  builders: StageBuilders<S>,
): Policy[] {
  const out: Policy[] = [];
  for (const { stage } of pipeline) {
    const policy = builders[stage]();
    if (policy) out.push(policy);
  }
  return out;
}
