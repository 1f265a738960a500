import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRgbaImage, type RgbaImage } from '../../../src/pipeline/image/rgba';
import { imageToTensor, scale, SD_VAE_SCALE } from '../../../src/pipeline/diffusion/latents';
import { imageToImage, inpaint, SD_SCHEDULER_CONFIG, textToImage, type DiffusionModels } from '../../../src/pipeline/diffusion/text-to-image';
import { createScheduler, SCHEDULER_NAMES } from '../../../src/pipeline/diffusion/schedulers';
import { createRng } from '../../../src/pipeline/random';
import type { Tensor } from '../../../src/pipeline/tensor';
import type { LoadedDiffusionModel } from '../../../workers/ort/diffusion-model';
import { loadTinyModel } from '../../helpers/tiny-models';

/** Wraps a model's UNet to record what it was given (a test spy around the real port). */
function spyUnet(models: DiffusionModels) {
  const calls: Array<{ sample: Tensor; t: number; ehs: Tensor }> = [];
  const unet = {
    ...models.unet,
    inChannels: models.unet.inChannels,
    maxBatch: models.unet.maxBatch,
    sequenceLength: models.unet.sequenceLength,
    latentSize: models.unet.latentSize,
    run: (sample: Tensor, t: number, ehs: Tensor) => {
      calls.push({ sample: { data: sample.data.slice(), dims: [...sample.dims] }, t, ehs });
      return models.unet.run(sample, t, ehs);
    },
  };
  return { models: { ...models, unet }, calls };
}

