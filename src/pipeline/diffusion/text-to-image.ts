/**
 * The denoising loop: text-to-image, img2img and inpainting on Stable Diffusion components
 * reached through ports. The steps follow diffusers' pipelines, numbered as there:
 *   1. check inputs  2. encode the prompt  3. timesteps  4. initial latents
 *   5. denoise (classifier-free guidance, inpainting)  6. decode with the VAE.
 */
import { z } from 'zod';
import {
  BatchSize,
  DEFAULTS,
  EmphasisMode,
  formatZodError,
  GuidanceScale,
  Scheduler as SchedulerField,
  Seed,
  side,
  Steps,
  Strength,
  SubseedStrength,
} from '../../protocol/pipeline-config';
import { checkpoint } from '../cancellation';
import type { RgbaImage } from '../image/rgba';
import type { DiffusionModels, UNetPort } from '../ports';
import { createRng, RNG_ALGORITHM, type NoiseSource } from '../random';
import type { Tensor } from '../tensor';
import { buildConditioningPair, type Conditioning } from './prompt/conditioning';
import { createScheduler, img2imgTimesteps, type Scheduler } from './schedulers';
import {
  assertFinite,
  concatBatch,
  concatChannels,
  denormalize,
  imageToTensor,
  latentPreview,
  maskedImage,
  maskToTensor,
  repeatBatch,
  scale,
  SD_VAE_SCALE,
  sliceBatch,
} from './latents';

/** Stable Diffusion's training schedule: used when a model folder has no scheduler config. */
export const SD_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
};

// The models the loop runs are port aggregates, defined with the ports; re-exported for old importers.
export type { DiffusionModels, FamilyDefaults } from '../ports';

/** The loop's own parameters: the protocol's fields and limits, with the loop's defaults. */
export const TextToImageParams = z.object({
  prompt: z.string({ error: 'prompt must be text' }),
  negative_prompt: z.string().default(''),
  steps: Steps.default(DEFAULTS.steps),
  guidance_scale: GuidanceScale.default(DEFAULTS.guidance_scale),
  scheduler: SchedulerField.default(DEFAULTS.scheduler),
  karras: z.boolean().default(false),
  width: side('width').default(DEFAULTS.side),
  height: side('height').default(DEFAULTS.side),
  seed: Seed.default(DEFAULTS.seed),
  batch_size: BatchSize.default(DEFAULTS.batch_size),
  emphasis: EmphasisMode.default(DEFAULTS.emphasis),
  subseed: Seed.optional(),
  subseed_strength: SubseedStrength.default(0),
});
export type TextToImageParams = z.input<typeof TextToImageParams> & { latents?: Tensor };

export const ImageToImageParams = TextToImageParams.extend({
  /** diffusers' img2img default; the refiner stage passes its own (DEFAULTS.refiner_strength). */
  strength: Strength.default(0.75),
});
export type ImageToImageParams = z.input<typeof ImageToImageParams> & { latents?: Tensor } & (
    | { image: RgbaImage; imageLatents?: undefined }
    /** The start image already in latent space (VAE-encoded and scaled), e.g. upscaled for a hires fix. */
    | { image?: undefined; imageLatents: Tensor }
  );
export type InpaintParams = z.input<typeof TextToImageParams> & {
  image: RgbaImage;
  mask: RgbaImage;
  strength?: number;
  latents?: Tensor;
  /**
   * A1111's "latent noise" / "latent nothing" masked content: the image latents under the mask
   * are replaced by fresh noise (drawn from the seed after the start noise) or by zeros before
   * noising (processing.py, StableDiffusionProcessingImg2Img.init, inpainting_fill 2 / 3).
   */
  latentFill?: 'noise' | 'nothing';
};

export interface RunOptions {
  /** `preview` comes every `previewEvery` steps and at the last step. */
  onProgress?: (step: number, total: number, preview?: RgbaImage) => void;
  signal?: AbortSignal;
  previewEvery?: number;
}

