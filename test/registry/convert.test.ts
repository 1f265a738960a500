// @vitest-environment node
/**
 * The TF.js layers → ONNX converter and the upscalers it bundles in public/models/.
 *
 * The golden test is the one that matters: the committed ONNX files, run with onnxruntime-web,
 * must reproduce UpscalerJS's own sample outputs. A wrong kernel transpose, padding or upsample
 * mode changes most pixels by far more than the 1-grey-level tolerance.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { BundledManifest, isBundledUpscaler } from '../../src/registry/bundled';
import { convertEsrganSlim, convertTfjsModel, MODELS_DIR, PACKAGE_DIR } from '../../src/registry/convert/cli';
import { parseLayersModel, weightShardPaths } from '../../src/registry/convert/tfjs-layers';
import { toOnnx } from '../../src/registry/convert/to-onnx';

const FIXTURES = fileURLToPath(new URL('../fixtures/esrgan-slim', import.meta.url));

beforeAll(() => {
  // Must be set before the first session; the tests are small and threads only add start-up.
  ort.env.wasm.numThreads = 1;
});

async function run(model: Uint8Array, data: Float32Array, dims: number[]): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model);
  try {
    const result = await session.run({ input: new ort.Tensor('float32', data, dims) });
    return result.output;
  } finally {
    await session.release();
  }
}

const readModel = async (file: string) => new Uint8Array(await readFile(path.join(MODELS_DIR, file)));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** models.json's upscalers (it lists the bundled detectors too: convert-graph.test.ts). */
const readUpscalerEntries = async () => BundledManifest.parse(JSON.parse(await readFile(path.join(MODELS_DIR, 'models.json'), 'utf8'))).models.filter(isBundledUpscaler);

/** Deterministic pseudo-random 0..255 image (NCHW), so failures are reproducible. */
function noiseImage(channels: number, height: number, width: number, seed = 1): Float32Array {
  const data = new Float32Array(channels * height * width);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    data[i] = (state >>> 24) & 0xff;
  }
  return data;
}

