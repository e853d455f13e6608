/**
 * Type-level test (compiled, never run): the services the server defines return what the
 * client's contract (contract.ts) says they return, action by action, for every action on both
 * sides. If a handler's result or the contract changes alone, the build fails.
 */
import type { ContractOf } from '../node/service.js';
import type { KvContract } from './contract.js';
import type { createClusterService } from './server/cluster-service.js';
import type { createKvService } from './server/kv-service.js';

type Served = ContractOf<ReturnType<typeof createKvService> | ReturnType<typeof createClusterService>>;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

/** Every action the client calls is served, and every served action is in the contract. */
export type SameActions = Assert<Same<keyof Served, keyof KvContract>>;

/** Each served result is assignable to the contract's result. */
export type ResultsMatch = Assert<
  { [A in keyof KvContract]: Served[A]['result'] extends KvContract[A]['result'] ? true : false }[keyof KvContract]
>;
