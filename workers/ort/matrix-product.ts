/**
 * The LoRA merge's matrix product (`up · down`, src/registry/lora/merge.ts `MatrixProduct`) run by
 * onnxruntime's MatMul on the WASM backend (also under WebGPU: the operands live in the worker's
 * memory and the delta is added there, so a GPU round trip would only add copies). Measured on a
 * full-size SD 1.5 UNet with a rank-32 LoRA (`npm run bench -- lora`): many times the JS loop.
 */
import { encodeModel, floatValueInfo, IR_VERSION, OPSET, PRODUCER_NAME } from '../../src/registry/convert/onnx-build';
import type { MatrixProduct } from '../../src/registry/lora/merge';
import type { Ort, OrtSession } from './types';

/** `a [rows, inner] · b [inner, cols]`, every size dynamic. */
export function matMulModel(): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: PRODUCER_NAME,
    graph: {
      name: 'lora_delta',
      node: [{ name: 'MatMul', opType: 'MatMul', input: ['a', 'b'], output: ['product'] }],
      input: [floatValueInfo('a', ['rows', 'inner']), floatValueInfo('b', ['inner', 'cols'])],
      output: [floatValueInfo('product', ['rows', 'cols'])],
    },
  });
}

/** A product backed by one small session, created on first use; `release` frees it. */
export function ortMatrixProduct(ort: Ort): { multiply: MatrixProduct; release(): Promise<void> } {
  let session: Promise<OrtSession> | undefined;
  return {
    multiply: async (a, rows, inner, b, cols) => {
      const s = await (session ??= ort.InferenceSession.create(matMulModel(), { executionProviders: ['wasm'] }));
      const out = await s.run({ a: new ort.Tensor('float32', a, [rows, inner]), b: new ort.Tensor('float32', b, [inner, cols]) });
      const product = out.product;
      const data = product.data as Float32Array;
      product.dispose?.();
      return data;
    },
    release: async () => {
      const s = await session?.catch(() => undefined);
      session = undefined;
      await s?.release();
    },
  };
}
