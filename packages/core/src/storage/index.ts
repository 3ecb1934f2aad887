export { GroupCommitWriter } from './group-commit.js';
export type { BatchOp, BatchTarget, GroupCommitOptions } from './group-commit.js';
export { chainedBatchTarget } from './chained-batch.js';
export type { ChainedBatchDb } from './chained-batch.js';
