/**
 * Command-line options shared by the rpc and events benchmarks:
 *   --duration S        measured seconds per cell (default 3)
 *   --warmup S          warm-up seconds per cell before measuring (default 1)
 *   --systems a,b,...   systems to compare (default: all; Parley is the reference for ratios)
 *   --concurrency 1,100 outstanding calls kept in flight (rpc only)
 *   --payload 16,1024   payload sizes in bytes
 *   --rounds N          repeat every cell N times, systems interleaved (default 1); the best round is reported
 *   --json              also print the results as one JSON document
 *   --cpu-prof DIR      write V8 CPU profiles of the Parley processes into DIR and summarise them
 *   --short             a CI-sized run: the benchmark's short defaults (e.g. rpc: 1 s per cell, 0.5 s warm-up,
 *                       c=1 and c=100, 16 B, the floors and the main peers); later flags still override them
 *   --no-pin            do not pin processes. By default (2+ CPUs and taskset present) every server runs on CPU 1
 *                       and every client on CPU 0, so a request always crosses cores; unpinned, the scheduler
 *                       sometimes co-locates the pair and c=1 latency becomes bimodal (~100 µs vs ~200 µs here).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ON_REQUEST_SYSTEMS, SYSTEM_NAMES } from '../peers/registry.js';

export interface BenchOptions {
  durationMs: number;
  warmupMs: number;
  systems: string[];
  concurrency: number[];
  payloads: number[];
  rounds: number;
  json: boolean;
  cpuProfileDir: string | undefined;
  pin: boolean;
}

function numberList(value: string, flag: string): number[] {
  const list = value.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new Error(`${flag} expects a comma-separated list of positive numbers, got '${value}'`);
  }
  return list;
}

export interface BenchDefaults {
  concurrency: number[];
  payloads: number[];
  /** Default: every system. */
  systems?: readonly string[];
  /** What `--short` sets before the flags that follow it are read. */
  short?: Partial<Pick<BenchOptions, 'durationMs' | 'warmupMs' | 'systems' | 'concurrency' | 'payloads'>>;
}

export function parseBenchOptions(args: string[], defaults: BenchDefaults): BenchOptions {
  const options: BenchOptions = {
    durationMs: 3000,
    warmupMs: 1000,
    systems: (defaults.systems ?? SYSTEM_NAMES).filter((name) => !ON_REQUEST_SYSTEMS.includes(name)),
    concurrency: defaults.concurrency,
    payloads: defaults.payloads,
    rounds: 1,
    json: false,
    cpuProfileDir: undefined,
    pin: availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--duration':
        options.durationMs = numberList(value(), flag)[0]! * 1000;
        break;
      case '--warmup':
        options.warmupMs = Number(value()) * 1000;
        break;
      case '--systems': {
        const systems = value()
          .split(',')
          .map((s) => s.trim());
        const unknown = systems.filter((s) => !SYSTEM_NAMES.includes(s));
        if (unknown.length > 0) throw new Error(`unknown system(s) ${unknown.join(', ')}; known: ${SYSTEM_NAMES}`);
        options.systems = systems;
        break;
      }
      case '--concurrency':
        options.concurrency = numberList(value(), flag);
        break;
      case '--payload':
        options.payloads = numberList(value(), flag);
        break;
      case '--rounds':
        options.rounds = numberList(value(), flag)[0]!;
        break;
      case '--json':
        options.json = true;
        break;
      case '--short':
        Object.assign(options, { durationMs: 1000, warmupMs: 500 }, defaults.short ?? {});
        break;
      case '--no-pin':
        options.pin = false;
        break;
      case '--cpu-prof':
        options.cpuProfileDir = value();
        break;
      default:
        throw new Error(`unknown option '${flag}'`);
    }
  }
  return options;
}