/** The decoded images `[b, 3, H, W]` in [0, 1], with what was decided along the way. */
export interface DiffusionResult extends Tensor {
  info: {
    seed: number;
    /** Each image's own seed: seed + its index in the batch. */
    seeds: number[];
    rng: string;
    scheduler: string;
    timesteps: number[];
    promptChunks: number;
    /** True when the prompt had to be cut to the UNet's fixed 77 tokens. */
    promptTruncated: boolean;
    droppedTokens: number;
    guidance: boolean;
  };
}

type Mode =
  | { kind: 'txt2img' }
  | { kind: 'img2img'; image: RgbaImage; strength: number }
  | { kind: 'img2img'; imageLatents: Tensor; strength: number }
  | { kind: 'inpaint'; image: RgbaImage; mask: RgbaImage; strength: number; latentFill?: 'noise' | 'nothing' };

export async function textToImage(models: DiffusionModels, params: TextToImageParams, options: RunOptions = {}): Promise<DiffusionResult> {
  return run(models, params, { kind: 'txt2img' }, options);
}

export async function imageToImage(models: DiffusionModels, params: ImageToImageParams, options: RunOptions = {}): Promise<DiffusionResult> {
  const strength = parse(ImageToImageParams.pick({ strength: true }), params).strength;
  const mode: Mode = params.imageLatents
    ? { kind: 'img2img', imageLatents: params.imageLatents, strength }
    : { kind: 'img2img', image: params.image!, strength };
  return run(models, params, mode, options);
}

/** The image's VAE latents times the model's latent scale: what img2img starts from. */
export async function encodeImageLatents(models: DiffusionModels, image: RgbaImage): Promise<Tensor> {
  if (!models.vaeEncoder) throw new Error('this model has no VAE encoder, so it cannot start from an image');
  return scale(await models.vaeEncoder.run(imageToTensor(image)), models.family?.vaeScale ?? SD_VAE_SCALE);
}

/** The existing "fixed size" error when a static-shape UNet cannot make `width`×`height`. */
export function checkUnetSize(unet: UNetPort, width: number, height: number): void {
  if (unet.latentSize && (unet.latentSize[0] !== height / 8 || unet.latentSize[1] !== width / 8)) {
    throw new Error(
      `this model only makes ${unet.latentSize[1] * 8}×${unet.latentSize[0] * 8} images (its UNet has a fixed size); got width ${width}, height ${height}`,
    );
  }
}

export async function inpaint(models: DiffusionModels, params: InpaintParams, options: RunOptions = {}): Promise<DiffusionResult> {
  const strength = parse(ImageToImageParams.pick({ strength: true }), { strength: params.strength ?? 1 }).strength;
  return run(models, params, { kind: 'inpaint', image: params.image, mask: params.mask, strength, latentFill: params.latentFill }, options);
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(formatZodError(result.error));
  return result.data;
}

