/**
 * What each stage reports about its run: the metadata a job result holds per stage and every
 * artifact carries (with its `stage` name and the `parameters` it ran with). One naming for
 * sizes everywhere: `[width, height]`.
 *
 * The schemas are loose (unknown keys are kept): records written by older builds are read with
 * them, and a newer build may add a key without breaking an older page.
 */
import { z } from 'zod';
import { DETAILER_MODES, EmphasisMode, HighResFix, INPAINT_AREAS, MASKED_CONTENTS, UpscaleFactorSchema } from './pipeline-config';

/** `[width, height]` in pixels. */
export const ImageSize = z.tuple([z.number().int().positive(), z.number().int().positive()]);
export type ImageSize = z.infer<typeof ImageSize>;

const ModelIdentity = {
  /** The registered checkpoint's name. */
  model: z.string(),
  /** A1111's short "Model hash": the first 10 hex digits of the UNet file's SHA-256. */
  model_hash: z.string().optional(),
  /** SHA-256 of each component file (role → hex). */
  model_hashes: z.record(z.string(), z.string()).optional(),
};

/** A LoRA as merged: its weights and how many of its modules found a layer. */
export const AppliedLora = z
  .object({
    name: z.string(),
    weight: z.number(),
    /** Present when the UNet's multiplier differs from the text encoder's. */
    unet_weight: z.number().optional(),
    matched: z.number(),
    total: z.number(),
    /** A1111's addnet hash (first 12 hex digits). */
    hash: z.string().optional(),
  })
  .loose();
export type AppliedLora = z.infer<typeof AppliedLora>;

/** A textual-inversion embedding a prompt used. */
export const UsedEmbedding = z.object({ name: z.string(), vectors: z.number(), hash: z.string().optional() }).loose();
export type UsedEmbedding = z.infer<typeof UsedEmbedding>;

/**
 * LoRAs and embeddings a stage ran with (absent when none): `lora_hashes` / `ti_hashes` are
 * what A1111's infotext writes as `Lora hashes` and `TI hashes`; `networks` the report lines
 * ("LoRA `x`: 192 of 192 modules"); `lora_merge_peak_bytes` the largest weight copy merging held.
 */
const ExtraNetworks = {
  loras: z.array(AppliedLora).optional(),
  lora_hashes: z.record(z.string(), z.string()).optional(),
  embeddings: z.array(UsedEmbedding).optional(),
  ti_hashes: z.record(z.string(), z.string()).optional(),
  networks: z.array(z.string()).optional(),
  lora_merge_peak_bytes: z.number().optional(),
};

export const TextToImageMetadata = z
  .object({
    stage_type: z.literal('text_to_image'),
    ...ModelIdentity,
    ...ExtraNetworks,
    prompt: z.string(),
    negative_prompt: z.string(),
    steps: z.number(),
    guidance_scale: z.number(),
    /** As run, e.g. `dpmpp_2m karras`. */
    scheduler: z.string(),
    karras: z.boolean(),
    width: z.number(),
    height: z.number(),
    seed: z.number(),
    /** A1111's variation seed and strength, when a variation was asked for. */
    subseed: z.number().optional(),
    subseed_strength: z.number().optional(),
    batch_size: z.number(),
    emphasis: EmphasisMode,
    /** 'given' when the job supplied its own noise. */
    latents: z.literal('given').optional(),
    rng: z.string(),
    timesteps: z.array(z.number()),
    prompt_chunks: z.number(),
    /** True when the prompt had to be cut to the UNet's fixed 77 tokens. */
    prompt_truncated: z.boolean(),
    output_size: ImageSize,
    ms: z.number(),
  })
  .loose();
export type TextToImageMetadata = z.infer<typeof TextToImageMetadata>;

export const RefinerMetadata = z
  .object({
    stage_type: z.literal('refiner'),
    ...ModelIdentity,
    ...ExtraNetworks,
    strength: z.number(),
    /** false, or the hires fix as run: the sizes it went `from` and `to` (`[w, h]`). */
    high_res_fix: z.union([z.literal(false), HighResFix.extend({ from: ImageSize, to: ImageSize })]),
    /** UNet steps actually run (steps × strength). */
    steps_run: z.number(),
    scheduler: z.string(),
    seed: z.number(),
    output_size: ImageSize,
    ms: z.number(),
  })
  .loose();
