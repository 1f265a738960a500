/** The plain tensor every port speaks: float32 data in row-major (C) order. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

export function tensorSize(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function createTensor(dims: readonly number[], data?: Float32Array): Tensor {
  const size = tensorSize(dims);
  if (data && data.length !== size) {
    throw new Error(`tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${size}`);
  }
  return { data: data ?? new Float32Array(size), dims: [...dims] };
}
