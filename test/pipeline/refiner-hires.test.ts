import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageToTensor, interpolateBilinear, scale, SD_VAE_SCALE } from '../../src/pipeline/diffusion/latents';
import { createScheduler } from '../../src/pipeline/diffusion/schedulers';
import { imageToImage, SD_SCHEDULER_CONFIG, type DiffusionModels } from '../../src/pipeline/diffusion/text-to-image';
import { resizeImage } from '../../src/pipeline/image/resize';
import { upscaleTiled } from '../../src/pipeline/image/tiling';
import type { DiffusionProvider, StageServices, UpscalerPort } from '../../src/pipeline/ports';
import { createRng } from '../../src/pipeline/random';
import { planHighResFix } from '../../src/pipeline/stages/refiner';
import type { Tensor } from '../../src/pipeline/tensor';
import { Workbench } from '../../src/pipeline/workbench';
import type { LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { createMemorySink } from '../helpers/memory-sink';
import { createBoxUpscaler, maxAbsDiff, patternImage } from '../helpers/test-upscaler';
import { loadTinyModel } from '../helpers/tiny-models';

let tiny: LoadedDiffusionModel;
let staticModel: LoadedDiffusionModel;
beforeAll(async () => {
  tiny = await loadTinyModel('sd15-fp32-dynamic');
  staticModel = await loadTinyModel('sd15-fp16-static77');
});
afterAll(async () => {
  await tiny?.release();
  await staticModel?.release();
});

/** The tiny model with spies on the UNet and the VAE encoder (they still run the real sessions). */
function spied(models: DiffusionModels, onEncode?: () => void) {
  const unetCalls: Array<{ sample: Tensor; t: number }> = [];
  const encoderInputs: Tensor[] = [];
  const prompts: number[] = [];
  const textEncoder = {
    sequenceLength: models.textEncoder.sequenceLength,
    hiddenSize: models.textEncoder.hiddenSize,
    run: (ids: Int32Array, dims: readonly [number, number]) => {
      prompts.push(dims[0]);
      return models.textEncoder.run(ids, dims);
    },
  };
  const unet = {
    inChannels: models.unet.inChannels,
    maxBatch: models.unet.maxBatch,
    sequenceLength: models.unet.sequenceLength,
    latentSize: models.unet.latentSize,
    run: (sample: Tensor, t: number, ehs: Tensor) => {
      unetCalls.push({ sample: { data: sample.data.slice(), dims: [...sample.dims] }, t });
      return models.unet.run(sample, t, ehs);
    },
  };
  const vaeEncoder = {
    run: (image: Tensor) => {
      encoderInputs.push({ data: image.data.slice(), dims: [...image.dims] });
      onEncode?.();
      return models.vaeEncoder!.run(image);
    },
  };
  return { models: { ...models, unet, vaeEncoder, textEncoder }, unetCalls, encoderInputs, prompts };
}

type Upscaler = UpscalerPort & { calls: number[][] };

function services(opts: { models?: DiffusionModels; upscaler?: Upscaler; signal?: AbortSignal } = {}) {
  const sink = createMemorySink();
  const loads: Array<string | undefined> = [];
  const upscaler = opts.upscaler ?? createBoxUpscaler(2);
  const upscalerLoads: Array<[string | undefined, number]> = [];
  const diffusion: DiffusionProvider = {
    async load(model) {
      loads.push(model);
      const models = model === 'static' ? staticModel : (opts.models ?? tiny);
      return { name: model ?? 'tiny', models, defaults: { steps: 4, guidance_scale: 7, scheduler: 'ddim' } };
    },
  };
  const svc: StageServices = {
    artifacts: sink,
    diffusion,
    signal: opts.signal,
    upscalers: {
      async load(name, factor) {
        upscalerLoads.push([name, factor]);
        if (name !== 'box-x2') throw new Error(`no upscaler '${name}'`);
        return upscaler;
      },
      available: async () => [{ name: 'box-x2', scale: 2 }],
    },
  };
  return { svc, sink, loads, upscaler, upscalerLoads };
}

const refiner = new Workbench({ stages: [{ stage_type: 'refiner', parameters: { steps: 4, strength: 0.5, prompt: 'sharper', seed: 11 } }] });

/** Refines a 64×64 pattern (unless `extra.image` says otherwise) with the given high_res_fix. */
async function run(hires: unknown, extra: Record<string, unknown> = {}, opts: Parameters<typeof services>[0] = {}) {
  const s = services(opts);
  const result = await refiner.execute({ image: patternImage(64, 64), high_res_fix: hires, ...extra }, 'j', s.svc);
  return { result, ...s };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('planHighResFix', () => {
  it('targets input × scale, each side rounded to the nearest multiple of 8', () => {
    expect(planHighResFix({ width: 64, height: 64 }, { scale: 1.5, upscaler: 'latent' }).to).toEqual([96, 96]);
    // 64·1.3 = 83.2 → 80; 56·1.3 = 72.8 → 72; 60·1.5 = 90 → 88.
    expect(planHighResFix({ width: 64, height: 56 }, { scale: 1.3, upscaler: 'latent' }).to).toEqual([80, 72]);
    expect(planHighResFix({ width: 60, height: 100 }, { scale: 1.5, upscaler: 'x' })).toEqual({ scale: 1.5, upscaler: 'x', from: [60, 100], to: [88, 152] });
  });
});

describe('refiner high_res_fix: latent', () => {
  it('img2img from the bilinearly upscaled VAE latents at the target size', async () => {
    const spy = spied(tiny);
    const { result, sink } = await run({ scale: 1.5, upscaler: 'latent' }, {}, { models: spy.models });
    expect(result.error).toBeNull();
    expect(sink.saved.map((s) => [s.name, s.image.width, s.image.height])).toEqual([['j/generated_refined.png', 96, 96]]);
    expect(result.metadata.refiner).toMatchObject({
      high_res_fix: { scale: 1.5, upscaler: 'latent', from: [64, 64], to: [96, 96] },
      output_size: [96, 96],
      steps_run: 2,
    });
    expect(sink.saved[0].metadata).toMatchObject({ high_res_fix: { to: [96, 96] }, parameters: { width: 96, height: 96 } });

    // The VAE saw the input at its own size, once.
    expect(spy.encoderInputs.map((t) => t.dims)).toEqual([[1, 3, 64, 64]]);
    // The first UNet input is those latents, upscaled to 12×12 and noised to the first kept timestep
    // (ddim's scaleModelInput is the identity, so the sample is the latents themselves).
    const latents = scale(await tiny.vaeEncoder!.run(imageToTensor(patternImage(64, 64))), SD_VAE_SCALE);
    const up = interpolateBilinear(latents, 12, 12);
    const s = createScheduler('ddim', { ...SD_SCHEDULER_CONFIG, ...tiny.schedulerConfig });
    s.setTimesteps(4);
    const expected = s.addNoise(up, createRng(11).normalTensor([1, 4, 12, 12]), s.timesteps[2]);
    expect(spy.unetCalls[0].sample.dims).toEqual([2, 4, 12, 12]);
    expect(spy.unetCalls[0].t).toBe(s.timesteps[2]);
    expect(maxDiff(spy.unetCalls[0].sample.data.subarray(0, 4 * 144), expected.data)).toBeLessThan(1e-5);
  });

  it('imageToImage checks given image latents against the size before any model runs', async () => {
    const spy = spied(tiny);
    const params = { prompt: 'x', width: 96, height: 96, steps: 4, strength: 0.5 };
    await expect(imageToImage(spy.models, { ...params, imageLatents: { data: new Float32Array(4 * 64), dims: [1, 4, 8, 8] } })).rejects.toThrow(
      'image latents must be [1, 4, 12, 12] for 96×96, got [1, 4, 8, 8]',
    );
    const nan = new Float32Array(4 * 144).fill(Number.NaN);
    await expect(imageToImage(spy.models, { ...params, imageLatents: { data: nan, dims: [1, 4, 12, 12] } })).rejects.toThrow('image latents contains NaN values');
    expect(spy.prompts).toHaveLength(0);
    expect(spy.unetCalls).toHaveLength(0);
  });

  it('differs from img2img on the image resized in pixel space; same seed → identical pixels', async () => {
    const latent = await run({ scale: 1.5, upscaler: 'Latent' });
    const again = await run({ scale: 1.5, upscaler: 'latent' });
    expect(latent.result.error).toBeNull();
    expect(Buffer.from(again.sink.saved[0].image.data).equals(Buffer.from(latent.sink.saved[0].image.data))).toBe(true);

    const plain = await run(false, { image: resizeImage(patternImage(64, 64), 96, 96) });
    expect(plain.result.error).toBeNull();
    expect(plain.sink.saved[0].image.width).toBe(96);
    expect(maxAbsDiff(plain.sink.saved[0].image.data, latent.sink.saved[0].image.data)).toBeGreaterThan(0);

    const otherSeed = await run({ scale: 1.5, upscaler: 'latent' }, { seed: 12 });
    expect(maxAbsDiff(otherSeed.sink.saved[0].image.data, latent.sink.saved[0].image.data)).toBeGreaterThan(0);
  });

  it('stops between the VAE encode and the denoising when cancelled', async () => {
    const controller = new AbortController();
    const spy = spied(tiny, () => controller.abort());
    const { result, sink } = await run({ scale: 2, upscaler: 'latent' }, {}, { models: spy.models, signal: controller.signal });
    expect(result.cancelled).toBe(true);
    expect(spy.encoderInputs).toHaveLength(1);
    expect(spy.prompts).toHaveLength(0);
    expect(spy.unetCalls).toHaveLength(0);
    expect(sink.saved).toHaveLength(0);
  });
});

describe('refiner high_res_fix: a registered upscaler', () => {
  it('runs the upscaler, resizes its ×2 result down to the target, then img2img at that size', async () => {
    const spy = spied(tiny);
    const { result, sink, upscaler, upscalerLoads } = await run({ scale: 1.5, upscaler: 'box-x2' }, {}, { models: spy.models });
    expect(result.error).toBeNull();
    expect(upscalerLoads).toEqual([['box-x2', 2]]);
    expect(upscaler.calls).toEqual([[1, 3, 64, 64]]);
    expect(result.metadata.refiner).toMatchObject({
      high_res_fix: { scale: 1.5, upscaler: 'box-x2', from: [64, 64], to: [96, 96] },
      output_size: [96, 96],
    });
    expect([sink.saved[0].image.width, sink.saved[0].image.height]).toEqual([96, 96]);
    // The VAE got the upscaled image, area-resized from 128 to 96.
    const up = await upscaleTiled(patternImage(64, 64), createBoxUpscaler(2), { tileSize: 64, overlap: 8 });
    const expected = imageToTensor(resizeImage(up.image, 96, 96));
    expect(spy.encoderInputs.map((t) => t.dims)).toEqual([[1, 3, 96, 96]]);
    expect(maxDiff(spy.encoderInputs[0].data, expected.data)).toBe(0);

    const again = await run({ scale: 1.5, upscaler: 'box-x2' });
    expect(Buffer.from(again.sink.saved[0].image.data).equals(Buffer.from(sink.saved[0].image.data))).toBe(true);
    const latent = await run({ scale: 1.5, upscaler: 'latent' });
    expect(maxAbsDiff(latent.sink.saved[0].image.data, sink.saved[0].image.data)).toBeGreaterThan(0);
  });

  it('runs a ×2 model twice for scale 3 (as A1111 does), then shrinks to the target', async () => {
    const { result, upscaler, sink } = await run({ scale: 3, upscaler: 'box-x2' }, { image: patternImage(32, 32) });
    expect(result.error).toBeNull();
    expect(upscaler.calls).toEqual([
      [1, 3, 32, 32],
      [1, 3, 64, 64],
    ]);
    expect([sink.saved[0].image.width, sink.saved[0].image.height]).toEqual([96, 96]);
  });

  it('takes an input that is not a multiple of 8 (the resize makes one)', async () => {
    const { result, sink } = await run({ scale: 1.5, upscaler: 'box-x2' }, { image: patternImage(60, 60) });
    expect(result.error).toBeNull();
    expect(result.metadata.refiner.high_res_fix).toEqual({ scale: 1.5, upscaler: 'box-x2', from: [60, 60], to: [88, 88] });
    expect([sink.saved[0].image.width, sink.saved[0].image.height]).toEqual([88, 88]);
  });

  it('stops after upscaling when cancelled during it', async () => {
    const controller = new AbortController();
    const box = createBoxUpscaler(2);
    const upscaler: Upscaler = {
      ...box,
      calls: box.calls,
      run: async (input) => {
        controller.abort();
        return box.run(input);
      },
    };
    const spy = spied(tiny);
    const { result, sink } = await run({ scale: 2, upscaler: 'box-x2' }, {}, { models: spy.models, upscaler, signal: controller.signal });
    expect(result.cancelled).toBe(true);
    expect(spy.encoderInputs).toHaveLength(0);
    expect(spy.prompts).toHaveLength(0);
    expect(sink.saved).toHaveLength(0);
  });
});

describe('refiner high_res_fix: validation', () => {
  const shape = /high_res_fix must be false or \{ scale: a number greater than 1 and at most 4, upscaler: 'latent' or an upscaler model name \}/;
  it.each([
    [{ scale: 1, upscaler: 'latent' }, /high_res_fix\.scale: high_res_fix scale must be greater than 1 and at most 4/],
    [{ scale: 4.5 }, /high_res_fix scale must be greater than 1 and at most 4/],
    [{ scale: Number.NaN }, shape],
    [{ scale: Number.POSITIVE_INFINITY }, shape],
    [{ scale: '2' }, shape],
    [{ upscaler: 'latent' }, shape],
    [true, shape],
    [{ scale: 2, upscaler: '' }, /high_res_fix upscaler must be 'latent' or an upscaler model name/],
    [{ scale: 2, upscaler: 'latent', steps: 3 }, /high_res_fix: Unrecognized key: "steps"/],
  ])('refuses %o before any model loads', async (hires, message) => {
    const { result, sink, loads } = await run(hires);
    expect(result.success).toBe(false);
    expect(result.error).toMatch(message);
    expect(loads).toHaveLength(0);
    expect(sink.saved).toHaveLength(0);
  });

  it('an unknown upscaler names the available ones, before the checkpoint loads', async () => {
    const { result, loads, sink } = await run({ scale: 2, upscaler: 'esrgan-huge' });
    expect(result.success).toBe(false);
    expect(result.error).toContain("unknown high_res_fix upscaler 'esrgan-huge'; available: 'latent', 'box-x2' (×2)");
    expect(loads).toHaveLength(0);
    expect(sink.saved).toHaveLength(0);
  });

  it('a static-shape UNet that cannot take the new size gives the fixed-size error, nothing runs', async () => {
    const img = patternImage(512, 512);
    const { result, sink, upscaler } = await run({ scale: 2, upscaler: 'box-x2' }, { model: 'static', image: img });
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/this model only makes 512×512 images \(its UNet has a fixed size\); got width 1024, height 1024/);
    expect(upscaler.calls).toHaveLength(0);
    expect(sink.saved).toHaveLength(0);
  });

  it('null and false mean off: the image keeps its size', async () => {
    for (const off of [null, false]) {
      const { result, sink } = await run(off);
      expect(result.error).toBeNull();
      expect(result.metadata.refiner.high_res_fix).toBe(false);
      expect([sink.saved[0].image.width, sink.saved[0].image.height]).toEqual([64, 64]);
    }
  });
});
