// @vitest-environment node
/**
 * LoRA merging on a hand-built graph in the shape of optimum's exports, not the studio's builder:
 * MatMul taking the `[in, out]` initializer directly, Gemm with transB, a float16 weight through a
 * Cast, a Conv, weights inline in model.onnx (raw_data) and one in an external-data file through
 * a Transpose. The merged graph must compute what the same graph built with W + ΔW (computed
 * here, in the initializers' own layouts) computes; without module-path node names, merging is
 * refused.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/pipeline/float16';
import { encodeModel, intAttr, intsAttr } from '../../../src/registry/convert/onnx-build';
import { findWeightTargets, LoraApplyError, loraFolder, type FolderReader } from '../../../src/registry/lora';
import { kohyaFile, loraModulesOf, randomLayer, type LayerSpec } from '../../fixtures/lora/lora-files';
import { seededRandom } from '../../fixtures/tiny-diffusion/factory';
import { nodeOrt } from '../../helpers/node-ort';

const { TensorProto } = onnxProto.onnx;
const { FLOAT, FLOAT16 } = TensorProto.DataType;

/** The graph's weights in their stored layouts (float32 values; `proj` is stored as float16). */
interface Weights {
  toQ: Float32Array; // [in 4, out 6], MatMul direct
  toOut: Float32Array; // [out 5, in 6], Gemm transB=1
  proj: Float32Array; // [in 5, out 5] float16, Cast then MatMul
  conv: Float32Array; // [out 3, in 2, 3, 3]
  temb: Float32Array; // [out 7, in 5], external, Transpose then MatMul
}

function randomWeights(): Weights {
  const random = seededRandom(5);
  const fill = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  // proj is exactly representable in float16, so only the merge's rounding is compared.
  const proj = fill(25).map((v) => float16BitsToFloat32(float32ToFloat16Bits(v)));
  return { toQ: fill(24), toOut: fill(30), proj, conv: fill(54), temb: fill(35) };
}

const f32Bytes = (v: Float32Array) => new Uint8Array(Float32Array.from(v).buffer);
const f16Bytes = (v: Float32Array) => new Uint8Array(Uint16Array.from(v, (x) => float32ToFloat16Bits(x)).buffer);
const valueInfo = (name: string, dims: number[]): onnx.IValueInfoProto => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

/** The folder: unet/model.onnx with inline weights, unet/model.onnx_data with `temb` at byte 64. */
function optimumFolder(w: Weights, named = true): Map<string, Uint8Array> {
  const n = (path: string, op: string) => (named ? `/${path.replace(/\./g, '/').replace(/\/(\d+)/g, '.$1')}/${op}` : `${op}_${path.length}`);
  const external = new Uint8Array(64 + 35 * 4);
  external.set(f32Bytes(w.temb), 64);
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'pytorch',
    graph: {
      name: 'optimum-style',
      input: [valueInfo('x', [3, 4]), valueInfo('image', [1, 2, 4, 4])],
      output: [valueInfo('y', [3, 5]), valueInfo('t', [3, 7]), valueInfo('c', [1, 3, 4, 4])],
      initializer: [
        { name: 'onnx::MatMul_101', dims: [4, 6], dataType: FLOAT, rawData: f32Bytes(w.toQ) },
        { name: 'to_out.weight', dims: [5, 6], dataType: FLOAT, rawData: f32Bytes(w.toOut) },
        { name: 'to_out.bias', dims: [5], dataType: FLOAT, rawData: f32Bytes(new Float32Array(5).fill(0.1)) },
        { name: 'onnx::MatMul_102', dims: [5, 5], dataType: FLOAT16, rawData: f16Bytes(w.proj) },
        { name: 'conv_in.weight', dims: [3, 2, 3, 3], dataType: FLOAT, rawData: f32Bytes(w.conv) },
        {
          name: 'time_emb_proj.weight',
          dims: [7, 5],
          dataType: FLOAT,
          dataLocation: TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: 'model.onnx_data' },
            { key: 'offset', value: '64' },
            { key: 'length', value: String(35 * 4) },
          ],
        },
      ],
      node: [
        { name: n('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'MatMul'), opType: 'MatMul', input: ['x', 'onnx::MatMul_101'], output: ['q'] },
        {
          name: n('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', 'Gemm'),
          opType: 'Gemm',
          input: ['q', 'to_out.weight', 'to_out.bias'],
          output: ['o'],
          attribute: [intAttr('transB', 1)],
        },
        { name: n('mid_block.attentions.0.proj_out', 'Cast'), opType: 'Cast', input: ['onnx::MatMul_102'], output: ['proj32'], attribute: [intAttr('to', FLOAT)] },
        { name: n('mid_block.attentions.0.proj_out', 'MatMul'), opType: 'MatMul', input: ['o', 'proj32'], output: ['y'] },
        { name: n('up_blocks.0.resnets.0.time_emb_proj', 'Transpose'), opType: 'Transpose', input: ['time_emb_proj.weight'], output: ['tembT'], attribute: [intsAttr('perm', [1, 0])] },
        { name: n('up_blocks.0.resnets.0.time_emb_proj', 'MatMul'), opType: 'MatMul', input: ['y', 'tembT'], output: ['t'] },
        {
          name: n('conv_in', 'Conv'),
          opType: 'Conv',
          input: ['image', 'conv_in.weight'],
          output: ['c'],
          attribute: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])],
        },
      ],
    },
  };
  return new Map([
    ['unet/model.onnx', encodeModel(model)],
    ['unet/model.onnx_data', external],
  ]);
}