function gradientImage(w: number, h: number): RgbaImage {
  const img = createRgbaImage(w, h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      img.data.set([(x * 255) / w, (y * 255) / h, 128, 255], i);
    }
  return img;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

let sd15: LoadedDiffusionModel;
beforeAll(async () => {
  sd15 = await loadTinyModel('sd15-fp32-dynamic');
});
afterAll(async () => {
  await sd15?.release();
});

const base = { prompt: 'an astronaut riding a horse', negative_prompt: 'blurry', width: 64, height: 64, seed: 7 };

describe('textToImage on tiny models (onnxruntime-web WASM)', () => {
  it('makes a [1, 3, H, W] image in [0, 1], deterministically, with progress and previews', async () => {
    const progress: Array<[number, number, boolean]> = [];
    const a = await textToImage(sd15, { ...base, steps: 4, scheduler: 'euler' }, {
      onProgress: (s, t, preview) => progress.push([s, t, preview !== undefined]),
      previewEvery: 2,
    });
    expect(a.dims).toEqual([1, 3, 64, 64]);
    expect(a.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(progress).toEqual([[1, 4, false], [2, 4, true], [3, 4, false], [4, 4, true]]);
    expect(a.info).toMatchObject({ seed: 7, scheduler: 'euler', guidance: true, promptChunks: 1, promptTruncated: false });
    const b = await textToImage(sd15, { ...base, steps: 4, scheduler: 'euler' });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it('depends on the seed, the prompt and the guidance scale', async () => {
    const ref = await textToImage(sd15, { ...base, steps: 2 });
    const seed = await textToImage(sd15, { ...base, steps: 2, seed: 8 });
    const prompt = await textToImage(sd15, { ...base, steps: 2, prompt: 'a red fox in snow' });
    const cfg = await textToImage(sd15, { ...base, steps: 2, guidance_scale: 3 });
    for (const other of [seed, prompt, cfg]) expect(maxDiff(ref.data, other.data)).toBeGreaterThan(1e-4);
  });

  it('batches uncond and cond in one UNet call and combines them with the guidance scale', async () => {
    const { models, calls } = spyUnet(sd15);
    await textToImage(models, { ...base, steps: 2 });
    expect(calls).toHaveLength(2);
    expect(calls[0].sample.dims).toEqual([2, 4, 8, 8]);
    expect(calls[0].ehs.dims).toEqual([2, 77, 768]);
    const noCfg = spyUnet(sd15);
    await textToImage(noCfg.models, { ...base, steps: 2, guidance_scale: 1 });
    expect(noCfg.calls[0].sample.dims).toEqual([1, 4, 8, 8]);
  });

  it('starts from given latents times initNoiseSigma, as diffusers does', async () => {
    const latents = createRng(99).normalTensor([1, 4, 8, 8]);
    const { models, calls } = spyUnet(sd15);
    await textToImage(models, { ...base, steps: 3, scheduler: 'ddim', latents });
    // DDIM: initNoiseSigma 1 and scaleModelInput is the identity, so the UNet sees the latents.
    expect(Array.from(calls[0].sample.data.subarray(0, 256))).toEqual(Array.from(latents.data));
    // The same latents give the same image whatever the seed says.
    const a = await textToImage(sd15, { ...base, steps: 2, latents, seed: 1 });
    const b = await textToImage(sd15, { ...base, steps: 2, latents, seed: 2 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it.each(SCHEDULER_NAMES)('runs 4 steps with %s', async (scheduler) => {
    const out = await textToImage(sd15, { ...base, steps: 4, scheduler });
    expect(out.dims).toEqual([1, 3, 64, 64]);
    expect(out.info.timesteps).toHaveLength(4);
  });

  it('uses Karras sigmas when asked', async () => {
    const plain = await textToImage(sd15, { ...base, steps: 4, scheduler: 'dpmpp_2m' });
    const karras = await textToImage(sd15, { ...base, steps: 4, scheduler: 'dpmpp_2m', karras: true });
    expect(karras.info.scheduler).toBe('dpmpp_2m karras');
    expect(karras.info.timesteps).not.toEqual(plain.info.timesteps);
  });

  it('makes a batch of 2 whose items differ', async () => {
    const out = await textToImage(sd15, { ...base, steps: 2, batch_size: 2 });
    expect(out.dims).toEqual([2, 3, 64, 64]);
    const n = 3 * 64 * 64;
    expect(maxDiff(out.data.subarray(0, n), out.data.subarray(n))).toBeGreaterThan(1e-4);
  });
});

describe('imageToImage', () => {
  it('at strength 0.5 runs half the steps from the noised image', async () => {
    const { models, calls } = spyUnet(sd15);
    const out = await imageToImage(models, { ...base, steps: 4, strength: 0.5, scheduler: 'ddim', image: gradientImage(64, 64) });
    expect(out.dims).toEqual([1, 3, 64, 64]);
    expect(calls).toHaveLength(2);
    const s = createScheduler('ddim', { ...SD_SCHEDULER_CONFIG, ...sd15.schedulerConfig });
    s.setTimesteps(4);
    expect(out.info.timesteps).toEqual(s.timesteps.slice(2));
    // The first UNet input is the image latents noised to the first kept timestep.
    const imageLatents = scale(await sd15.vaeEncoder!.run(imageToTensor(gradientImage(64, 64))), SD_VAE_SCALE);
    const noise = createRng(7).normalTensor([1, 4, 8, 8]);
    const expected = s.addNoise(imageLatents, noise, s.timesteps[2]);
    expect(maxDiff(calls[0].sample.data.subarray(0, 256), expected.data)).toBeLessThan(1e-5);
  });

  it('stays closer to the input image at low strength', async () => {
    const image = gradientImage(64, 64);
    const target = imageToTensor(image).data.map((v) => v / 2 + 0.5);
    const low = await imageToImage(sd15, { ...base, steps: 10, strength: 0.2, image });
    const high = await imageToImage(sd15, { ...base, steps: 10, strength: 1, image });
    const dist = (t: Tensor) => t.data.reduce((s, v, i) => s + Math.abs(v - target[i]), 0);
    expect(dist(low)).toBeLessThan(dist(high));
  });
});

describe('inpaint', () => {
  const mask = (() => {
    const m = createRgbaImage(64, 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) m.data.fill(x >= 32 ? 255 : 0, (y * 64 + x) * 4, (y * 64 + x) * 4 + 4);
    return m;
  })();

  it('4-channel UNet: unmasked latents equal the noised original at every step', async () => {
    const { models, calls } = spyUnet(sd15);
    const steps = 4;
    const image = gradientImage(64, 64);
    await inpaint(models, { ...base, steps, scheduler: 'ddim', guidance_scale: 1, image, mask });
    expect(calls).toHaveLength(steps);
    const imageLatents = scale(await sd15.vaeEncoder!.run(imageToTensor(image)), SD_VAE_SCALE);
    const noise = createRng(7).normalTensor([1, 4, 8, 8]);
    const s = createScheduler('ddim', { ...SD_SCHEDULER_CONFIG, ...sd15.schedulerConfig });
    s.setTimesteps(steps);
    for (let k = 1; k < steps; k++) {
      const expected = s.addNoise(imageLatents, noise, s.timesteps[k]);
      const got = calls[k].sample.data;
      let worstKnown = 0;
      let worstMasked = 0;
      for (let c = 0; c < 4; c++)
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) {
            const i = c * 64 + y * 8 + x;
            const d = Math.abs(got[i] - expected.data[i]);
            if (x < 4) worstKnown = Math.max(worstKnown, d);
            else worstMasked = Math.max(worstMasked, d);
          }
      expect(worstKnown).toBeLessThan(1e-5);
      expect(worstMasked).toBeGreaterThan(1e-3); // the masked half is generated, not copied
    }
  });

  it('9-channel inpainting UNet gets [latents, mask, masked image latents]', async () => {
    const model = await loadTinyModel('inpaint-9ch');
    try {
      const { models, calls } = spyUnet(model);
      const out = await inpaint(models, { ...base, steps: 2, image: gradientImage(64, 64), mask });
      expect(out.dims).toEqual([1, 3, 64, 64]);
      expect(calls[0].sample.dims).toEqual([2, 9, 8, 8]);
      // Channel 4 is the mask at latent size: right half 1, left half 0.
      const maskPlane = calls[0].sample.data.subarray(4 * 64, 5 * 64);
      expect(Array.from(maskPlane.subarray(0, 8))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
      await expect(textToImage(model, { ...base, steps: 2 })).rejects.toThrow(/inpainting model/);
    } finally {
      await model.release();
    }
  });
});

describe('other exports', () => {
  it('float16 static export: fixed 512×512, batch-2 UNet, first prompt chunk only', async () => {
    const model = await loadTinyModel('sd15-fp16-static77');
    try {
      const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
      const out = await textToImage(model, { ...base, prompt: long, width: 512, height: 512, steps: 2 });
      expect(out.dims).toEqual([1, 3, 512, 512]);
      expect(out.info.promptTruncated).toBe(true);
      expect(out.info.droppedTokens).toBeGreaterThan(0);
      await expect(textToImage(model, { ...base, steps: 2 })).rejects.toThrow(/only makes 512×512/);
    } finally {
      await model.release();
    }
  });

  it("reads the VAE's latent scale from vae_decoder/config.json", async () => {
    const { presetFiles } = await import('../../fixtures/tiny-diffusion/factory');
    const { loadDiffusionModel } = await import('../../../workers/ort/diffusion-model');
    const { nodeOrt } = await import('../../helpers/node-ort');
    const files = presetFiles('sd15-fp32-dynamic');
    files.set('vae_decoder/config.json', new TextEncoder().encode(JSON.stringify({ scaling_factor: 0.13025 })));
    const model = await loadDiffusionModel(nodeOrt(), async (p) => files.get(p), 'wasm');
    try {
      expect(model.family?.vaeScale).toBe(0.13025);
      expect(sd15.family?.vaeScale).toBeUndefined();
      const a = await textToImage(model, { ...base, steps: 2 });
      const b = await textToImage(sd15, { ...base, steps: 2 });
      expect(maxDiff(a.data, b.data)).toBeGreaterThan(1e-4);
    } finally {
      await model.release();
    }
  });

  it('SD-Turbo layout: 1 step, no guidance, hidden 1024 (pad 0)', async () => {
    const model = await loadTinyModel('sd-turbo');
    try {
      expect(model.hiddenSize).toBe(1024);
      expect(model.family?.padTokenId).toBe(0);
      const out = await textToImage(model, { ...base, steps: 1, guidance_scale: 0, scheduler: 'euler' });
      expect(out.dims).toEqual([1, 3, 64, 64]);
      expect(out.info.guidance).toBe(false);
    } finally {
      await model.release();
    }
  });
});

describe('bad input is refused before any model runs', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown scheduler', { scheduler: 'heun' }, /scheduler must be one of euler, euler_a, ddim, dpmpp_2m, lcm/],
    ['karras with ddim', { scheduler: 'ddim', karras: true }, /karras applies to the euler and dpmpp_2m schedulers/],
    ['steps < 1', { steps: 0 }, /steps: steps must be at least 1/],
    ['width not a multiple of 8', { width: 65 }, /width: width must be a multiple of 8/],
    ['height not a multiple of 8', { height: 100 }, /height: height must be a multiple of 8/],
    ['a whitespace prompt', { prompt: '   \n ' }, /prompt is empty/],
    ['NaN guidance', { guidance_scale: NaN }, /guidance_scale/],
    ['NaN seed', { seed: NaN }, /seed/],
    ['latents of the wrong size', { latents: { data: new Float32Array(4), dims: [1, 4, 1, 1] } }, /latents must be \[1, 4, 8, 8\]/],
    ['NaN latents', { latents: { data: new Float32Array(256).fill(NaN), dims: [1, 4, 8, 8] } }, /latents contains NaN/],
  ];
  it.each(cases)('%s', async (_label, override, message) => {
    const { models, calls } = spyUnet(sd15);
    await expect(textToImage(models, { ...base, steps: 2, ...override } as never)).rejects.toThrow(message);
    expect(calls).toHaveLength(0);
  });

  it('an invalid value for a known scheduler config key', async () => {
    const { models, calls } = spyUnet(sd15);
    await expect(
      textToImage({ ...models, schedulerConfig: { beta_schedule: 'cosine-ish' } }, { ...base, steps: 2 }),
    ).rejects.toThrow(/beta_schedule/);
    expect(calls).toHaveLength(0);
  });

  it.each([
    [1.5, /strength must be between 0 and 1/],
    [-0.1, /strength must be between 0 and 1/],
    [0.1, /steps × strength must be at least 1/],
  ])('img2img strength %s', async (strength, message) => {
    const { models, calls } = spyUnet(sd15);
    await expect(imageToImage(models, { ...base, steps: 4, strength, image: gradientImage(64, 64) })).rejects.toThrow(message);
    expect(calls).toHaveLength(0);
  });

  it('stops between steps when cancelled', async () => {
    const controller = new AbortController();
    const { models, calls } = spyUnet(sd15);
    const run = textToImage(models, { ...base, steps: 10 }, {
      signal: controller.signal,
      onProgress: (step) => {
        if (step === 2) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/cancelled/);
    expect(calls).toHaveLength(2);
  });
});

describe('applyGuidance', () => {
  it('is uncond + g·(cond − uncond) over the two halves of the batch', async () => {
    const { applyGuidance } = await import('../../../src/pipeline/diffusion/text-to-image');
    const out = applyGuidance({ data: new Float32Array([1, 2, 3, 5, 4, 0]), dims: [2, 3] }, 7.5);
    expect(out.dims).toEqual([1, 3]);
    expect(Array.from(out.data)).toEqual([1 + 7.5 * 4, 2 + 7.5 * 2, 3 + 7.5 * -3]);
  });
});