describe('bundled esrgan-slim models', () => {
  it('are exactly what the converter produces from the package (models.json and the .onnx files)', async () => {
    const manifest = { models: await readUpscalerEntries() };
    const fresh = await convertEsrganSlim();
    expect(manifest.models).toEqual(fresh.map((r) => r.entry));
    for (const { entry, bytes } of fresh) {
      expect(sha256(bytes)).toBe(entry.sha256);
      expect(sha256(await readModel(entry.file))).toBe(entry.sha256);
    }
    // Hand-derived from the x4 model.json: 3x3 convs F_m1, F_0, F_1_1, F_2_1, GFF_2, UPN2, UPN3
    // (7 × 1) + UPN1 5x5 (2) before the upsample = 9, plus ceil(1/s) for SR = 10 at every scale;
    // The sub-pixel rewrite keeps that radius (its phase convs reach ceil(1/s) = 1 input pixel)
    // and leaves only the 3-channel DepthToSpace output at output resolution.
    expect(manifest.models.map((m) => [m.scale, m.receptive_radius, m.peak_channels])).toEqual([
      [2, 10, 3],
      [3, 10, 3],
      [4, 10, 3],
      [8, 10, 3],
    ]);
    const license = await readFile(path.join(MODELS_DIR, 'LICENSE-esrgan-slim.txt'), 'utf8');
    expect(license).toBe(await readFile(path.join(PACKAGE_DIR, 'LICENSE'), 'utf8'));
  });

  it.each([2, 3, 4])('x%i reproduces the UpscalerJS sample within 1 grey level', async (scale) => {
    const fixture = decode(await readFile(path.join(FIXTURES, 'fixture.png')));
    const expected = decode(await readFile(path.join(FIXTURES, `result-x${scale}.png`)));
    const { width, height } = fixture;
    expect(fixture.channels).toBe(4);
    const plane = width * height;
    const input = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) input[c * plane + i] = fixture.data[i * 4 + c];

    const output = await run(await readModel(`esrgan-slim-x${scale}.onnx`), input, [1, 3, height, width]);
    expect(output.dims).toEqual([1, 3, height * scale, width * scale]);
    expect([expected.width, expected.height, expected.channels]).toEqual([width * scale, height * scale, 4]);

    const values = output.data as Float32Array;
    const outPlane = plane * scale * scale;
    const maxDiff = [0, 0, 0];
    for (let i = 0; i < outPlane; i++) {
      for (let c = 0; c < 3; c++) {
        const ours = Math.min(255, Math.max(0, Math.round(values[c * outPlane + i])));
        maxDiff[c] = Math.max(maxDiff[c], Math.abs(ours - expected.data[i * 4 + c]));
      }
    }
    console.info(`esrgan-slim x${scale}: max |diff| per RGB channel vs UpscalerJS sample = ${maxDiff.join(', ')}`);
    expect(Math.max(...maxDiff)).toBeLessThanOrEqual(1);
  });

  it('x8 upsamples 8× (any size, non-square)', async () => {
    const output = await run(await readModel('esrgan-slim-x8.onnx'), noiseImage(3, 6, 9), [1, 3, 6, 9]);
    expect(output.dims).toEqual([1, 3, 48, 72]);
    expect((output.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('x2 output depends on no input pixel further away than receptive_radius', async () => {
    const manifest = { models: await readUpscalerEntries() };
    const { receptive_radius: radius, scale } = manifest.models.find((m) => m.scale === 2)!;
    const size = 2 * radius + 12;
    const centre = size >> 1;
    const base = noiseImage(3, size, size, 7);
    const poked = base.slice();
    for (let c = 0; c < 3; c++) poked[c * size * size + centre * size + centre] += 100;
    const model = await readModel('esrgan-slim-x2.onnx');
    const [a, b] = [await run(model, base, [1, 3, size, size]), await run(model, poked, [1, 3, size, size])];
    const out = size * scale;
    let furthest = 0;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < out; y++) {
        for (let x = 0; x < out; x++) {
          const i = c * out * out + y * out + x;
          if ((a.data as Float32Array)[i] === (b.data as Float32Array)[i]) continue;
          const distance = Math.max(Math.abs(Math.floor(y / scale) - centre), Math.abs(Math.floor(x / scale) - centre));
          furthest = Math.max(furthest, distance);
        }
      }
    }
    expect(furthest).toBeGreaterThan(0);
    expect(furthest).toBeLessThanOrEqual(radius);
  });
});

// ---------------------------------------------------------------------------------------------
// A tiny model written in code, checked against a plain-TypeScript NHWC reference, so the
// lowering (HWIO → OIHW with cin ≠ cout and asymmetric kernels, 'same' pads, fused relu, Concat,
// Add, nearest upsampling) is verified independently of the golden images.

type LayerSpec = { class_name: string; name: string; config: Record<string, unknown>; inbound: string[] };

function tinyModel(layers: LayerSpec[], weights: { name: string; shape: number[] }[], output: string) {
  const json = {
    format: 'layers-model',
    modelTopology: {
      model_config: {
        class_name: 'Functional',
        config: {
          name: 'tiny',
          layers: layers.map((l) => ({
            class_name: l.class_name,
            name: l.name,
            config: { name: l.name, ...l.config },
            inbound_nodes: l.inbound.length ? [l.inbound.map((n) => [n, 0, 0, {}])] : [],
          })),
          input_layers: [['in', 0, 0]],
          output_layers: [[output, 0, 0]],
        },
      },
    },
    weightsManifest: [{ paths: ['w.bin'], weights: weights.map((w) => ({ ...w, dtype: 'float32' })) }],
  };
  const values = weights.map((w, i) => noiseImage(1, 1, w.shape.reduce((a, b) => a * b, 1), i + 11).map((v) => v / 128 - 1));
  const flat = new Float32Array(values.reduce((n, v) => n + v.length, 0));
  values.reduce((offset, v) => (flat.set(v, offset), offset + v.length), 0);
  return { json, values, shards: { 'w.bin': flat.buffer } };
}

/** NHWC 'same'-padded conv, the Keras definition. */
function refConv(x: Float32Array, h: number, w: number, cin: number, k: Float32Array, kh: number, kw: number, cout: number, bias: Float32Array) {
  const y = new Float32Array(h * w * cout);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let o = 0; o < cout; o++) {
        let sum = bias[o];
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) {
            const [yy, xx] = [i + a - (kh - 1) / 2, j + b - (kw - 1) / 2];
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            for (let c = 0; c < cin; c++) sum += x[(yy * w + xx) * cin + c] * k[((a * kw + b) * cin + c) * cout + o];
          }
        y[(i * w + j) * cout + o] = sum;
      }
  return y;
}