const LAYERS: Record<string, LayerSpec> = {
  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q: randomLayer(1, 2, 6, 4, { alpha: 1 }),
  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0: randomLayer(2, 2, 5, 6),
  lora_unet_mid_block_attentions_0_proj_out: randomLayer(3, 2, 5, 5, { alpha: 3, scale: 0.3 }),
  lora_unet_conv_in: randomLayer(4, 2, 3, 2, { kernel: 3 }),
  lora_unet_up_blocks_0_resnets_0_time_emb_proj: randomLayer(5, 1, 7, 5),
};

/** ΔW [out, cols] for a layer, float64, scaled. */
function delta(l: LayerSpec, weight: number): { d: number[]; out: number; cols: number } {
  const rank = l.down.shape[0];
  const cols = l.down.values.length / rank;
  const out = l.up.shape[0];
  const s = (weight * (l.alpha ?? rank)) / rank;
  const d = new Array<number>(out * cols).fill(0);
  for (let o = 0; o < out; o++) for (let c = 0; c < cols; c++) for (let r = 0; r < rank; r++) d[o * cols + c] += s * l.up.values[o * rank + r] * l.down.values[r * cols + c];
  return { d, out, cols };
}

/** The weights with ΔW added in each one's stored layout (transposed where stored [in, out]). */
function mergedByHand(w: Weights, weight: number): Weights {
  const add = (base: Float32Array, key: string, transposed: boolean) => {
    const { d, out, cols } = delta(LAYERS[key], weight);
    const result = Float32Array.from(base);
    for (let o = 0; o < out; o++) for (let c = 0; c < cols; c++) result[transposed ? c * out + o : o * cols + c] += d[o * cols + c];
    return result;
  };
  return {
    toQ: add(w.toQ, 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', true),
    toOut: add(w.toOut, 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0', false),
    proj: add(w.proj, 'lora_unet_mid_block_attentions_0_proj_out', true),
    conv: add(w.conv, 'lora_unet_conv_in', false),
    temb: add(w.temb, 'lora_unet_up_blocks_0_resnets_0_time_emb_proj', false),
  };
}

async function run(read: FolderReader): Promise<Record<'y' | 't' | 'c', Float32Array>> {
  nodeOrt();
  const session = await ort.InferenceSession.create((await read('unet/model.onnx'))!, {
    executionProviders: ['wasm'],
    externalData: [{ path: 'model.onnx_data', data: (await read('unet/model.onnx_data'))! }],
  });
  try {
    const x = new ort.Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)), [3, 4]);
    const image = new ort.Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.7)), [1, 2, 4, 4]);
    const r = await session.run({ x, image });
    return { y: r.y.data as Float32Array, t: r.t.data as Float32Array, c: r.c.data as Float32Array };
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('loraFolder on an optimum-style graph', () => {
  it('finds each weight, its layout and where its bytes are (inline offset or external file)', () => {
    const files = optimumFolder(randomWeights());
    const { targets } = findWeightTargets(files.get('unet/model.onnx')!);
    const summary = [...targets.values()].map((t) => [t.path, t.op, t.type, t.layout, t.file, t.dims.join('x')]);
    expect(summary).toEqual([
      ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'MatMul', 'float32', 'in_out', 'model.onnx', '4x6'],
      ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', 'Gemm', 'float32', 'out_in', 'model.onnx', '5x6'],
      ['mid_block.attentions.0.proj_out', 'MatMul', 'float16', 'in_out', 'model.onnx', '5x5'],
      ['up_blocks.0.resnets.0.time_emb_proj', 'MatMul', 'float32', 'out_in', 'model.onnx_data', '7x5'],
      ['conv_in', 'Conv', 'float32', 'out_in', 'model.onnx', '3x2x3x3'],
    ]);
    // The inline offset is where the raw bytes really are.
    const model = files.get('unet/model.onnx')!;
    const q = targets.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q')!;
    expect(Array.from(new Float32Array(model.slice(q.offset, q.offset + q.length).buffer))).toEqual(Array.from(randomWeights().toQ));
    expect(targets.get('up_blocks.0.resnets.0.time_emb_proj')!.offset).toBe(64);
  });

  it('the merged graph computes what the graph with hand-merged weights computes (fp32 1e-5, fp16 weight 2e-3)', async () => {
    const w = randomWeights();
    const files = optimumFolder(w);
    const read: FolderReader = async (p) => files.get(p);
    const modules = await loraModulesOf(kohyaFile(LAYERS));
    const merged = await loraFolder(read, [{ name: 'lora', modules, weight: 0.9 }]);
    expect(merged.report).toEqual([{ name: 'lora', matched: 5, total: 5, unmatched: [] }]);
    expect(merged.patchedFiles.sort()).toEqual(['unet/model.onnx', 'unet/model.onnx_data']);
    // The inline weights are patched in a copy of the same length; the original is untouched.
    const before = files.get('unet/model.onnx')!.slice();
    expect((await merged.read('unet/model.onnx'))!.byteLength).toBe(before.byteLength);
    expect(Buffer.from(files.get('unet/model.onnx')!).equals(Buffer.from(before))).toBe(true);

    const expectedFiles = optimumFolder(mergedByHand(w, 0.9));
    const got = await run(merged.read);
    const want = await run(async (p) => expectedFiles.get(p));
    const base = await run(read);
    expect(maxDiff(got.c, want.c)).toBeLessThan(1e-5);
    // y goes through the float16 proj_out weight, t after it.
    expect(maxDiff(got.y, want.y)).toBeLessThan(2e-3);
    expect(maxDiff(got.t, want.t)).toBeLessThan(2e-3);
    expect(maxDiff(base.y, want.y)).toBeGreaterThan(0.05);
    expect(maxDiff(base.c, want.c)).toBeGreaterThan(0.05);
  });

  it("without module-path node names: this export's layer names are missing", async () => {
    const files = optimumFolder(randomWeights(), false);
    const modules = await loraModulesOf(kohyaFile(LAYERS));
    await expect(loraFolder(async (p) => files.get(p), [{ name: 'lora', modules, weight: 1 }])).rejects.toThrow(LoraApplyError);
    await expect(loraFolder(async (p) => files.get(p), [{ name: 'lora', modules, weight: 1 }])).rejects.toThrow(/this export's layer names are missing; LoRA cannot be applied/);
  });
});
