/**
 * @kefu/core: every export is named here. Importing this module loads no heavy optional
 * dependency (onnxruntime-node is imported lazily, inside the intent workers).
 * Each component owns one section; add your exports in your section only.
 */

// --- errors and protocol essentials (re-exported so hosts need one import) -------------------
export { KefuError, isKefuError, errorCodes, CloseCode, PROTOCOL } from '@kefu/protocol';
export type { KefuErrorCode } from '@kefu/protocol';

// --- storage primitives ------------------------------------------------------------------------
export { GroupCommitWriter } from './storage/index.js';
export type { BatchOp, BatchTarget, GroupCommitOptions } from './storage/index.js';

// --- hub ---------------------------------------------------------------------------------------

// --- queue -------------------------------------------------------------------------------------

// --- profile -----------------------------------------------------------------------------------

// --- intent ------------------------------------------------------------------------------------

// --- desk --------------------------------------------------------------------------------------

// --- saga --------------------------------------------------------------------------------------
