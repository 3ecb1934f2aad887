/** Absolute path of the default intent model (ONNX). */
export declare const modelPath: string;
