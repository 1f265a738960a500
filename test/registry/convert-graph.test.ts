// @vitest-environment node
/**
 * The TF.js graph → ONNX converter and the detectors it bundles in public/models/.
 *
 * The reference is TF.js itself (@tensorflow/tfjs, WASM backend) running the same model.json on
 * the same input tensor (NHWC there, NCHW for ONNX). Tolerance: 1e-4, absolute for outputs on a
 * unit scale and relative to the output's largest magnitude above it. The detectors' raw logits
 * reach 10⁴ (BlazeFace's classifier on a photo without a face), where one float32 ulp is 10⁻³:
 * no two float32 runtimes agree there to 1e-4 absolute (TF.js's own CPU and WASM backends differ
 * by up to 3·10⁻³ on those models), while a wrong weight, pad or axis moves outputs by a good
 * fraction of their scale.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { float32ToFloat16Bits } from '../../src/pipeline/float16';
import { BundledManifest, isBundledDetector, isBundledUpscaler } from '../../src/registry/bundled';
import { convertDetectors, DETECTOR_LICENSE_FILES, DETECTOR_SOURCE_DIR, DETECTORS, MODELS_DIR } from '../../src/registry/convert/cli';
import { graphToOnnx } from '../../src/registry/convert/graph-to-onnx';
import { parseGraphModel } from '../../src/registry/convert/tfjs-graph';
import { loadTf } from '../helpers/tfjs-detector';

type Tf = Awaited<ReturnType<typeof loadTf>>;
type GraphModel = Awaited<ReturnType<Tf['loadGraphModel']>>;

const IMAGES = fileURLToPath(new URL('../fixtures/images/', import.meta.url));
const TOLERANCE = 1e-4;

let tf: Tf;
beforeAll(async () => {
  // Must be set before the first session; the tests are small and threads only add start-up.
  ort.env.wasm.numThreads = 1;
  tf = await loadTf();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A TF.js graph model from its model.json object and shards, as tf.loadGraphModel reads a URL. */
function loadGraph(json: Record<string, unknown> & { weightsManifest: Array<{ paths: string[]; weights: unknown[] }> }, shards: Record<string, ArrayBuffer>): Promise<GraphModel> {
  const parts = json.weightsManifest.flatMap((g) => g.paths).map((p) => new Uint8Array(shards[p]));
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (weightData.set(p, offset), offset + p.length), 0);
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology as object,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never,
      weightData: weightData.buffer,
      // The output order TF.js reports comes from the signature (model.json or its metadata).
      signature: json.signature as object | undefined,
      userDefinedMetadata: json.userDefinedMetadata as Record<string, object> | undefined,
    }),
  });
}

/** NHWC [1, H, W, C] data → NCHW. */
function toNchw(nhwc: Float32Array, [, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(nhwc.length);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) out[k * h * w + i] = nhwc[i * c + k];
  return out;
}

/** Runs TF.js on NHWC `input` and the ONNX bytes on its NCHW form; returns both, output by output. */
async function runBoth(model: GraphModel, onnx: Uint8Array, input: Float32Array, shape: number[]) {
  const x = tf.tensor4d(input, shape as [number, number, number, number]);
  const result = model.execute(x);
  const tfOutputs = (Array.isArray(result) ? result : [result as ReturnType<Tf['tensor']>]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
  tf.dispose([x, result as never]);
  const session = await ort.InferenceSession.create(onnx);
  try {
    const feed = new ort.Tensor('float32', toNchw(input, shape), [shape[0], shape[3], shape[1], shape[2]]);
    const out = await session.run({ input: feed });
    const onnxOutputs = session.outputNames.map((name) => ({ name, data: out[name].data as Float32Array, shape: [...out[name].dims] }));
    return { tfNames: model.outputs.map((o) => o.name), tfOutputs, onnxOutputs };
  } finally {
    await session.release();
  }
}

function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
/** What a tolerance is relative to: 1 for outputs on a unit scale, else their largest magnitude. */
const scaleOf = (values: Float32Array) => Math.max(1, maxAbs(values));
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** The photo letterboxed (centred, black bars) to a 256² RGB tensor scaled to [-1, 1], NHWC. */
async function letterboxed(file: string): Promise<Float32Array> {
  const png = decode(await readFile(path.join(IMAGES, file)));
  const { width, height, channels } = png;
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * channels + c];
  return tf.tidy(() => {
    const side = Math.max(width, height);
    const [top, left] = [Math.floor((side - height) / 2), Math.floor((side - width) / 2)];
    const square = tf.pad(tf.tensor4d(rgb, [1, height, width, 3]), [[0, 0], [top, side - height - top], [left, side - width - left], [0, 0]]);
    return tf.image.resizeBilinear(square as import('@tensorflow/tfjs').Tensor4D, [256, 256]).div(127.5).sub(1).dataSync() as Float32Array;
  });
}

