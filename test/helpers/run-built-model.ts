/** Runs a model built by the checkpoint graph builder with onnxruntime-web (WASM) in Node; float16 outputs come back as float32. */
import type { onnx } from 'onnx-proto';
import { fromFloat16Array, toFloat16Array } from '../../src/pipeline/float16';
import { encodeModel } from '../../src/registry/convert/onnx-build';
import { CHECKPOINT_LOCATION } from './fake-checkpoint';
import { nodeOrt } from './node-ort';

export type Feed = { type: 'float32' | 'float16'; data: Float32Array | Float64Array | number[]; dims: number[] } | { type: 'int32' | 'int64'; data: number[]; dims: number[] };

export async function runBuilt(model: onnx.IModelProto, file: Uint8Array, feeds: Record<string, Feed>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const ort = nodeOrt();
  const session = await ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['wasm'],
    externalData: [{ path: CHECKPOINT_LOCATION, data: file }],
  });
  try {
    const inputs: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      if (f.type === 'float32') inputs[name] = new ort.Tensor('float32', Float32Array.from(f.data), f.dims);
      else if (f.type === 'float16') inputs[name] = new ort.Tensor('float16', toFloat16Array(Float32Array.from(f.data)), f.dims);
      else if (f.type === 'int32') inputs[name] = new ort.Tensor('int32', Int32Array.from(f.data), f.dims);
      else inputs[name] = new ort.Tensor('int64', BigInt64Array.from(f.data, (v) => BigInt(v)), f.dims);
    }
    const results = await session.run(inputs);
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, t] of Object.entries(results)) {
      const raw = await t.getData();
      const data = t.type === 'float16' ? fromFloat16Array(raw as Uint16Array) : new Float32Array(raw as Float32Array);
      out[name] = { data, dims: [...t.dims] };
    }
    return out;
  } finally {
    await session.release();
  }
}

/** max |a − b| / max(max |b|, floor): one number per comparison. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-3): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}