export type RefinerMetadata = z.infer<typeof RefinerMetadata>;

export const UpscalerMetadata = z
  .object({
    stage_type: z.literal('upscaler'),
    /** The upscaler model's id, e.g. `esrgan-slim-x4`. */
    model: z.string(),
    upscale_factor: UpscaleFactorSchema,
    input_size: ImageSize,
    output_size: ImageSize,
    tiles: z.number(),
    tile_size: z.number(),
    tile_overlap: z.number(),
    /** `wasm`, `webgpu` or `node`. */
    backend: z.string(),
    ms: z.number(),
  })
  .loose();
export type UpscalerMetadata = z.infer<typeof UpscalerMetadata>;

/** `[x0, y0, x1, y1]` in the image's pixels (x1, y1 exclusive for crops). */
const Box = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** One region the detailer redrew. */
export const DetailerRegion = z
  .object({
    /** `face`, `hand`, `mask` (a given mask) or `roi`. */
    class: z.string(),
    /** The detector's score; 1 for a given mask or roi. */
    score: z.number(),
    /** The detector's own box (or the mask's / roi's bounds). */
    box: Box,
    /** The box the mask was built from (a palm box enlarged to take in the fingers). */
    mask_box: Box.optional(),
    /** The denoising strength it was redrawn with. */
    strength: z.number(),
    /** The area cut out, resized to the model and pasted back (only_masked), or null (whole picture). */
    crop: Box.nullable(),
    /** The size the model ran at, `[w, h]`. */
    work_size: ImageSize,
  })
  .loose();
export type DetailerRegion = z.infer<typeof DetailerRegion>;

export const DetailerMetadata = z
  .object({
    stage_type: z.literal('detailer'),
    ...ModelIdentity,
    ...ExtraNetworks,
    mode: z.enum(DETAILER_MODES),
    strength: z.number(),
    regions: z.array(DetailerRegion),
    /** `[x, y, w, h]` in img2img mode. */
    roi: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional(),
    /** True when a given mask was resized (nearest) to the image. */
    mask_resized: z.boolean().optional(),
    /** Detect mode: the detectors run and what they found before filtering, e.g. "no face found". */
    detectors: z.array(z.string()).optional(),
    message: z.string().optional(),
    inpaint_area: z.enum(INPAINT_AREAS),
    masked_content: z.enum(MASKED_CONTENTS),
    mask_blur: z.number(),
    inpaint_padding: z.number(),
    /** 9 = inpainting UNet; 4 = latent blend. */
    unet_channels: z.number(),
    steps_run: z.number(),
    scheduler: z.string(),
    seed: z.number(),
    output_size: ImageSize,
    ms: z.number(),
  })
  .loose();
export type DetailerMetadata = z.infer<typeof DetailerMetadata>;

/** One stage's metadata, told apart by `stage_type`. */
export const StageMetadata = z.discriminatedUnion('stage_type', [TextToImageMetadata, RefinerMetadata, DetailerMetadata, UpscalerMetadata]);
export type StageMetadata = z.infer<typeof StageMetadata>;

/** What an artifact carries: its stage's metadata, the stage's name and the parameters it ran with. */
export type ArtifactMetadata = StageMetadata & {
  stage: string;
  parameters: Record<string, unknown>;
  /** Which image of a batch (text_to_image). */
  batch_index?: number;
  /** The whole job (pipeline and inputs, no binaries), as written into the PNG. */
  job?: unknown;
};

/**
 * A stored artifact's metadata, typed; undefined when it is not one a stage of this app wrote.
 * Refiner records from before sizes had one naming said `output_shape: [h, w, 4]`.
 */
export function readArtifactMetadata(raw: unknown): ArtifactMetadata | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  let value = raw as Record<string, unknown>;
  const shape = value.output_shape;
  if (value.output_size === undefined && Array.isArray(shape) && shape.length === 3) {
    value = { ...value, output_size: [shape[1], shape[0]] };
  }
  const parsed = StageMetadata.safeParse(value);
  if (!parsed.success) return undefined;
  return {
    ...parsed.data,
    stage: typeof value.stage === 'string' ? value.stage : parsed.data.stage_type,
    parameters: value.parameters !== null && typeof value.parameters === 'object' ? (value.parameters as Record<string, unknown>) : {},
  } as ArtifactMetadata;
}
