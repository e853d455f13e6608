import type { Clock } from '../base/clock.js';
import { type Balancer, RoundRobinBalancer } from '../node/balancer.js';
import { ConsistentHashBalancer, type ConsistentHashOptions } from './consistent-hash.js';
import { LeastOutstandingBalancer } from './least-outstanding.js';
import { LocalityBalancer, type LocalityOptions } from './locality.js';
import { PeakEwmaBalancer, type PeakEwmaOptions } from './peak-ewma.js';
import { RandomBalancer } from './random-balancer.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';

export const BALANCER_NAMES = ['round-robin', 'random', 'weighted', 'least-outstanding', 'ewma', 'hash'] as const;
export type BalancerName = (typeof BALANCER_NAMES)[number];

export interface BalancerOptions {
  random?: () => number;
  clock?: Clock;
  /** Options of the `ewma` strategy. */
  ewma?: Omit<PeakEwmaOptions, 'random' | 'clock'>;
  /** Options of the `hash` strategy. */
  hash?: Omit<ConsistentHashOptions, 'random'>;
  /** When set, the strategy is wrapped in a locality preference (same node, same zone, all). */
  locality?: LocalityOptions;
}

/** Builds a strategy by name. Unknown names throw a TypeError (a configuration bug, not a call failure). */
export function createBalancer(name: BalancerName, options: BalancerOptions = {}): Balancer {
  const { random, clock } = options;
  let balancer: Balancer;
  switch (name) {
    case 'round-robin':
      balancer = new RoundRobinBalancer();
      break;
    case 'random':
      balancer = new RandomBalancer({ random });
      break;
    case 'weighted':
      balancer = new WeightedRoundRobinBalancer();
      break;
    case 'least-outstanding':
      balancer = new LeastOutstandingBalancer({ random });
      break;
    case 'ewma':
      balancer = new PeakEwmaBalancer({ ...options.ewma, random, clock });
      break;
    case 'hash':
      balancer = new ConsistentHashBalancer({ ...options.hash, random });
      break;
    default:
      throw new TypeError(`unknown balancer '${String(name)}'; expected one of ${BALANCER_NAMES.join(', ')}`);
  }
  return options.locality ? new LocalityBalancer(balancer, options.locality) : balancer;
}
