export * from './codec.js';
export * from './frame.js';
export * from './frame-batch.js';
export * from './frame-decoder.js';
export * from './packets.js';
export * from './parley-error.js';
export * from './status.js';
