/** The intent classifier, its trainer and the ONNX/tokenizer pieces (no onnxruntime-node here). */
export { IntentClassifier } from './classifier.js';
export type { IntentClassifierOptions, IntentClassifierEvents, IntentResult, RankedIntent } from './classifier.js';
export { trainIntentModel } from './trainer.js';
export type { TrainOptions, TrainReport, TrainResult } from './trainer.js';
export { readExamples, parseCsv } from './dataset.js';
export { readWordVectors } from './word-vectors.js';
export type { WordVectors } from './word-vectors.js';
export type { Example, Split } from './dataset.js';
export { featurize, normalizeText, defaultFeaturizerSettings } from './featurizer.js';
export type { FeaturizerSettings, Features } from './featurizer.js';
export { WordPieceTokenizer } from './wordpiece.js';
export type { WordPieceOptions } from './wordpiece.js';
export { encodeModel, decodeModelInfo, readFloatInitializer, DataType, AttributeType } from './onnx-proto.js';
export { weights as tfidfWeights } from './hashed-model.js';
export type { ModelInit, NodeInit, TensorInit, AttributeInit, ValueInfoInit, DecodedModel } from './onnx-proto.js';
