// @vitest-environment node
/**
 * The detailer stage on tiny checkpoints (4-channel latent blend and 9-channel inpainting UNet):
 * its three modes, A1111's two inpaint areas and four kinds of masked content, and the guarantee
 * that every pixel where the (dilated, blurred) mask is 0 comes back byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeSize, fillMasked, planInpaint } from '../../src/pipeline/diffusion/inpaint-area';
import { blurMask, createMask, dilateMask, maskFromImage, type Mask } from '../../src/pipeline/image/mask';
import { createRgbaImage, type RgbaImage } from '../../src/pipeline/image/rgba';
import type { DetectorProvider, DiffusionModels, DiffusionProvider, StageServices } from '../../src/pipeline/ports';
import { palmToHand, rectMask, stepsForStrength } from '../../src/pipeline/stages/detailer';
import { Workbench } from '../../src/pipeline/workbench';
import { readArtifactMetadata, type DetailerMetadata } from '../../src/protocol/stage-results';
import { textChunks } from '../../src/media/artifact-png';
import { inpaint } from '../../src/pipeline/diffusion/text-to-image';
import { maskToRgba } from '../../src/pipeline/diffusion/inpaint-area';
import type { Tensor } from '../../src/pipeline/tensor';
import type { LoadedDiffusionModel } from '../../workers/ort/diffusion-model';
import { createMemorySink } from '../helpers/memory-sink';
import { boxDetector, detectorProvider } from '../helpers/test-detector';
import { patternImage } from '../helpers/test-upscaler';
import { loadTinyModel } from '../helpers/tiny-models';

let tiny4: LoadedDiffusionModel;
let tiny9: LoadedDiffusionModel;
let noEncoder: LoadedDiffusionModel;
beforeAll(async () => {
  tiny4 = await loadTinyModel('sd15-fp32-dynamic');
  tiny9 = await loadTinyModel('inpaint-9ch');
  noEncoder = await loadTinyModel('sd15-fp32-dynamic', { vaeEncoder: false });
});
afterAll(async () => {
  await tiny4?.release();
  await tiny9?.release();
  await noEncoder?.release();
});

const W = 64;
const H = 64;

function services(opts: { models?: () => DiffusionModels; native?: number | null; detectors?: DetectorProvider } = {}) {
  const sink = createMemorySink();
  const loads: Array<string | undefined> = [];
  const native = opts.native === undefined ? 64 : opts.native;
  const diffusion: DiffusionProvider = {
    async load(model) {
      loads.push(model);
      const models = model === 'inpaint' ? tiny9 : model === 'no-encoder' ? noEncoder : (opts.models?.() ?? tiny4);
      return {
        name: model ?? 'tiny',
        models,
        defaults: { steps: 3, guidance_scale: 7, scheduler: 'ddim', ...(native ? { width: native, height: native } : {}) },
      };
    },
  };
  const svc: StageServices = { artifacts: sink, diffusion, ...(opts.detectors ? { detectors: opts.detectors } : {}) };
  return { svc, sink, loads };
}

/** A white rectangle [x0, x1) × [y0, y1) on black: a painted mask PNG's pixels. */
function maskPng(width: number, height: number, [x0, y0, x1, y1]: [number, number, number, number]): RgbaImage {
  const img = createRgbaImage(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = x >= x0 && x < x1 && y >= y0 && y < y1 ? 255 : 0;
      img.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return img;
}

const detailer = (parameters: Record<string, unknown> = {}) =>
  new Workbench({ stages: [{ stage_type: 'detailer', parameters: { steps: 3, seed: 5, prompt: 'a face', ...parameters } }] });

/** Pixels that differ; and the ones among them where `mask` is 0 (must be none). */
function changes(before: RgbaImage, after: RgbaImage, mask: Mask) {
  let changed = 0;
  let outside = 0;
  for (let i = 0; i < mask.data.length; i++) {
    const same = [0, 1, 2, 3].every((c) => before.data[i * 4 + c] === after.data[i * 4 + c]);
    if (!same) {
      changed++;
      if (mask.data[i] === 0) outside++;
    }
  }
  return { changed, outside };
}

async function runStage(parameters: Record<string, unknown>, input: Record<string, unknown>, opts: Parameters<typeof services>[0] = {}) {
  const s = services(opts);
  const result = await detailer(parameters).execute({ image: patternImage(W, H), ...input }, 'job', s.svc);
  const meta = result.metadata.detailer as DetailerMetadata | undefined;
  return { result, meta, ...s };
}

const RECT: [number, number, number, number] = [20, 18, 40, 36];

describe('detailer: a given mask (inpainting)', () => {
  for (const model of [undefined, 'inpaint'] as const) {
    const channels = model ? 9 : 4;
    for (const area of ['whole_picture', 'only_masked'] as const) {
      it(`${channels}-channel UNet, ${area}: pixels where the blurred mask is 0 are unchanged, byte for byte`, async () => {
        const image = patternImage(W, H);
        const { result, meta, sink } = await runStage({ inpaint_area: area, ...(model ? { model } : {}) }, { mask: maskPng(W, H, RECT) });
        expect(result.error).toBeNull();
        expect(sink.saved.map((s) => s.name)).toEqual(['job/generated_detailed.png']);
        const out = sink.saved[0].image;
        expect([out.width, out.height]).toEqual([W, H]);
        expect(meta).toMatchObject({ stage_type: 'detailer', mode: 'inpainting', inpaint_area: area, unet_channels: channels, mask_resized: false, strength: 0.75 });
        expect(meta!.output_size).toEqual([W, H]);
        const blurred = blurMask(maskFromImage(maskPng(W, H, RECT), W, H).mask, 4);
        const { changed, outside } = changes(image, out, blurred);
        expect(outside).toBe(0);
        expect(changed).toBeGreaterThan(100);
        if (area === 'only_masked') {
          // Bounds of the blurred mask (10 px of blur reach) + 32 px padding, clamped: the whole 64×64.
          expect(meta!.regions[0].crop).toEqual([0, 0, 64, 64]);
          expect(meta!.regions[0].work_size).toEqual([64, 64]);
        } else {
          expect(meta!.regions[0].crop).toBeNull();
        }
      });
    }
  }

  it('only_masked on a larger image crops around the mask, redraws at the native size and pastes back', async () => {
    const image = patternImage(160, 96);
    const s = services({ native: 64 });
    const mask = maskPng(160, 96, [100, 40, 116, 56]);
    const result = await detailer({ inpaint_area: 'only_masked', inpaint_padding: 8 }).execute({ image, mask }, 'job', s.svc);
    expect(result.error).toBeNull();
    const meta = result.metadata.detailer as DetailerMetadata;
    // Blur reach 10 px + padding 8: [82, 22, 134, 74] (52×52, already square for a 64×64 model).
    expect(meta.regions[0].crop).toEqual([82, 22, 134, 74]);
    expect(meta.regions[0].work_size).toEqual([64, 64]);
    const blurred = blurMask(maskFromImage(mask, 160, 96).mask, 4);
    const { changed, outside } = changes(image, s.sink.saved[0].image, blurred);
    expect(outside).toBe(0);
    expect(changed).toBeGreaterThan(50);
  });

  it('resizes a mask of another size (nearest) and says so', async () => {
    const { result, meta } = await runStage({}, { mask: maskPng(32, 32, [10, 9, 20, 18]) });
    expect(result.error).toBeNull();
    expect(meta!.mask_resized).toBe(true);
    expect(meta!.regions[0].box).toEqual([20, 18, 40, 36]);
  });

  for (const content of ['fill', 'latent_noise', 'latent_nothing'] as const) {
    it(`masked_content ${content}: a different start, the same guarantee`, async () => {
      const image = patternImage(W, H);
      const base = await runStage({}, { mask: maskPng(W, H, RECT) });
      const other = await runStage({ masked_content: content }, { mask: maskPng(W, H, RECT) });
      expect(other.result.error).toBeNull();
      expect(other.meta!.masked_content).toBe(content);
      const a = base.sink.saved[0].image.data;
      const b = other.sink.saved[0].image.data;
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
      const blurred = blurMask(maskFromImage(maskPng(W, H, RECT), W, H).mask, 4);
      expect(changes(image, other.sink.saved[0].image, blurred).outside).toBe(0);
    });
  }

  it('inherits model, prompt and seed from the stage that made the image', async () => {
    const s = services();
    const wb = new Workbench({
      stages: [
        { stage_type: 'text_to_image', parameters: { prompt: 'a portrait', width: 64, height: 64, steps: 2, seed: 9, model: 'm1' } },
        { stage_type: 'detailer', parameters: { steps: 2 } },
      ],
    });
    const result = await wb.execute({ mask: maskPng(W, H, RECT) }, 'job', s.svc);
    expect(result.error).toBeNull();
    expect(s.loads).toEqual(['m1', 'm1']);
    expect(result.metadata.detailer).toMatchObject({ model: 'm1', seed: 9 });
    expect(s.sink.saved.map((x) => x.name)).toEqual(['job/generated.png', 'job/generated_detailed.png']);
  });
});

describe('detailer: what it records', () => {
  it('the artifact metadata reads back as DetailerMetadata; the PNG carries A1111 infotext and our JSON', async () => {
    const { sink } = await runStage({}, { mask: maskPng(W, H, RECT) });
    const written = JSON.parse(JSON.stringify(sink.saved[0].metadata));
    const read = readArtifactMetadata(written);
    expect(read).toMatchObject({ stage_type: 'detailer', stage: 'detailer', mode: 'inpainting', output_size: [64, 64] });
    const chunks = textChunks(read!);
    expect(chunks.map((c) => c.keyword)).toEqual(['parameters', 'media-lab']);
    // A painted mask is A1111 inpainting, not ADetailer's work.
    expect(chunks[0].text).toMatch(/Denoising strength: 0\.75/);
    expect(chunks[0].text).toMatch(/Mask blur: 4/);
    expect(chunks[0].text).not.toMatch(/ADetailer/);
  });
});

describe('inpaint: latent noise / latent nothing (A1111 inpainting_fill 2 / 3)', () => {
  /** The first UNet input's latent channels, for a run with the given latentFill. */
  async function firstSample(latentFill?: 'noise' | 'nothing'): Promise<Tensor> {
    let first: Tensor | null = null;
    const unet = {
      ...tiny4.unet,
      inChannels: tiny4.unet.inChannels,
      maxBatch: tiny4.unet.maxBatch,
      sequenceLength: tiny4.unet.sequenceLength,
      latentSize: tiny4.unet.latentSize,
      run: (sample: Tensor, t: number, ehs: Tensor) => {
        first ??= { data: sample.data.slice(), dims: [...sample.dims] };
        return tiny4.unet.run(sample, t, ehs);
      },
    };
    const mask = createMask(W, H);
    for (let y = 0; y < 32; y++) mask.data.fill(255, y * W, y * W + W); // top half
    await inpaint(
      { ...tiny4, unet },
      { prompt: 'x', steps: 4, strength: 0.5, guidance_scale: 1, scheduler: 'ddim', width: W, height: H, seed: 1, image: patternImage(W, H), mask: maskToRgba(mask), ...(latentFill ? { latentFill } : {}) },
    );
    return first!;
  }

  it('only the masked latents start differently; nothing = the noise alone there', async () => {
    const original = await firstSample();
    const nothing = await firstSample('nothing');
    const noise = await firstSample('noise');
    const plane = 8 * 8;
    for (let i = 0; i < original.data.length; i++) {
      const masked = i % plane < plane / 2; // latent rows 0–3 of 8
      if (masked) {
        expect(nothing.data[i]).not.toBe(original.data[i]);
        expect(noise.data[i]).not.toBe(original.data[i]);
      } else {
        expect(nothing.data[i]).toBe(original.data[i]);
        expect(noise.data[i]).toBe(original.data[i]);
      }
    }
  });
});

describe('detailer: a roi (img2img of the region, composited back)', () => {
  it('redraws the roi and nothing beyond its blur', async () => {
    const image = patternImage(W, H);
    const { result, meta, sink } = await runStage({ roi: [16, 16, 24, 24] }, {});
    expect(result.error).toBeNull();
    expect(meta).toMatchObject({ mode: 'img2img', roi: [16, 16, 24, 24], inpaint_area: 'only_masked' });
    const blurred = blurMask(rectMask(W, H, [16, 16, 40, 40]), 4);
    const { changed, outside } = changes(image, sink.saved[0].image, blurred);
    expect(outside).toBe(0);
    expect(changed).toBeGreaterThan(100);
  });

  it("roi_mode 'center' takes the centred center_crop_ratio", async () => {
    const { result, meta } = await runStage({ roi_mode: 'center', center_crop_ratio: 0.5 }, {});
    expect(result.error).toBeNull();
    expect(meta!.roi).toEqual([16, 16, 32, 32]);
  });
});

describe('detailer: detected regions', () => {
  it('redraws the detected face with face_strength; only inside the dilated, blurred box', async () => {
    const image = patternImage(W, H);
    const face = boxDetector(image, [{ box: [22, 20, 42, 44], score: 0.9 }]);
    const detectors = detectorProvider({ face: [face] });
    const { result, meta, sink } = await runStage({}, {}, { detectors });
    expect(result.error).toBeNull();
    expect(detectors.asked).toEqual(['face']);
    expect(meta).toMatchObject({ mode: 'detect', inpaint_area: 'only_masked', detectors: ['test-detector'] });
    expect(meta!.regions).toHaveLength(1);
    expect(meta!.regions[0]).toMatchObject({ class: 'face', strength: 0.4 });
    expect(meta!.regions[0].score).toBeCloseTo(0.9, 5);
    meta!.regions[0].box.forEach((v, i) => expect(v).toBeCloseTo([22, 20, 42, 44][i], 3));
    const mask = blurMask(dilateMask(rectMask(W, H, [22, 20, 42, 44]), 4), 4);
    const { changed, outside } = changes(image, sink.saved[0].image, mask);
    expect(outside).toBe(0);
    expect(changed).toBeGreaterThan(100);
  });

  it('no detection: the image comes back unchanged, "no face found", no model loaded', async () => {
    const image = patternImage(W, H);
    const detectors = detectorProvider({ face: [boxDetector(image, [])] });
    const { result, meta, sink, loads } = await runStage({}, {}, { detectors });
    expect(result.error).toBeNull();
    expect(loads).toEqual([]);
    expect(meta).toMatchObject({ mode: 'detect', message: 'no face found', regions: [] });
    expect(Buffer.from(sink.saved[0].image.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('largest first, up to max_regions; boxes under 8 px are skipped', async () => {
    const image = patternImage(W, H);
    const face = boxDetector(image, [
      { box: [2, 2, 14, 14], score: 0.95 },
      { box: [30, 30, 60, 60], score: 0.6 },
      { box: [40, 2, 45, 6], score: 0.99 },
    ]);
    const { result, meta } = await runStage({ max_regions: 1 }, {}, { detectors: detectorProvider({ face: [face] }) });
    expect(result.error).toBeNull();
    expect(meta!.regions).toHaveLength(1);
    expect(meta!.regions[0].box[0]).toBeCloseTo(30, 3);
  });

  it('hands: hand_strength, the palm box enlarged to take in the fingers', async () => {
    const image = patternImage(W, H);
    const hand = boxDetector(image, [{ box: [24, 24, 34, 34], score: 0.8 }], { id: 'palm', classes: ['hand'] });
    const detectors = detectorProvider({ hand: [hand] });
    const { result, meta } = await runStage({ targets: ['hand'], hand_strength: 0.3, steps: 4 }, {}, { detectors });
    expect(result.error).toBeNull();
    expect(meta!.regions[0]).toMatchObject({ class: 'hand', strength: 0.3 });
    // No keypoints from this detector: 2.6 × the 10 px side about the centre (29, 29).
    meta!.regions[0].mask_box!.forEach((v, i) => expect(v).toBeCloseTo([16, 16, 42, 42][i], 3));
  });

  it('palmToHand: 2.6 × the long side, shifted half a side from the wrist towards the knuckles', () => {
    // Palm 20×20 at (40..60, 40..60); wrist below (y 60), middle knuckle above (y 40): fingers point up.
    const box = palmToHand({ box: [40, 40, 60, 60], keypoints: [[50, 60], [45, 45], [50, 40]] }, 200, 200);
    expect(box).toEqual([24, 14, 76, 66]);
    // Clamped to the image.
    expect(palmToHand({ box: [0, 0, 10, 10] }, 100, 100)).toEqual([0, 0, 18, 18]);
  });
});

describe('detailer: bad input', () => {
  it('a mask with nothing painted: nothing to redraw', async () => {
    const { result, loads } = await runStage({}, { mask: maskPng(W, H, [0, 0, 0, 0]) });
    expect(result.error).toMatch(/nothing to redraw/);
    expect(loads).toEqual([]);
  });

  it('a roi outside the image', async () => {
    const { result } = await runStage({ roi: [40, 40, 32, 32] }, {});
    expect(result.error).toMatch(/roi \[40, 40, 32, 32\] reaches outside the 64×64 image/);
  });

  it('a region smaller than 8 px', async () => {
    const { result } = await runStage({ roi: [10, 10, 4, 20] }, {});
    expect(result.error).toMatch(/smaller than 8 px/);
  });

  it('a checkpoint without a VAE encoder', async () => {
    const { result } = await runStage({ model: 'no-encoder' }, { mask: maskPng(W, H, RECT) });
    expect(result.error).toMatch(/no VAE encoder/);
  });

  it('detection without detectors', async () => {
    const { result } = await runStage({}, {});
    expect(result.error).toMatch(/no face or hand detectors/);
  });

  it('whole_picture on a size that is not a multiple of 8', async () => {
    const s = services();
    const result = await detailer({}).execute({ image: patternImage(60, 64), mask: maskPng(60, 64, RECT) }, 'job', s.svc);
    expect(result.error).toMatch(/multiples of 8/);
  });

  it('whole_picture on an image wider than the loop takes: says to use only_masked, loads nothing', async () => {
    const s = services();
    const wide = patternImage(4104, 8);
    const result = await detailer({}).execute({ image: wide, mask: maskPng(4104, 8, [0, 0, 16, 8]) }, 'job', s.svc);
    expect(result.error).toMatch(/sides from 64 to 4096 px .*only_masked/);
    expect(s.loads).toEqual([]);
  });

  it('parameters out of range name the key', () => {
    expect(() => detailer({ masked_content: 'blur', face_strength: 2 })).toThrow(
      /face_strength must be between 0 and 1.*masked_content must be one of original, fill, latent_noise, latent_nothing/,
    );
    expect(() => detailer({ roi: [0, 0, -4, 8] })).toThrow(/roi must be \[x, y, width, height\]/);
    expect(() => detailer({ targets: ['feet'] })).toThrow(/targets must be one of face, hand/);
  });
});

describe('detailer: low strength on few steps', () => {
  it('stepsForStrength: the fewest steps that run one (A1111 runs at least one; the loop refuses none)', () => {
    expect(stepsForStrength(1, 0.4)).toBe(3);
    expect(stepsForStrength(20, 0.4)).toBe(20);
    expect(stepsForStrength(1, 1)).toBe(1);
    expect(stepsForStrength(2, 0.3)).toBe(4);
    for (const strength of [0.05, 0.1, 0.33, 0.7]) expect(Math.trunc(stepsForStrength(1, strength) * strength)).toBe(1);
  });

  it('a 1-step checkpoint at strength 0.4 redraws with one step instead of failing', async () => {
    const { result, meta } = await runStage({ steps: 1, strength: 0.4 }, { mask: maskPng(W, H, RECT) });
    expect(result.error).toBeNull();
    expect(meta!.steps_run).toBe(1);
  });

  it('strength 0 redraws nothing: the image comes back as it was', async () => {
    const { result, meta, sink } = await runStage({ strength: 0 }, { mask: maskPng(W, H, RECT) });
    expect(result.error).toBeNull();
    expect(meta!.steps_run).toBe(0);
    expect(Buffer.from(sink.saved[0].image.data).equals(Buffer.from(patternImage(W, H).data))).toBe(true);
  });
});

describe('inpaint-area helpers', () => {
  it('fillMasked: masked pixels take the unmasked colours around them; unmasked ones are kept', () => {
    const img = createRgbaImage(32, 8);
    for (let i = 0; i < 32 * 8; i++) img.data.set(i % 32 < 16 ? [200, 10, 10, 255] : [10, 10, 200, 255], i * 4);
    const mask = createMask(32, 8);
    for (let i = 0; i < mask.data.length; i++) mask.data[i] = i % 32 >= 16 ? 255 : 0;
    const out = fillMasked(img, mask);
    for (let i = 0; i < 32 * 8; i++) {
      if (i % 32 < 16) expect([...out.data.subarray(i * 4, i * 4 + 4)]).toEqual([200, 10, 10, 255]);
      else expect(out.data[i * 4]).toBeGreaterThan(150);
    }
  });

  it('nativeSize: the fixed UNet size, the handle default, else 512 (SD 1.x) / 768 (SD 2.x)', () => {
    const models = (hidden: number, latent: [number, number] | null, spacing?: string) =>
      ({
        unet: { latentSize: latent },
        textEncoder: { hiddenSize: hidden },
        family: spacing ? { schedulerConfig: { timestep_spacing: spacing } } : undefined,
      }) as unknown as DiffusionModels;
    const defaults = { steps: 1, guidance_scale: 1, scheduler: 'euler' };
    expect(nativeSize({ models: models(768, [64, 48]), defaults })).toEqual([384, 512]);
    expect(nativeSize({ models: models(768, null), defaults: { ...defaults, width: 320, height: 256 } })).toEqual([320, 256]);
    expect(nativeSize({ models: models(768, null), defaults })).toEqual([512, 512]);
    expect(nativeSize({ models: models(1024, null), defaults })).toEqual([768, 768]);
    expect(nativeSize({ models: models(1024, null, 'trailing'), defaults })).toEqual([512, 512]);
  });

  it('planInpaint: null when nothing is painted', () => {
    const opts = { maskBlur: 4, area: 'only_masked' as const, padding: 32, maskedContent: 'original' as const, nativeSize: [64, 64] as const };
    expect(planInpaint(patternImage(16, 16), createMask(16, 16), opts)).toBeNull();
  });
});