async function run(models: DiffusionModels, raw: TextToImageParams, mode: Mode, options: RunOptions): Promise<DiffusionResult> {
  // 1. Check everything before any model runs.
  const p = parse(TextToImageParams, raw);
  // Starting from an image, an empty prompt is a valid (unconditional) refinement.
  if (mode.kind === 'txt2img' && p.prompt.trim() === '') throw new Error('prompt is empty: describe the image to make');
  const { unet } = models;
  const h = p.height / 8;
  const w = p.width / 8;
  checkUnetSize(unet, p.width, p.height);
  const inpainting9 = unet.inChannels === 9;
  if (inpainting9 && mode.kind !== 'inpaint') throw new Error('this is an inpainting model (9-channel UNet): it needs an image and a mask');
  if (mode.kind === 'img2img' && 'imageLatents' in mode) {
    const want = [1, 4, h, w];
    if (mode.imageLatents.dims.length !== 4 || mode.imageLatents.dims.some((d, i) => d !== want[i])) {
      throw new Error(`image latents must be [${want.join(', ')}] for ${p.width}×${p.height}, got [${mode.imageLatents.dims.join(', ')}]`);
    }
    assertFinite(mode.imageLatents, 'image latents');
  } else if (mode.kind !== 'txt2img') {
    if (!models.vaeEncoder) throw new Error('this model has no VAE encoder, so it cannot start from an image');
    if (mode.image.width !== p.width || mode.image.height !== p.height) {
      throw new Error(`the input image is ${mode.image.width}×${mode.image.height}; width and height say ${p.width}×${p.height}`);
    }
  }
  if (mode.kind === 'inpaint' && (mode.mask.width !== p.width || mode.mask.height !== p.height)) {
    throw new Error(`the mask is ${mode.mask.width}×${mode.mask.height}; the image is ${p.width}×${p.height}`);
  }
  const latentDims = [p.batch_size, 4, h, w];
  if (raw.latents) {
    if (raw.latents.dims.length !== 4 || raw.latents.dims.some((d, i) => d !== latentDims[i])) {
      throw new Error(`latents must be [${latentDims.join(', ')}] for this size and batch, got [${raw.latents.dims.join(', ')}]`);
    }
    assertFinite(raw.latents, 'latents');
  }
  if (p.karras && p.scheduler !== 'euler' && p.scheduler !== 'dpmpp_2m') {
    throw new Error(`karras applies to the euler and dpmpp_2m schedulers, not ${p.scheduler}`);
  }
  const scheduler = createScheduler(p.scheduler, {
    ...SD_SCHEDULER_CONFIG,
    ...(models.family?.schedulerConfig ?? {}),
    ...(models.schedulerConfig ?? {}),
    ...(p.karras ? { use_karras_sigmas: true } : {}),
  });
  let timesteps: number[];
  if (mode.kind === 'txt2img' || (mode.kind === 'inpaint' && mode.strength >= 1)) {
    scheduler.setTimesteps(p.steps);
    timesteps = [...scheduler.timesteps];
  } else {
    timesteps = img2imgTimesteps(scheduler, p.steps, mode.strength);
  }
  const vaeScale = models.family?.vaeScale ?? SD_VAE_SCALE;
  // A1111's batch rule: image i is seed + i with noise of its own (start noise, fill noise and
  // each ancestral step's noise), so any image of a batch is reproduced alone at batch 1.
  const seeds = Array.from({ length: p.batch_size }, (_, i) => p.seed + i);
  const rng = batchNoise(seeds.map((seed) => createRng(seed)));
  const guidance = p.guidance_scale > 1;

  // 2. Prompt → conditioning; a UNet with a fixed 77-token sequence takes one chunk.
  const maxChunks = unet.sequenceLength === 77 ? 1 : undefined;
  const cond = await buildConditioningPair(p.prompt, p.negative_prompt, {
    tokenizer: models.tokenizer,
    textEncoder: models.textEncoder,
    emphasis: p.emphasis,
    padTokenId: models.family?.padTokenId,
    maxChunks,
  });
  const embeddings = guidance
    ? concatBatch([repeatBatch(cond.negative.embeddings, p.batch_size), repeatBatch(cond.positive.embeddings, p.batch_size)])
    : repeatBatch(cond.positive.embeddings, p.batch_size);

  // 3–4. Initial latents (noise first, then image latents: the order fixes what a seed gives).
  let noise = raw.latents ?? rng.normalTensor(latentDims);
  if (!raw.latents && p.subseed !== undefined && p.subseed_strength > 0) {
    // The variation: drawn from its own generators, so the seed's later draws stay as they were.
    const variation = batchNoise(seeds.map((_, i) => createRng(p.subseed! + i))).normalTensor(latentDims);
    noise = p.subseed_strength >= 1 ? variation : slerpPerImage(p.subseed_strength, noise, variation);
  }
  let latents: Tensor;
  let imageLatents: Tensor | null = null;
  let mask: Tensor | null = null;
  let maskedLatents: Tensor | null = null;
  if (mode.kind === 'img2img' && 'imageLatents' in mode) {
    imageLatents = repeatBatch(mode.imageLatents, p.batch_size);
  } else if (mode.kind !== 'txt2img') {
    const imageTensor = imageToTensor(mode.image);
    imageLatents = repeatBatch(scale(await models.vaeEncoder!.run(imageTensor), vaeScale), p.batch_size);
    if (mode.kind === 'inpaint') {
      mask = maskToTensor(mode.mask, w, h);
      if (inpainting9) {
        const pixelMask = maskToTensor(mode.mask, p.width, p.height);
        maskedLatents = repeatBatch(scale(await models.vaeEncoder!.run(maskedImage(imageTensor, pixelMask)), vaeScale), p.batch_size);
      }
      if (mode.latentFill) imageLatents = fillMaskedLatents(imageLatents, mask, mode.latentFill === 'noise' ? rng.normalTensor(latentDims) : null);
    }
  }
  const fullStrength = mode.kind === 'txt2img' || (mode.kind === 'inpaint' && mode.strength >= 1);
  latents = fullStrength ? scale(noise, scheduler.initNoiseSigma) : scheduler.addNoise(imageLatents!, noise, timesteps[0]);

  // 5. Denoise. The conditioning is the same object at every step (ports may keep it uploaded).
  const embeddingParts = new Map<string, Tensor>();
  const total = timesteps.length;
  const previewEvery = Math.max(1, options.previewEvery ?? 5);
  for (let i = 0; i < total; i++) {
    await checkpoint(options.signal);
    const t = timesteps[i];
    const modelInput = guidance ? concatBatch([latents, latents]) : latents;
    let unetInput = scheduler.scaleModelInput(modelInput, t);
    if (inpainting9) {
      const copies = guidance ? 2 : 1;
      unetInput = concatChannels([
        unetInput,
        repeatBatch(mask!, p.batch_size * copies),
        guidance ? concatBatch([maskedLatents!, maskedLatents!]) : maskedLatents!,
      ]);
    }
    const prediction = await runUnet(unet, unetInput, t, embeddings, embeddingParts);
    assertUnetOutput(prediction, t);
    const noisePred = guidance ? applyGuidance(prediction, p.guidance_scale) : prediction;
    latents = scheduler.step(noisePred, t, latents, rng).prevSample;
    if (mode.kind === 'inpaint' && !inpainting9) {
      // Keep the unmasked region on the original image, noised to the next step's level.
      const known = i < total - 1 ? scheduler.addNoise(imageLatents!, noise, timesteps[i + 1]) : imageLatents!;
      latents = blend(known, latents, mask!);
    }
    const last = i === total - 1;
    options.onProgress?.(i + 1, total, (i + 1) % previewEvery === 0 || last ? latentPreview(latents) : undefined);
  }

  // 6. Decode, one image at a time (many exports fix the VAE batch at 1).
  await checkpoint(options.signal);
  const decoded: Tensor[] = [];
  for (let b = 0; b < p.batch_size; b++) {
    const out = await models.vaeDecoder.run(scale(sliceBatch(latents, b, b + 1), 1 / vaeScale));
    decoded.push(denormalize(out));
  }
  const images = concatBatch(decoded);
  return {
    ...images,
    info: {
      seed: p.seed,
      seeds,
      rng: RNG_ALGORITHM,
      scheduler: describeScheduler(scheduler),
      timesteps,
      promptChunks: cond.positive.chunks,
      promptTruncated: cond.positive.truncated || cond.negative.truncated,
      droppedTokens: cond.positive.droppedTokens + cond.negative.droppedTokens,
      guidance,
    },
  };
}

