/**
 * `parley/testing`: what an application needs to test its own services without sockets, sleeps
 * or flaky timing. Not part of the runtime API (`parley`); nothing in Parley's runtime imports it.
 *
 * - `MemoryNetwork` / `MemoryTransport`: an in-process network; pass
 *   `transport: new MemoryTransport(network)` to `createNode` (or `memory: network` to `startCluster`).
 * - `startCluster` / `stopCluster`: nodes joined into one mesh, resolved once every node sees every other.
 * - `FakeClock`: a `Timer` whose time moves only when the test advances it; `settle()` lets pending
 *   promise callbacks run.
 * - `seededRandom`: a reproducible `Random` (the same seed gives the same run).
 * - `waitUntil`: polls a condition for tests that watch real asynchronous work.
 * - `FaultyTransport` / `FaultInjector`: wrap any transport to drop or delay the frames received
 *   from chosen peers (partitions, lossy or slow links).
 */

export type { CancelTimer, Clock, Scheduler, Timer } from './base/clock.js';
export { type Random, seededRandom } from './base/random.js';
export { FakeClock, settle } from './base/testing/fake-clock.js';
export { waitUntil } from './base/testing/wait-until.js';
export { startCluster, stopAll as stopCluster } from './node/testing/test-cluster.js';
export { MemoryConnection, MemoryNetwork, MemoryTransport } from './transport/memory-transport.js';
export { FaultInjector, type FaultRule } from './transport/testing/fault-injector.js';
export { FaultyTransport } from './transport/testing/faulty-transport.js';
