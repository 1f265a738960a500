/** The slice of onnxruntime-web's module this folder uses (same shape in Node and browsers). */
export type Ort = typeof import('onnxruntime-web');
export type OrtSession = import('onnxruntime-web').InferenceSession;