/**
 * Spherical interpolation from `a` to `b` by `t`, each image of the batch as one vector (A1111's
 * variation seed; it falls back to a straight line when the two are nearly parallel, as A1111).
 */
export function slerpPerImage(t: number, a: Tensor, b: Tensor): Tensor {
  const batch = a.dims[0];
  const per = a.data.length / batch;
  const out = new Float32Array(a.data.length);
  for (let n = 0; n < batch; n++) {
    const x = a.data.subarray(n * per, (n + 1) * per);
    const y = b.data.subarray(n * per, (n + 1) * per);
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let i = 0; i < per; i++) {
      xx += x[i]! * x[i]!;
      yy += y[i]! * y[i]!;
      xy += x[i]! * y[i]!;
    }
    const dot = xy / Math.sqrt(xx * yy);
    const o = out.subarray(n * per, (n + 1) * per);
    if (!(Math.abs(dot) < 0.9995)) {
      for (let i = 0; i < per; i++) o[i] = (1 - t) * x[i]! + t * y[i]!;
      continue;
    }
    const omega = Math.acos(dot);
    const so = Math.sin(omega);
    const wa = Math.sin((1 - t) * omega) / so;
    const wb = Math.sin(t * omega) / so;
    for (let i = 0; i < per; i++) o[i] = wa * x[i]! + wb * y[i]!;
  }
  return { data: out, dims: a.dims };
}

