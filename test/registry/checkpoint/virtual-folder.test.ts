// @vitest-environment node
/**
 * A checkpoint seen as an ONNX folder without writing one: the graphs are built on demand over
 * byte ranges of the file, the studio's folder loader opens them (however many external-data
 * parts a component has), and the images equal, pixel for pixel, those of the folder
 * convert-checkpoint writes from the same file.
 */
import { describe, expect, it, vi } from 'vitest';
import { tensorToImages } from '../../../src/pipeline/diffusion/latents';
import { textToImage } from '../../../src/pipeline/diffusion/text-to-image';
import type { CheckpointPlan } from '../../../src/registry/checkpoint/architecture';
import { planCheckpoint } from '../../../src/registry/checkpoint/ldm-keys';
import { BUILDERS, DATA_FILE, writeCheckpointFolder, type CheckpointBytes } from '../../../src/registry/checkpoint/onnx-folder';
import { checkpointFolder } from '../../../src/registry/checkpoint/virtual-folder';
import { inspectOnnx, sliceableBytes } from '../../../src/registry/onnx-inspect';
import { readSafetensorsHeader } from '../../../src/registry/safetensors';
import { loadDiffusionModel, type FolderReader } from '../../../workers/ort/diffusion-model';
import { headerOf, ldmCheckpointBytes, ldmTensorSpecs, SD15, tinyLdmConfig } from '../../fixtures/ldm-checkpoint';
import { nodeOrt } from '../../helpers/node-ort';

/** A tiny checkpoint in memory: its plan and its bytes as the readers see them. */
async function checkpoint(family: 'sd1' | 'sd2', dtype: 'F16' | 'F32', overrides: { vocab?: number } = {}) {
  const bytes = ldmCheckpointBytes(ldmTensorSpecs(tinyLdmConfig(family, overrides), dtype), 7);
  const header = await readSafetensorsHeader(new Blob([bytes]));
  const plan = planCheckpoint(header, 'tiny.safetensors');
  const reads: Array<[number, number]> = [];
  const source: CheckpointBytes = {
    dataOffset: 8 + header.headerBytes,
    read: async (begin, end) => {
      reads.push([begin, end]);
      return bytes.slice(begin, end);
    },
  };
  return { bytes, plan, source, reads };
}

/** The largest weight of the plan: the smallest part size that can hold every tensor. */
const largestTensor = (plan: CheckpointPlan) => Math.max(...Object.values(plan.weights).flatMap((w) => [...w.values()].map((r) => r.end - r.begin)));

/** The folder convert-checkpoint writes (same code as the CLI), kept in memory. */
async function convertedFolder(plan: CheckpointPlan, source: CheckpointBytes): Promise<FolderReader> {
  const files = new Map<string, Uint8Array>();
  await writeCheckpointFolder(plan, source, {
    async write(path, data) {
      if (data instanceof Uint8Array) return void files.set(path, data);
      const chunks: Uint8Array[] = [];
      for await (const chunk of data) chunks.push(chunk);
      files.set(path, new Uint8Array(Buffer.concat(chunks)));
    },
  });
  return async (path) => files.get(path);
}

async function generate(read: FolderReader) {
  const model = await loadDiffusionModel(nodeOrt(), read, 'wasm');
  try {
    const result = await textToImage(model, { prompt: 'a red fox in the snow', steps: 2, width: 64, height: 64, seed: 11, guidance_scale: 7 });
    return { image: tensorToImages(result)[0]!, prediction: model.schedulerConfig?.prediction_type };
  } finally {
    await model.release();
  }
}

