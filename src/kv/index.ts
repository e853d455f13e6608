export * from './bytes.js';
export { decodeCommand, encodeCommand } from './command-codec.js';
export * from './commands.js';
export * from './kv-state-machine.js';
export { DEFAULT_LIMITS, type KvLimits } from './limits.js';
export { MvccStore } from './mvcc-store.js';
export { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js';
export * from './types.js';
export * from './watch-hub.js';
