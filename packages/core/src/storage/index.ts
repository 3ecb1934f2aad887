export { GroupCommitWriter } from './group-commit.js';
export type { BatchOp, BatchTarget, GroupCommitOptions } from './group-commit.js';