describe('checkpointFolder', () => {
  it('lists a folder whose parts are byte ranges of the file and whose graphs point into exactly those parts', async () => {
    const { bytes, plan, source } = await checkpoint('sd1', 'F16');
    const folder = checkpointFolder(plan, source, { maxPartBytes: largestTensor(plan) });
    const paths = folder.paths();
    expect(paths).toEqual(
      expect.arrayContaining(['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', 'unet/model.onnx', `unet/${DATA_FILE}`]),
    );
    // The token embedding fills one part alone: the text encoder's weights are split.
    const textParts = paths.filter((p) => p.startsWith(`text_encoder/${DATA_FILE}`));
    expect(textParts).toEqual([`text_encoder/${DATA_FILE}.0`, `text_encoder/${DATA_FILE}.1`]);

    for (const component of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
      const info = await inspectOnnx(sliceableBytes((await folder.read(`${component}/model.onnx`))!));
      const parts = paths.filter((p) => p.startsWith(`${component}/${DATA_FILE}`)).map((p) => p.slice(component.length + 1));
      expect(info.externalData.map((e) => e.location).sort()).toEqual(parts.sort());
      for (const e of info.externalData) {
        // Each part is a slice of the file, large enough for every weight placed in it.
        const part = (await folder.read(`${component}/${e.location}`))!;
        expect(part.byteLength).toBeGreaterThanOrEqual(e.bytes);
        const at = Buffer.from(bytes).indexOf(Buffer.from(part.subarray(0, 4096)));
        expect(Buffer.from(bytes.subarray(at, at + part.byteLength)).equals(Buffer.from(part))).toBe(true);
      }
    }
    expect(await folder.read('unet/model.onnx_data.7')).toBeUndefined();
    expect(await folder.read('vae/config.json')).toBeUndefined();
  });

  it("full-size SD 1.5: the VAE decoder's parts skip the encoder's bytes (its post_quant_conv is stored after them)", () => {
    // Laid out as the safetensors library writes a file: tensors in name order (within a dtype).
    const specs = ldmTensorSpecs(SD15, 'F16').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const plan = planCheckpoint(headerOf(specs));
    const lengths = new Map<string, number>();
    const folder = checkpointFolder(plan, { dataOffset: 0, read: async (begin, end) => (lengths.set(`${begin}`, end - begin), new Uint8Array(0)) });
    const decoderParts = folder.paths().filter((p) => p.startsWith(`vae_decoder/${DATA_FILE}`));
    expect(decoderParts).toEqual([`vae_decoder/${DATA_FILE}.0`, `vae_decoder/${DATA_FILE}.1`]);
    const weightBytes = (c: keyof CheckpointPlan['weights']) => [...plan.weights[c].values()].reduce((n, r) => n + r.end - r.begin, 0);
    // Only the decoder's own weights are read: nothing of the encoder's 68 MB rides along.
    return Promise.all(decoderParts.map((p) => folder.read(p))).then(() => {
      const read = [...lengths.values()].reduce((a, b) => a + b, 0);
      expect(read).toBeLessThan(weightBytes('vae_decoder') + 1024 ** 2);
      expect(read).toBeGreaterThanOrEqual(weightBytes('vae_decoder'));
    });
  });

  it('builds each graph once, reads no weight until a part is asked for, and hands out copies', async () => {
    const { plan, source, reads } = await checkpoint('sd2', 'F32');
    const folder = checkpointFolder(plan, source);
    const spy = vi.spyOn(BUILDERS, 'unet');
    try {
      const a = (await folder.read('unet/model.onnx'))!;
      a.fill(0);
      const b = (await folder.read('unet/model.onnx'))!;
      expect(spy).toHaveBeenCalledTimes(1);
      expect(b.some((x) => x !== 0)).toBe(true);
      expect(reads).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    await folder.read(`unet/${DATA_FILE}`);
    expect(reads).toHaveLength(1);
  });

  it('the built graph keeps the weights in the checkpoint dtype and computes in the asked type', async () => {
    const { plan, source } = await checkpoint('sd1', 'F16');
    for (const compute of ['float32', 'float16'] as const) {
      const info = await inspectOnnx(sliceableBytes((await checkpointFolder(plan, source, { compute }).read('unet/model.onnx'))!));
      expect(info.weightDtype).toBe('float16');
      expect(info.inputs.find((i) => i.name === 'sample')!.type).toBe(compute);
    }
  });

  it("weights: 'float16' holds a float32 checkpoint's weights as float16 copies (half the bytes) and computes what its float16 file computes", async () => {
    const wide = await checkpoint('sd2', 'F32');
    const half = await checkpoint('sd2', 'F16');
    const converted = checkpointFolder(wide.plan, wide.source, { weights: 'float16' });
    expect(converted.converts('unet')).toBe(true);
    const info = await inspectOnnx(sliceableBytes((await converted.read('unet/model.onnx'))!));
    expect(info.weightDtype).toBe('float16');
    expect(info.inputs.find((i) => i.name === 'sample')!.type).toBe('float32');
    // Nothing is read until a part is asked for; then the parts hold half the file's bytes.
    expect(wide.reads).toEqual([]);
    const partBytes = async (folder: ReturnType<typeof checkpointFolder>) => {
      let n = 0;
      for (const p of folder.paths().filter((p) => p.startsWith(`unet/${DATA_FILE}`))) n += (await folder.read(p))!.byteLength;
      return n;
    };
    const wideBytes = await partBytes(checkpointFolder(wide.plan, wide.source));
    expect(await partBytes(converted)).toBeLessThan(wideBytes * 0.55);

    const unetOut = async (read: FolderReader) => {
      const model = await loadDiffusionModel(nodeOrt(), read, 'wasm');
      try {
        const sample = { data: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), dims: [1, 4, 8, 8] };
        const context = { data: Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i * 0.11)), dims: [1, 77, 32] };
        return (await model.unet.run(sample, 500, context)).data;
      } finally {
        await model.release();
      }
    };
    // The float16 file holds the same random values rounded once to float16 (the converted copy
    // rounds the float32 value: a rare double-rounding tie may differ in the last bit).
    const fromCopies = await unetOut(converted.read);
    const fromHalfFile = await unetOut(checkpointFolder(half.plan, half.source).read);
    const fromFloat32 = await unetOut(checkpointFolder(wide.plan, wide.source).read);
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    expect(maxDiff(fromCopies, fromHalfFile)).toBeLessThan(1e-4);
    // …and is not simply the float32 model (the rounding shows).
    expect(maxDiff(fromCopies, fromFloat32)).toBeGreaterThan(maxDiff(fromCopies, fromHalfFile));

    // A float16 file is never copied: its parts stay byte ranges of the file.
    expect(checkpointFolder(half.plan, half.source, { weights: 'float16' }).converts('unet')).toBe(false);
  });

  it('a UNet split into many parts computes exactly what the one-part UNet computes', async () => {
    // A small vocabulary so that no tensor is larger than the small parts asked for here.
    const { plan, source } = await checkpoint('sd1', 'F16', { vocab: 1000 });
    const split = checkpointFolder(plan, source, { maxPartBytes: 160_000 });
    expect(split.paths().filter((p) => p.startsWith('unet/model.onnx_data.')).length).toBeGreaterThan(5);
    const out = async (read: FolderReader) => {
      const model = await loadDiffusionModel(nodeOrt(), read, 'wasm');
      try {
        const sample = { data: Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), dims: [1, 4, 8, 8] };
        const context = { data: Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i * 0.11)), dims: [1, 77, 32] };
        return Array.from((await model.unet.run(sample, 500, context)).data);
      } finally {
        await model.release();
      }
    };
    const whole = await out(checkpointFolder(plan, source).read);
    expect(whole.length).toBe(4 * 8 * 8);
    expect(await out(split.read)).toEqual(whole);
  });

  for (const [family, dtype] of [
    ['sd1', 'F16'],
    ['sd2', 'F32'],
  ] as const) {
    it(`${family} ${dtype}: generates (2 steps) with the same pixels as the converted folder`, async () => {
      const { plan, source } = await checkpoint(family, dtype);
      const direct = await generate(checkpointFolder(plan, source, { maxPartBytes: largestTensor(plan) }).read);
      const converted = await generate(await convertedFolder(plan, source));
      expect(direct.prediction).toBe(family === 'sd2' ? 'v_prediction' : 'epsilon');
      expect([direct.image.width, direct.image.height]).toEqual([16, 16]);
      expect(new Set(direct.image.data).size).toBeGreaterThan(10);
      expect(Buffer.from(direct.image.data).equals(Buffer.from(converted.image.data))).toBe(true);
    });
  }
});