// ---------------------------------------------------------------------------------------------

describe('bundled detectors', () => {
  const readModel = async (file: string) => new Uint8Array(await readFile(path.join(MODELS_DIR, file)));

  it('are exactly what the converter produces from the fixtures (models.json entries, .onnx bytes, licences)', async () => {
    const manifest = BundledManifest.parse(JSON.parse(await readFile(path.join(MODELS_DIR, 'models.json'), 'utf8')));
    const fresh = await convertDetectors();
    expect(manifest.models.filter(isBundledDetector)).toEqual(fresh.map((r) => r.entry));
    for (const { entry, bytes } of fresh) {
      expect(sha256(bytes)).toBe(entry.sha256);
      expect(sha256(await readModel(entry.file))).toBe(entry.sha256);
      expect((await readModel(entry.file)).byteLength).toBe(entry.bytes);
    }
    // The upscalers come first and stay as they were.
    expect(manifest.models.map((m) => m.type)).toEqual(['upscaler', 'upscaler', 'upscaler', 'upscaler', 'detector', 'detector']);
    expect(manifest.models.filter(isBundledUpscaler).map((m) => m.name)).toEqual(['esrgan-slim-x2', 'esrgan-slim-x3', 'esrgan-slim-x4', 'esrgan-slim-x8']);
    for (const [from, to] of Object.entries(DETECTOR_LICENSE_FILES)) {
      expect(await readFile(path.join(MODELS_DIR, to), 'utf8')).toBe(await readFile(path.join(DETECTOR_SOURCE_DIR, from), 'utf8'));
    }
    expect(await readFile(path.join(MODELS_DIR, 'NOTICE-mediapipe.txt'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });

  it('describe their input and outputs as the ONNX files declare them', async () => {
    const manifest = BundledManifest.parse(JSON.parse(await readFile(path.join(MODELS_DIR, 'models.json'), 'utf8')));
    const detectors = manifest.models.filter(isBundledDetector);
    expect(detectors.map((d) => [d.name, d.file, d.detector_layout, d.classes, d.value_range, d.input_shape])).toEqual([
      ['blazeface-back', 'blazeface-back.onnx', 'blazeface', ['face'], [-1, 1], [1, 3, 256, 256]],
      ['mediapipe-palm', 'handdetect.onnx', 'palm', ['hand'], [-1, 1], [1, 3, 256, 256]],
    ]);
    // TF.js's output order (the models' signatures), names without ':0'.
    expect(detectors.map((d) => d.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`))).toEqual([
      ['Identity_3 [1, 384, 16]', 'Identity [1, 512, 1]', 'Identity_1 [1, 384, 1]', 'Identity_2 [1, 512, 16]'],
      ['Identity [1, 2944, 19]'],
    ]);
    for (const d of detectors) {
      const session = await ort.InferenceSession.create(await readModel(d.file));
      expect(session.inputNames).toEqual([d.input]);
      expect(session.outputNames).toEqual(d.outputs.map((o) => o.name));
      await session.release();
    }
  });

  describe.each(DETECTORS.map((d) => [d.name, d.model] as const))('%s (%s)', (_name, model) => {
    let reference: GraphModel;
    let onnx: Uint8Array;
    beforeAll(async () => {
      const json = JSON.parse(await readFile(path.join(DETECTOR_SOURCE_DIR, `${model}.json`), 'utf8'));
      const bin = await readFile(path.join(DETECTOR_SOURCE_DIR, `${model}.bin`));
      reference = await loadGraph(json, { [`${model}.bin`]: new Uint8Array(bin).buffer });
      onnx = await readModel(`${model}.onnx`);
    });

    it.each(['astronaut.png', 'hands.png'])(`raw outputs on %s equal TF.js's within ${TOLERANCE}`, async (file) => {
      const input = await letterboxed(file);
      const { tfNames, tfOutputs, onnxOutputs } = await runBoth(reference, onnx, input, [1, 256, 256, 3]);
      expect(onnxOutputs.map((o) => o.name)).toEqual(tfNames);
      const report: string[] = [];
      tfOutputs.forEach((want, k) => {
        const got = onnxOutputs[k];
        expect(got.shape).toEqual(want.shape);
        const diff = maxAbsDiff(want.data, got.data);
        const scale = scaleOf(want.data);
        report.push(`${got.name} [${got.shape.join(', ')}] ${diff.toExponential(2)} (max |value| ${scale.toFixed(1)})`);
        expect(diff).toBeLessThanOrEqual(TOLERANCE * scale);
      });
      console.info(`${model} on ${file}: max |ONNX − TF.js| per output: ${report.join('; ')}`);
    });
  });

  it('find what they are for: a face in astronaut.png, a hand in hands.png (sigmoid of the best logit)', async () => {
    const best = async (model: string, file: string, scoreOutputs: string[], stride: number) => {
      const session = await ort.InferenceSession.create(await readModel(`${model}.onnx`));
      const out = await session.run({ input: new ort.Tensor('float32', toNchw(await letterboxed(file), [1, 256, 256, 3]), [1, 3, 256, 256]) });
      await session.release();
      const logits = scoreOutputs.flatMap((name) => Array.from(out[name].data as Float32Array).filter((_, i) => i % stride === 0));
      return 1 / (1 + Math.exp(-Math.max(...logits)));
    };
    // BlazeFace: the classifier outputs (one logit per anchor); palm: column 0 of 19.
    expect(await best('blazeface-back', 'astronaut.png', ['Identity', 'Identity_1'], 1)).toBeGreaterThan(0.8);
    expect(await best('handdetect', 'hands.png', ['Identity'], 19)).toBeGreaterThan(0.9);
    expect(await best('blazeface-back', 'hands.png', ['Identity', 'Identity_1'], 1)).toBeLessThan(0.5);
  });
});

// ---------------------------------------------------------------------------------------------
// A small graph model written in code, covering every op and attribute variant the converter
// accepts (asymmetric SAME pads, every fused activation, depthwise multipliers, transposed
// convolutions with and without output padding, channel and spatial padding and concatenation,
// constants on either side, image and flat outputs, float16 and uint8 quantized weights),
// checked against TF.js running the same JSON.

const b64 = (text: string) => Buffer.from(text).toString('base64');
const attrs = {
  s: (text: string) => ({ s: b64(text) }),
  ints: (...values: number[]) => ({ list: { i: values.map(String) } }),
  strings: (...values: string[]) => ({ list: { s: values.map(b64) } }),
  i: (value: number) => ({ i: String(value) }),
  f: (value: number) => ({ f: value }),
  type: (value: string) => ({ type: value }),
};

interface TinyWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'float16' | 'uint8'; min?: number; scale?: number; original_dtype?: string };
  bytes: Uint8Array;
}

/** Deterministic pseudo-random values in [-1, 1). */
function noise(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

function tinyGraph() {
  const nodes: Array<{ name: string; op: string; input?: string[]; attr?: Record<string, unknown> }> = [];
  const weights: TinyWeight[] = [];
  let seed = 1;
  const constant = (name: string, shape: number[], encoding: 'float32' | 'float16' | 'uint8' = 'float32') => {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = noise(count, seed++);
    let bytes: Uint8Array;
    let quantization: TinyWeight['quantization'];
    if (encoding === 'float16') {
      bytes = new Uint8Array(Uint16Array.from(values, float32ToFloat16Bits).buffer);
      quantization = { dtype: 'float16', original_dtype: 'float32' };
    } else if (encoding === 'uint8') {
      bytes = Uint8Array.from(values, (v) => Math.round((v + 1) * 127.5));
      quantization = { dtype: 'uint8', min: -1, scale: 2 / 255, original_dtype: 'float32' };
    } else {
      bytes = new Uint8Array(values.buffer);
    }
    weights.push({ name, shape, dtype: 'float32', ...(quantization ? { quantization } : {}), bytes });
    nodes.push({ name, op: 'Const', attr: { dtype: attrs.type('DT_FLOAT'), value: { tensor: { dtype: 'DT_FLOAT', tensorShape: {} } } } });
    return name;
  };
  const ints = (name: string, values: number[], shape = [values.length]) => {
    weights.push({ name, shape, dtype: 'int32', bytes: new Uint8Array(Int32Array.from(values).buffer) });
    nodes.push({ name, op: 'Const', attr: { dtype: attrs.type('DT_INT32'), value: { tensor: { dtype: 'DT_INT32', tensorShape: {} } } } });
    return name;
  };
  const node = (name: string, op: string, input: string[], attr: Record<string, unknown> = {}) => {
    nodes.push({ name, op, input, attr: { T: attrs.type('DT_FLOAT'), ...attr } });
    return name;
  };
  /** `extra`: filter, bias and (for Prelu) the slopes. */
  const conv = (name: string, x: string, strides: number, padding: string, fused: string[], extra: string[], more = {}) =>
    node(name, '_FusedConv2D', [x, ...extra], {
      strides: attrs.ints(1, strides, strides, 1),
      padding: attrs.s(padding),
      data_format: attrs.s('NHWC'),
      dilations: attrs.ints(1, 1, 1, 1),
      explicit_paddings: { list: {} },
      use_cudnn_on_gpu: { b: true },
      fused_ops: attrs.strings(...fused),
      num_args: attrs.i(extra.length - 1),
      epsilon: attrs.f(0),
      leakyrelu_alpha: attrs.f(0.2),
      ...more,
    });

  nodes.push({ name: 'x', op: 'Placeholder', attr: { dtype: attrs.type('DT_FLOAT'), shape: { shape: { dim: [1, 7, 9, 3].map((size) => ({ size: String(size) })) } } } });
  // 7×9 → 4×5 with a 4×3 kernel: SAME pads rows 1 before, 2 after (asymmetric), columns 1 and 1.
  const c1 = conv('c1', 'x', 2, 'SAME', ['BiasAdd', 'Relu'], [constant('w1', [4, 3, 3, 4]), constant('b1', [4], 'float16')]);
  const d1 = node('d1', 'DepthwiseConv2dNative', [c1, constant('dw', [3, 3, 4, 2], 'float16')], {
    strides: attrs.ints(1, 1, 1, 1),
    padding: attrs.s('SAME'),
    data_format: attrs.s('NHWC'),
    dilations: attrs.ints(1, 1, 1, 1),
    explicit_paddings: { list: {} },
  });
  const c2 = conv('c2', d1, 1, 'VALID', ['BiasAdd', 'Relu6'], [constant('w2', [1, 1, 8, 6], 'uint8'), constant('b2', [6])]);
  const c3 = conv('c3', d1, 1, 'SAME', ['BiasAdd', 'LeakyRelu'], [constant('w3', [1, 1, 8, 6]), constant('b3', [6])], { leakyrelu_alpha: attrs.f(0.1) });
  // Even kernel, stride 1, SAME: pads 0 before, 1 after.
  const c4 = conv('c4', d1, 1, 'SAME', ['BiasAdd', 'Prelu'], [constant('w4', [2, 2, 8, 6]), constant('b4', [6]), constant('alpha', [6])]);
  const c5 = conv('c5', d1, 1, 'VALID', ['BiasAdd'], [constant('w5', [3, 3, 8, 10]), constant('b5', [10])]);
  const sum = node('sum', 'AddV2', [c2, c3]);
  const scaled = node('scaled', 'Mul', [sum, constant('gain', [6])]);
  const shifted = node('shifted', 'Add', [constant('offset', [1, 1, 1, 6]), scaled]);
  const relu = node('relu', 'Relu', [node('mix', 'AddV2', [shifted, c4])]);
  const pool = node('pool', 'MaxPool', [relu], {
    ksize: attrs.ints(1, 3, 3, 1),
    strides: attrs.ints(1, 2, 2, 1),
    padding: attrs.s('SAME'),
    data_format: attrs.s('NHWC'),
    explicit_paddings: { list: {} },
  });
  // 2×3×6 → 3×5×8: rows 1 before, columns 2 after, channels 2 after.
  const padded = node('padded', 'Pad', [pool, ints('paddings', [0, 0, 1, 0, 0, 2, 0, 2], [4, 2])], { Tpaddings: attrs.type('DT_INT32') });
  const transposeConv = (name: string, kernel: number) =>
    node(name, 'Conv2DBackpropInput', [ints(`${name}/shape`, [1, 6, 10, 5]), constant(`${name}/filter`, [kernel, kernel, 5, 8]), padded], {
      strides: attrs.ints(1, 2, 2, 1),
      padding: attrs.s('SAME'),
      data_format: attrs.s('NHWC'),
      dilations: attrs.ints(1, 1, 1, 1),
      explicit_paddings: { list: {} },
    });
  const up3 = transposeConv('up3', 3); // pads 0 before, 1 after
  const up1 = transposeConv('up1', 1); // output_padding 1
  const concat = (name: string, inputs: string[], axis: number) => node(name, 'ConcatV2', [...inputs, ints(`${name}/axis`, [axis], [])], { N: attrs.i(inputs.length), Tidx: attrs.type('DT_INT32') });
  const channels = concat('channels', [up3, up1], -1);
  const rows = concat('rows', [up3, up1], 1);
  const flatA = node('flatA', 'Reshape', [channels, ints('flatA/shape', [1, -1, 10])], { Tshape: attrs.type('DT_INT32') });
  const flatB = node('flatB', 'Reshape', [c5, ints('flatB/shape', [1, 6, 10])], { Tshape: attrs.type('DT_INT32') });
  node('flat', 'Identity', [concat('flat_concat', [flatA, flatB], 1)]);
  node('image', 'Identity', [rows]);
  // Not needed by any output: never read, so its op does not matter.
  node('unused', 'Sigmoid', [c5]);

  const json = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'test',
    modelTopology: { node: nodes, library: {}, versions: {} },
    signature: {
      inputs: { 'x:0': { name: 'x:0' } },
      outputs: { 'image:0': { name: 'image:0' }, 'flat:0': { name: 'flat:0' }, 'c4:0': { name: 'c4:0' } },
    },
    weightsManifest: [{ paths: ['tiny.bin'], weights: weights.map(({ bytes: _, ...spec }) => spec) }],
  };
  const total = weights.reduce((n, w) => n + w.bytes.length, 0);
  const bin = new Uint8Array(total);
  weights.reduce((offset, w) => (bin.set(w.bytes, offset), offset + w.bytes.length), 0);
  return { json, shards: { 'tiny.bin': bin.buffer } };
}

describe('converter on a hand-written graph model', () => {
  it('equals TF.js on every op and attribute variant it accepts', async () => {
    const { json, shards } = tinyGraph();
    const converted = graphToOnnx(parseGraphModel(JSON.stringify(json), shards), 'tiny');
    expect(converted.inputShape).toEqual([1, 3, 7, 9]);
    expect(converted.outputs).toEqual([
      { name: 'image', shape: [1, 12, 10, 5] },
      { name: 'flat', shape: [1, 66, 10] },
      { name: 'c4', shape: [1, 4, 5, 6] },
    ]);
    const ops = new Set(converted.model.graph?.node?.map((n) => n.opType));
    expect([...ops].sort()).toEqual(['Add', 'Clip', 'Concat', 'Conv', 'ConvTranspose', 'Identity', 'LeakyRelu', 'MaxPool', 'Mul', 'PRelu', 'Pad', 'Relu', 'Reshape', 'Transpose']);

    const reference = await loadGraph(json, shards);
    const input = noise(7 * 9 * 3, 99);
    const { tfNames, tfOutputs, onnxOutputs } = await runBoth(reference, converted.bytes, input, [1, 7, 9, 3]);
    expect(onnxOutputs.map((o) => o.name)).toEqual(tfNames);
    tfOutputs.forEach((want, k) => {
      expect(onnxOutputs[k].shape).toEqual(want.shape);
      expect(maxAbs(want.data)).toBeGreaterThan(0.1); // not vacuous
      // Values up to ~50 after five layers: float32 rounding alone, far tighter than TOLERANCE.
      expect(maxAbsDiff(want.data, onnxOutputs[k].data)).toBeLessThanOrEqual(1e-6 * scaleOf(want.data));
    });
  });

  it('without a signature takes the nodes nothing reads as outputs, in file order, as TF.js does', async () => {
    const { json, shards } = tinyGraph();
    const unsigned = { ...json, signature: undefined, modelTopology: { ...json.modelTopology, node: json.modelTopology.node.filter((n) => n.name !== 'unused') } };
    const converted = graphToOnnx(parseGraphModel(unsigned, shards), 'tiny');
    const reference = await loadGraph(unsigned, shards);
    expect(converted.outputs.map((o) => o.name)).toEqual(reference.outputs.map((o) => o.name));
    expect(converted.outputs.map((o) => o.name)).toEqual(['flat', 'image']);
  });

  type TinyJson = ReturnType<typeof tinyGraph>['json'];
  const nodeOf = (json: TinyJson, name: string) => json.modelTopology.node.find((n) => n.name === name)!;
  it.each<[string, (json: TinyJson) => void, RegExp]>([
    ['an unknown op, named', (j) => (nodeOf(j, 'sum').op = 'Sigmoid'), /node "sum" \(Sigmoid\): unsupported op "Sigmoid"/],
    ['NCHW data', (j) => (nodeOf(j, 'c2').attr!.data_format = attrs.s('NCHW')), /node "c2" \(_FusedConv2D\): unsupported data_format "NCHW"/],
    ['dilation', (j) => (nodeOf(j, 'd1').attr!.dilations = attrs.ints(1, 2, 2, 1)), /node "d1" \(DepthwiseConv2dNative\): unsupported dilations/],
    ['explicit padding', (j) => (nodeOf(j, 'pool').attr!.padding = attrs.s('EXPLICIT')), /node "pool" \(MaxPool\): unsupported padding "EXPLICIT"/],
    ['an unknown fused activation', (j) => (nodeOf(j, 'c3').attr!.fused_ops = attrs.strings('BiasAdd', 'Elu')), /node "c3" \(_FusedConv2D\): unsupported fused activation "Elu"/],
    ['fused batch norm', (j) => (nodeOf(j, 'c5').attr!.fused_ops = attrs.strings('FusedBatchNorm')), /node "c5" \(_FusedConv2D\): unsupported fused_ops \[FusedBatchNorm\]/],
    ['a second output of a node', (j) => (nodeOf(j, 'relu').input![0] = 'mix:1'), /node "relu" \(Relu\): reads output 1 of "mix"/],
    ['a computed shape', (j) => (nodeOf(j, 'flatA').input![1] = 'c5'), /node "flatA" \(Reshape\): input "c5" must be a constant/],
    ['a layers model', (j) => ((j as { format: string }).format = 'layers-model'), /not a supported TF.js graph model/],
    ['an int4-quantized weight', (j) => (j.weightsManifest[0].weights[0].quantization = { dtype: 'int4' as never }), /weight "w1" has dtype float32 quantized as int4/],
  ])('rejects %s with a clear error', (_, mutate, message) => {
    const { json, shards } = tinyGraph();
    mutate(json);
    expect(() => graphToOnnx(parseGraphModel(JSON.stringify(json), shards), 'tiny')).toThrow(message);
  });

  it('rejects missing or short weight shards', () => {
    const { json, shards } = tinyGraph();
    expect(() => parseGraphModel(json, {})).toThrow(/tfjs-graph: missing weight shard "tiny.bin"/);
    expect(() => parseGraphModel(json, { 'tiny.bin': shards['tiny.bin'].slice(0, 100) })).toThrow(/runs past the end of its shards/);
  });
});