describe('converter on a hand-written model', () => {
  const conv = (name: string, filters: number, kernel: number[], inbound: string, activation = 'linear'): LayerSpec => ({
    class_name: 'Conv2D',
    name,
    config: { filters, kernel_size: kernel, strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1], activation, use_bias: true },
    inbound: [inbound],
  });
  const layers: LayerSpec[] = [
    { class_name: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 2], dtype: 'float32' }, inbound: [] },
    conv('a', 3, [3, 5], 'in', 'relu'),
    conv('b', 2, [1, 1], 'a'),
    { class_name: 'Concatenate', name: 'cat', config: { axis: 3 }, inbound: ['in', 'b'] },
    conv('c', 2, [3, 3], 'cat'),
    { class_name: 'Add', name: 'sum', config: {}, inbound: ['c', 'in', 'b'] },
    { class_name: 'UpSampling2D', name: 'up', config: { size: [3, 3], data_format: 'channels_last', interpolation: 'nearest' }, inbound: ['sum'] },
  ];
  const weights = [
    { name: 'a/kernel', shape: [3, 5, 2, 3] },
    { name: 'a/bias', shape: [3] },
    { name: 'b/kernel', shape: [1, 1, 3, 2] },
    { name: 'b/bias', shape: [2] },
    { name: 'c/kernel', shape: [3, 3, 4, 2] },
    { name: 'c/bias', shape: [2] },
  ];

  it('matches a direct NHWC implementation of the Keras layers', async () => {
    const { json, values, shards } = tinyModel(layers, weights, 'up');
    const [ak, ab, bk, bb, ck, cb] = values;
    const [h, w] = [5, 7];
    const x = noiseImage(1, 1, h * w * 2, 3).map((v) => v / 255); // NHWC
    const a = refConv(x, h, w, 2, ak, 3, 5, 3, ab).map((v) => Math.max(0, v));
    const b = refConv(a, h, w, 3, bk, 1, 1, 2, bb);
    const cat = new Float32Array(h * w * 4).map((_, i) => (i % 4 < 2 ? x[(i >> 2) * 2 + (i % 4)] : b[(i >> 2) * 2 + (i % 4) - 2]));
    const c = refConv(cat, h, w, 4, ck, 3, 3, 2, cb);
    const sum = c.map((v, i) => v + x[i] + b[i]);

    const converted = toOnnx(parseLayersModel(JSON.stringify(json), shards));
    expect([converted.scale, converted.receptiveRadius, converted.peakChannels]).toEqual([3, 3, 2]); // radius: a (3x5 → 2) + c (3x3 → 1)
    const nchw = new Float32Array(2 * h * w).map((_, i) => x[(i % (h * w)) * 2 + Math.floor(i / (h * w))]);
    const output = await run(converted.bytes, nchw, [1, 2, h, w]);
    expect(output.dims).toEqual([1, 2, 3 * h, 3 * w]);
    let maxErr = 0;
    for (let ch = 0; ch < 2; ch++)
      for (let y = 0; y < 3 * h; y++)
        for (let xx = 0; xx < 3 * w; xx++) {
          // Nearest upsampling: every source pixel repeated 3×3.
          const want = sum[(Math.floor(y / 3) * w + Math.floor(xx / 3)) * 2 + ch];
          maxErr = Math.max(maxErr, Math.abs((output.data as Float32Array)[(ch * 3 * h + y) * 3 * w + xx] - want));
        }
    expect(maxErr).toBeLessThan(1e-4);
  });

  it.each([
    ['strides', (l: LayerSpec[]) => (l[1].config.strides = [2, 2]), /layer "a" \(Conv2D\): unsupported strides \[2,2\]/],
    ['dilation', (l: LayerSpec[]) => (l[1].config.dilation_rate = [2, 2]), /layer "a" \(Conv2D\): unsupported dilation_rate/],
    ['activation', (l: LayerSpec[]) => (l[2].config.activation = 'tanh'), /layer "b" \(Conv2D\): unsupported activation "tanh"/],
    ['data_format', (l: LayerSpec[]) => (l[4].config.data_format = 'channels_first'), /layer "c" \(Conv2D\): unsupported data_format "channels_first"/],
    ['layer class', (l: LayerSpec[]) => (l[2].class_name = 'SeparableConv2D'), /layer "b" \(SeparableConv2D\): unsupported layer class/],
    ['interpolation', (l: LayerSpec[]) => (l[6].config.interpolation = 'bilinear'), /layer "up" \(UpSampling2D\): unsupported interpolation "bilinear"/],
    ['concat axis', (l: LayerSpec[]) => (l[3].config.axis = 1), /layer "cat" \(Concatenate\): unsupported concatenation axis 1/],
  ])('rejects an unsupported %s with an error naming the layer', (_, mutate, message) => {
    const copy = layers.map((l) => ({ ...l, config: { ...l.config } }));
    mutate(copy);
    const { json, shards } = tinyModel(copy, weights, 'up');
    expect(() => parseLayersModel(JSON.stringify(json), shards)).toThrow(message);
  });

  it.each([
    [2, 3],
    [3, 3],
    [4, 5],
    [8, 3],
  ])('sub-pixel rewrite of upsample ×%i + %ix%i conv equals the upsample-then-conv graph', async (scale, k) => {
    const subLayers: LayerSpec[] = [
      { class_name: 'InputLayer', name: 'in', config: { batch_input_shape: [null, null, null, 2], dtype: 'float32' }, inbound: [] },
      conv('a', 4, [3, 3], 'in', 'relu'),
      { class_name: 'UpSampling2D', name: 'up', config: { size: [scale, scale], interpolation: 'nearest' }, inbound: ['a'] },
      conv('sr', 3, [k, k], 'up', scale === 3 ? 'relu' : 'linear'),
    ];
    const subWeights = [
      { name: 'a/kernel', shape: [3, 3, 2, 4] },
      { name: 'a/bias', shape: [4] },
      { name: 'sr/kernel', shape: [k, k, 4, 3] },
      { name: 'sr/bias', shape: [3] },
    ];
    const { json, shards } = tinyModel(subLayers, subWeights, 'sr');
    const graph = parseLayersModel(JSON.stringify(json), shards);
    const [h, w] = [5, 6];
    const x = noiseImage(2, h, w, 5).map((v) => v / 255);
    const reference = toOnnx(graph, { subpixel: false });
    expect(reference.model.graph?.node?.map((n) => n.opType)).toContain('Resize');
    const want = (await run(reference.bytes, x, [1, 2, h, w])).data as Float32Array;
    for (const splitRows of [false, true]) {
      const rewritten = toOnnx(graph, { splitRows });
      const ops = rewritten.model.graph?.node?.map((n) => n.opType) ?? [];
      expect(ops).toContain('DepthToSpace');
      expect(ops).not.toContain('Resize');
      // Same receptive radius (1 + ceil(r/s)); only the 3-channel result at output resolution.
      expect([rewritten.scale, rewritten.receptiveRadius, rewritten.peakChannels]).toEqual([scale, reference.receptiveRadius, 3]);
      const output = await run(rewritten.bytes, x, [1, 2, h, w]);
      expect(output.dims).toEqual([1, 3, scale * h, scale * w]);
      const got = output.data as Float32Array;
      let maxErr = 0;
      for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
      expect(maxErr).toBeLessThan(1e-4);
    }
  });

  it('rejects quantized or non-float32 weights, and other model formats', () => {
    const { json, shards } = tinyModel(layers, weights, 'up');
    const quantized = structuredClone(json);
    Object.assign(quantized.weightsManifest[0].weights[0], { quantization: { dtype: 'uint8', min: 0, scale: 1 } });
    expect(() => parseLayersModel(quantized, shards)).toThrow(/weight "a\/kernel" is quantized/);
    const float16 = structuredClone(json);
    float16.weightsManifest[0].weights[0].dtype = 'float16';
    expect(() => parseLayersModel(float16, shards)).toThrow(/weight "a\/kernel" has dtype float16/);
    expect(() => parseLayersModel({ ...json, format: 'graph-model' }, shards)).toThrow(/not a supported TF.js layers model/);
  });
});

describe('esrgan-slim parsing', () => {
  it('reads every layer and weight of the package models', async () => {
    const json = await readFile(path.join(PACKAGE_DIR, 'models/x4/model.json'), 'utf8');
    expect(weightShardPaths(json)).toEqual(['group1-shard1of1.bin']);
    const converted = await convertTfjsModel(PACKAGE_DIR, 'models/x4/model.json');
    const ops = (converted.model.graph?.node ?? []).map((node) => node.opType);
    // The UpSampling2D + SR conv pair becomes phase convs + DepthToSpace (sub-pixel rewrite).
    expect(new Set(ops)).toEqual(new Set(['Conv', 'Relu', 'Concat', 'Add', 'DepthToSpace']));
    expect(converted.model.graph?.initializer?.map((t) => t.name)).toContain('UPN1/kernel');
  });
});
