/**
 * Closed-loop concurrency driver: keeps exactly `concurrency` calls outstanding; each worker issues its next call
 * as soon as the previous one settles. Only calls that complete inside the measure window (after warm-up) count
 * towards throughput and latency, so warm-up effects and the drain at the end are excluded.
 */
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './latency-histogram.js';

export interface ClosedLoopOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Upper bound on waiting for the outstanding calls after the window closes. */
  drainTimeoutMs?: number;
}

export interface RpcSample {
  calls: number;
  errors: number;
  /** Calls completed during the whole cell, warm-up included (for CPU cost per call). */
  completedInCell: number;
  seconds: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
  firstError?: string;
}

export async function runClosedLoop(call: () => Promise<unknown>, options: ClosedLoopOptions): Promise<RpcSample> {
  const histogram = new LatencyHistogram();
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const measureUntil = measureFrom + options.durationMs;
  let errors = 0;
  let completedInCell = 0;
  let firstError: string | undefined;
  let stopped = false;

  async function worker(): Promise<void> {
    while (!stopped) {
      const t0 = performance.now();
      let failed = false;
      try {
        await call();
      } catch (err) {
        failed = true;
        firstError ??= (err as Error)?.message ?? String(err);
      }
      const t1 = performance.now();
      completedInCell++;
      if (t1 >= measureUntil) {
        stopped = true;
        return;
      }
      if (t1 >= measureFrom) {
        if (failed) errors++;
        else histogram.recordMicros((t1 - t0) * 1000);
      }
    }
  }

  const workers: Promise<void>[] = [];
  for (let i = 0; i < options.concurrency; i++) workers.push(worker());
  // Workers stop themselves on their first completion after the window; a hung call must not hang the bench.
  const drainBound = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.warmupMs + options.durationMs + (options.drainTimeoutMs ?? 10_000));
    timer.unref();
  });
  await Promise.race([Promise.all(workers), drainBound]);
  stopped = true;

  const seconds = options.durationMs / 1000;
  const sample: RpcSample = {
    calls: histogram.count,
    errors,
    completedInCell,
    seconds,
    callsPerSec: histogram.count / seconds,
    p50Us: histogram.percentileMicros(0.5),
    p99Us: histogram.percentileMicros(0.99),
    meanUs: histogram.meanMicros,
    maxUs: histogram.maxMicros,
  };
  if (firstError !== undefined) sample.firstError = firstError;
  return sample;
}
