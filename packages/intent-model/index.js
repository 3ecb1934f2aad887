import { fileURLToPath } from 'node:url';

/** Absolute path of the default intent model (ONNX). */
export const modelPath = fileURLToPath(new URL('./model.onnx', import.meta.url));
