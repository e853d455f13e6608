export { type CheckOptions, type CheckResult, check, isLinearizable, type PartitionReport } from './checker.js';
export { describeHistory, describeOperation } from './describe.js';
export { type History, HistoryRecorder, normalize, type Operation, UNKNOWN, type Unknown } from './history.js';
export * from './kv-model.js';
export { type Minimized, minimize } from './minimize.js';
export type { Model, Step } from './model.js';
export { explainFailure, type FailureReport } from './report.js';