/**
 * Noise for a batch drawn image by image, each from its own generator: a `[batch, …]` tensor is
 * the images' slices stacked; any other shape (none is drawn today) comes from the first.
 */
function batchNoise(rngs: NoiseSource[]): NoiseSource {
  if (rngs.length === 1) return rngs[0];
  return {
    normalTensor(dims) {
      if (dims[0] !== rngs.length) return rngs[0].normalTensor(dims);
      return concatBatch(rngs.map((r) => r.normalTensor([1, ...dims.slice(1)])));
    },
  };
}

/**
 * Runs the UNet on the whole batch if it accepts it, else in pieces it does accept; the pieces of
 * the conditioning are made once per job (`parts`) so every step passes the same objects.
 */
async function runUnet(unet: UNetPort, sample: Tensor, t: number, embeddings: Tensor, parts: Map<string, Tensor>): Promise<Tensor> {
  const batch = sample.dims[0];
  const step = unet.maxBatch ?? batch;
  if (step >= batch && (unet.maxBatch === null || unet.maxBatch === batch)) return unet.run(sample, t, embeddings);
  const out: Tensor[] = [];
  for (let i = 0; i < batch; i += step) {
    const end = Math.min(batch, i + step);
    if (end - i !== step && unet.maxBatch !== null) {
      throw new Error(`the UNet takes batches of exactly ${unet.maxBatch}; cannot run ${end - i}`);
    }
    const key = `${i}:${end}`;
    if (!parts.has(key)) parts.set(key, sliceBatch(embeddings, i, end));
    out.push(await unet.run(sliceBatch(sample, i, end), t, parts.get(key)!));
  }
  return concatBatch(out);
}

function assertUnetOutput(prediction: Tensor, t: number): void {
  for (let i = 0; i < prediction.data.length; i++) {
    if (!Number.isFinite(prediction.data[i])) {
      throw new Error(
        `the UNet produced ${Number.isNaN(prediction.data[i]) ? 'NaN' : 'infinite'} values at timestep ${t}: ` +
          'the model may overflow in float16 on this backend; try a float32 model or the WASM backend',
      );
    }
  }
}

/** Classifier-free guidance: `uncond + g·(cond − uncond)`; the batch is [uncond…, cond…]. */
export function applyGuidance(prediction: Tensor, g: number): Tensor {
  const half = prediction.dims[0] / 2;
  const size = prediction.data.length / 2;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = prediction.data[i];
    out[i] = u + g * (prediction.data[size + i] - u);
  }
  return { data: out, dims: [half, ...prediction.dims.slice(1)] };
}

/** The latents under the mask (≥ 0.5) replaced by `fill` (same dims), or by zeros when null. */
function fillMaskedLatents(latents: Tensor, mask: Tensor, fill: Tensor | null): Tensor {
  const plane = mask.data.length;
  const out = new Float32Array(latents.data.length);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i % plane] >= 0.5 ? (fill ? fill.data[i] : 0) : latents.data[i];
  return { data: out, dims: latents.dims };
}

/** `(1 − mask)·known + mask·generated`, the mask broadcast over batch and channels. */
function blend(known: Tensor, generated: Tensor, mask: Tensor): Tensor {
  const plane = mask.data.length;
  const out = new Float32Array(generated.data.length);
  for (let i = 0; i < out.length; i++) {
    const m = mask.data[i % plane];
    out[i] = (1 - m) * known.data[i] + m * generated.data[i];
  }
  return { data: out, dims: generated.dims };
}

function describeScheduler(s: Scheduler): string {
  const karras = s.config.use_karras_sigmas ? ' karras' : '';
  return `${s.name}${karras}`;
}

export type { Conditioning };
