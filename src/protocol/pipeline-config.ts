/**
 * The pipeline config every job runs (DESIGN.md §2, snake_case as in the seed), with every stage's
 * parameter schema and every limit and enum those parameters have. One definition of each: the
 * Generate form, the PNG/config loader, the stages and the denoising loop all import them from
 * here, so a value one of them accepts is a value all of them accept.
 *
 * ```json
 * {"stages": [{"stage_type": "upscaler", "name": "up", "parameters": {"upscale_factor": 4}}], "parameters": {}}
 * ```
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Limits and enums

/** Inclusive bounds. Sides are also multiples of `side.multiple` (the VAE's 8× downscale). */
export const LIMITS = {
  steps: { min: 1, max: 1000 },
  guidance_scale: { min: 0, max: 30 },
  side: { min: 64, max: 4096, multiple: 8 },
  batch_size: { min: 1, max: 16 },
  /** ComfyUI seeds reach 2^50 and beyond; JSON numbers are exact up to 2^53 − 1. */
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER },
  strength: { min: 0, max: 1 },
  /** Hires fix: more than `above`, at most `max`. */
  high_res_scale: { above: 1, max: 4 },
  tile_size: { min: 16, max: 4096 },
  tile_overlap: { min: 0, max: 512 },
  /** Detailer: a detection's score, after the sigmoid. */
  confidence: { min: 0, max: 1 },
  /** Detailer: ADetailer's "dilate erode" in px (negative erodes). */
  dilate: { min: -128, max: 128 },
  /** A1111's mask blur (a Gaussian's sigma in px). */
  mask_blur: { min: 0, max: 64 },
  /** A1111's "only masked padding, pixels". */
  inpaint_padding: { min: 0, max: 256 },
  /** Detailer: most detected regions redrawn, largest first. */
  max_regions: { min: 1, max: 64 },
  /** The seed's centre-crop heuristic: the share of each side kept. */
  center_crop_ratio: { above: 0, max: 1 },
  /** Smallest region (roi side, detected box side) the detailer redraws, in px. */
  region_side: { min: 8 },
  /** A LoRA's multiplier (A1111 allows any; past ±10 a LoRA only makes noise). */
  lora_weight: { min: -10, max: 10 },
  /** LoRAs one stage merges (tags and the `loras` parameter together). */
  loras: { max: 32 },
} as const;

export const UPSCALE_FACTORS = [2, 3, 4, 8] as const;
export type UpscaleFactor = (typeof UPSCALE_FACTORS)[number];

/** Largest image an upscale may produce: the RGBA result plus a float accumulator must fit in memory. */
export const MAX_OUTPUT_PIXELS = 8192 * 4096;

export const SCHEDULER_NAMES = ['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'lcm'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];
/** Used when neither the job nor the model's family names one. */
export const DEFAULT_SCHEDULER: SchedulerName = 'euler';

/** The samplers a Karras noise schedule applies to (the loop refuses it for the others). */
export const KARRAS_SCHEDULERS: readonly SchedulerName[] = ['euler', 'dpmpp_2m'];
export const supportsKarras = (scheduler: SchedulerName): boolean => KARRAS_SCHEDULERS.includes(scheduler);

/** How `(x:1.2)` weights act: A1111's "Emphasis mode" setting. */
export const EMPHASIS_MODES = ['original', 'no-norm', 'ignore', 'none'] as const;
export type Emphasis = (typeof EMPHASIS_MODES)[number];

/** Prompt tokens per chunk (CLIP's 77 less the start and end tokens), as A1111 counts them. */
export const PROMPT_CHUNK_TOKENS = 75;

export const DEFAULTS = {
  steps: 20,
  guidance_scale: 7.5,
  scheduler: DEFAULT_SCHEDULER,
  side: 512,
  batch_size: 1,
  seed: 0,
  emphasis: 'original' as Emphasis,
  upscale_factor: 2 as UpscaleFactor,
  /** The seed's refiner strength. */
  refiner_strength: 0.3,
  /** A1111's hires fix denoising strength. */
  hires_strength: 0.5,
  hires_upscaler: 'latent',
  /** diffusers' img2img / A1111's inpainting default, for a given mask or roi. */
  detailer_strength: 0.75,
  detailer_guidance_scale: 7.5,
  /** ADetailer's defaults. */
  detailer_targets: ['face'] as DetailerTarget[],
  face_strength: 0.4,
  hand_strength: 0.4,
  confidence: 0.3,
  dilate: 4,
  mask_blur: 4,
  masked_content: 'original' as MaskedContent,
  inpaint_padding: 32,
  center_crop_ratio: 0.8,
} as const;

/** What the detailer finds and redraws on its own. */
export const DETAILER_TARGETS = ['face', 'hand'] as const;
export type DetailerTarget = (typeof DETAILER_TARGETS)[number];

/** A1111's "Masked content": what the masked area starts from (inpainting_fill 1, 0, 2, 3). */
export const MASKED_CONTENTS = ['original', 'fill', 'latent_noise', 'latent_nothing'] as const;
export type MaskedContent = (typeof MASKED_CONTENTS)[number];

/** A1111's "Inpaint area". */
export const INPAINT_AREAS = ['whole_picture', 'only_masked'] as const;
export type InpaintAreaName = (typeof INPAINT_AREAS)[number];

/** How the detailer's roi is chosen: the `roi` given, or the seed's centre crop (`center_crop_ratio`). */
export const ROI_MODES = ['given', 'center'] as const;
export type RoiMode = (typeof ROI_MODES)[number];

/** The detailer's modes, as its metadata reports them. */
export const DETAILER_MODES = ['detect', 'inpainting', 'img2img'] as const;
export type DetailerMode = (typeof DETAILER_MODES)[number];

// ---------------------------------------------------------------------------------------------
// Field schemas: the limits above with messages that say what is allowed

const number = (name: string) => z.number({ error: `${name} must be a number` }).refine(Number.isFinite, { message: `${name} must be a finite number` });
const whole = (name: string) => z.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`);
/** `name` within [min, max], each end saying which bound was crossed. */
const bounded = <T extends z.ZodNumber>(schema: T, name: string, { min, max }: { min: number; max: number }) =>
  schema.min(min, `${name} must be at least ${min}`).max(max, `${name} must be at most ${max}`);

export const Steps = bounded(whole('steps'), 'steps', LIMITS.steps);
export const GuidanceScale = bounded(z.number({ error: 'guidance_scale must be a number' }), 'guidance_scale', LIMITS.guidance_scale);
/** A width or height: a multiple of 8 within the side limits. */
export const side = (name: 'width' | 'height') => {
  const { min, max, multiple } = LIMITS.side;
  const message = `${name} must be a multiple of ${multiple} from ${min} to ${max}`;
  return whole(name)
    .min(min, message)
    .max(max, message)
    .refine((v) => v % multiple === 0, { message });
};
export const BatchSize = bounded(whole('batch_size'), 'batch_size', LIMITS.batch_size);
export const Seed = bounded(whole('seed'), 'seed', LIMITS.seed);
export const Strength = number('strength')
  .min(LIMITS.strength.min, 'strength must be between 0 and 1')
  .max(LIMITS.strength.max, 'strength must be between 0 and 1');
/** A1111's "Variation strength": 0 = the seed's noise, 1 = the variation seed's. */
export const SubseedStrength = number('subseed_strength')
  .min(LIMITS.strength.min, 'subseed_strength must be between 0 and 1')
  .max(LIMITS.strength.max, 'subseed_strength must be between 0 and 1');
export const Scheduler = z.enum(SCHEDULER_NAMES, { error: `scheduler must be one of ${SCHEDULER_NAMES.join(', ')}` });
export const EmphasisMode = z.enum(EMPHASIS_MODES, { error: `emphasis must be one of ${EMPHASIS_MODES.join(', ')}` });
export const UpscaleFactorSchema = z
  .number({ error: `upscale_factor must be one of ${UPSCALE_FACTORS.join(', ')}` })
  .refine((v): v is UpscaleFactor => (UPSCALE_FACTORS as readonly number[]).includes(v), {
    message: `upscale_factor must be one of ${UPSCALE_FACTORS.join(', ')}`,
  });
const ModelName = z.string().min(1, 'model must be a model name');

export const LoraWeight = bounded(number('LoRA weight'), 'LoRA weight', LIMITS.lora_weight);
const LORA_SHAPE = 'loras must be a list of { name, weight } (weight default 1; unet_weight optional)';

/**
 * A LoRA to merge, as A1111's `<lora:name:weight>` tag says it: `weight` multiplies the text
 * encoder's delta and, unless `unet_weight` is given (`<lora:name:te:unet>`), the UNet's.
 */
export const LoraParameter = z
  .object(
    {
      name: z.string({ error: 'a LoRA name must be text' }).trim().min(1, 'a LoRA needs a name'),
      weight: LoraWeight.default(1),
      unet_weight: LoraWeight.optional(),
    },
    { error: LORA_SHAPE },
  )
  .strict();
export type LoraParameter = z.infer<typeof LoraParameter>;
/** The stages that run a UNet take LoRAs here (for configs) and as tags in the positive prompt; both add up. */
export const Loras = z.array(LoraParameter, { error: LORA_SHAPE }).max(LIMITS.loras.max, `at most ${LIMITS.loras.max} LoRAs`);

/** Float32 noise `[b, 4, h/8, w/8]` given to reproduce an image exactly (the pipeline's Tensor). */
export const LatentsTensor = z.custom<{ data: Float32Array; dims: readonly number[] }>(
  (v) => typeof v === 'object' && v !== null && (v as { data?: unknown }).data instanceof Float32Array,
  { message: 'latents must be a float32 tensor' },
);

// ---------------------------------------------------------------------------------------------
// Stage parameters (what each stage_type reads; absent = its default, or the model family's)

/** The seed's TextToImageStage: Stable Diffusion text-to-image. */
export const TextToImageParameters = z.object({
  /** Required by the time the stage runs (it may come from `input_data`). */
  prompt: z.string({ error: 'prompt must be text' }).optional(),
  negative_prompt: z.string({ error: 'negative_prompt must be text' }).default(''),
  /** A registered checkpoint; absent = the default one. */
  model: ModelName.optional(),
  /** Required by the time the stage runs: the worker draws one when a job has none. */
  seed: Seed.optional(),
  /** Absent = the model family's default. */
  steps: Steps.optional(),
  guidance_scale: GuidanceScale.optional(),
  scheduler: Scheduler.optional(),
  karras: z.boolean({ error: 'karras must be true or false' }).default(false),
  width: side('width').optional(),
  height: side('height').optional(),
  batch_size: BatchSize.default(DEFAULTS.batch_size),
  emphasis: EmphasisMode.default(DEFAULTS.emphasis),
  /**
   * A1111's variation seed: the start noise is the spherical interpolation of the seed's noise
   * and the subseed's by `subseed_strength` (image i of a batch: subseed + i). Absent or strength
   * 0: the seed's image, exactly.
   */
  subseed: Seed.optional(),
  subseed_strength: SubseedStrength.default(0),
  latents: LatentsTensor.optional(),
  /** LoRAs merged for this stage, beside the `<lora:name:weight>` tags of the prompt. */
  loras: Loras.default([]),
});
export type TextToImageParameters = z.infer<typeof TextToImageParameters>;

const HIGH_RES_SHAPE = "high_res_fix must be false or { scale: a number greater than 1 and at most 4, upscaler: 'latent' or an upscaler model name }";
const HIGH_RES_SCALE = `high_res_fix scale must be greater than ${LIMITS.high_res_scale.above} and at most ${LIMITS.high_res_scale.max}`;

/**
 * A1111's hires fix: enlarge the image by `scale`, then img2img at the new size. `upscaler` is
 * 'latent' (bilinear on the VAE latents, A1111's "Latent") or a registered upscaler model.
 */
export const HighResFix = z
  .object({
    scale: z
      .number({ error: HIGH_RES_SCALE })
      .refine((v) => Number.isFinite(v) && v > LIMITS.high_res_scale.above && v <= LIMITS.high_res_scale.max, { message: HIGH_RES_SCALE }),
    upscaler: z.string().min(1, "high_res_fix upscaler must be 'latent' or an upscaler model name").default(DEFAULTS.hires_upscaler),
  })
  .strict();
export type HighResFix = z.infer<typeof HighResFix>;

/** The seed's RefinerStage: img2img at a denoising strength. */
export const RefinerParameters = z.object({
  strength: Strength.default(DEFAULTS.refiner_strength),
  /** Absent = the model that made the image (text_to_image's), else the default checkpoint. */
  model: ModelName.optional(),
  /** Absent = the prompts that made the image (text_to_image's, as A1111's hires fix does), else ''. */
  prompt: z.string({ error: 'prompt must be text' }).optional(),
  negative_prompt: z.string({ error: 'negative_prompt must be text' }).optional(),
  steps: Steps.optional(),
  guidance_scale: GuidanceScale.optional(),
  scheduler: Scheduler.optional(),
  karras: z.boolean({ error: 'karras must be true or false' }).default(false),
  /** Absent = the seed that made the image, else 0. */
  seed: Seed.optional(),
  emphasis: EmphasisMode.default(DEFAULTS.emphasis),
  /**
   * Beside the prompt's tags. Absent = the previous stage's `loras` (its tags come with the
   * prompt it passes on), so the LoRAs that made the image refine it, as in A1111's hires fix.
   */
  loras: Loras.optional(),
  /** false (or null) = refine at the image's own size. */
  high_res_fix: z
    .union([z.literal(false), z.null().transform(() => false as const), HighResFix], { error: HIGH_RES_SHAPE })
    .default(false),
});
export type RefinerParameters = z.infer<typeof RefinerParameters>;

/** The seed's UpscalerStage: a super-resolution model run tile by tile. */
export const UpscalerParameters = z.object({
  upscale_factor: UpscaleFactorSchema.default(DEFAULTS.upscale_factor),
  /** Registered upscaler name; absent = the bundled model for the factor. */
  model: ModelName.optional(),
  /** Tile edge in input pixels; absent = the largest the device allows. */
  tile_size: whole('tile_size').min(LIMITS.tile_size.min).max(LIMITS.tile_size.max).optional(),
  /** Pixels neighbouring tiles share; absent = enough for the model's receptive field. */
  tile_overlap: whole('tile_overlap').min(LIMITS.tile_overlap.min).max(LIMITS.tile_overlap.max).optional(),
});
export type UpscalerParameters = z.infer<typeof UpscalerParameters>;

const enumOf = <T extends readonly [string, ...string[]]>(name: string, values: T) =>
  z.enum(values, { error: `${name} must be one of ${values.join(', ')}` });
const strengthOf = (name: string) =>
  number(name)
    .min(LIMITS.strength.min, `${name} must be between 0 and 1`)
    .max(LIMITS.strength.max, `${name} must be between 0 and 1`);
const ROI_SHAPE = 'roi must be [x, y, width, height] in whole pixels, width and height positive';

/**
 * The seed's DetailerStage, real (ADetailer for A1111): faces/hands found and redrawn, a given
 * mask inpainted, or a given roi redrawn (img2img) and composited back.
 */
export const DetailerParameters = z.object({
  /** Absent = the model that made the image, else the default checkpoint. */
  model: ModelName.optional(),
  /** Denoising strength for a given mask or roi (detected regions use face_/hand_strength). */
  strength: Strength.default(DEFAULTS.detailer_strength),
  guidance_scale: GuidanceScale.default(DEFAULTS.detailer_guidance_scale),
  steps: Steps.optional(),
  /** Absent = the prompts / seed that made the image (as the refiner), else '' / 0. */
  prompt: z.string({ error: 'prompt must be text' }).optional(),
  negative_prompt: z.string({ error: 'negative_prompt must be text' }).optional(),
  seed: Seed.optional(),
  scheduler: Scheduler.optional(),
  karras: z.boolean({ error: 'karras must be true or false' }).default(false),
  emphasis: EmphasisMode.default(DEFAULTS.emphasis),
  /** As the refiner's: beside the prompt's tags; absent = the previous stage's `loras`. */
  loras: Loras.optional(),
  /** What is detected when no mask or roi is given. */
  targets: z
    .array(enumOf('targets', DETAILER_TARGETS), { error: `targets must be a list of ${DETAILER_TARGETS.join(', ')}` })
    .min(1, 'targets must name at least one of face, hand')
    .default([...DEFAULTS.detailer_targets]),
  face_strength: strengthOf('face_strength').default(DEFAULTS.face_strength),
  hand_strength: strengthOf('hand_strength').default(DEFAULTS.hand_strength),
  confidence: bounded(number('confidence'), 'confidence', LIMITS.confidence).default(DEFAULTS.confidence),
  /** Detected regions only: px > 0 dilates the box mask, < 0 erodes it. */
  dilate: bounded(whole('dilate'), 'dilate', LIMITS.dilate).default(DEFAULTS.dilate),
  mask_blur: bounded(whole('mask_blur'), 'mask_blur', LIMITS.mask_blur).default(DEFAULTS.mask_blur),
  masked_content: enumOf('masked_content', MASKED_CONTENTS).default(DEFAULTS.masked_content),
  /** Absent = whole_picture for a given mask, only_masked for detected regions and a roi. */
  inpaint_area: enumOf('inpaint_area', INPAINT_AREAS).optional(),
  inpaint_padding: bounded(whole('inpaint_padding'), 'inpaint_padding', LIMITS.inpaint_padding).default(DEFAULTS.inpaint_padding),
  /** Most detected regions redrawn, largest first; absent = all. */
  max_regions: bounded(whole('max_regions'), 'max_regions', LIMITS.max_regions).optional(),
  /** `[x, y, width, height]` in the image's pixels: redraw this region (img2img) and composite it back. */
  roi: z
    .tuple([whole('roi x'), whole('roi y'), whole('roi width'), whole('roi height')], { error: ROI_SHAPE })
    .refine(([x, y, w, h]) => x >= 0 && y >= 0 && w > 0 && h > 0, { message: ROI_SHAPE })
    .optional(),
  /** 'center' = the roi is the centred `center_crop_ratio` of the image (the seed's heuristic). */
  roi_mode: enumOf('roi_mode', ROI_MODES).optional(),
  center_crop_ratio: number('center_crop_ratio')
    .refine((v) => v > LIMITS.center_crop_ratio.above && v <= LIMITS.center_crop_ratio.max, {
      message: `center_crop_ratio must be greater than ${LIMITS.center_crop_ratio.above} and at most ${LIMITS.center_crop_ratio.max}`,
    })
    .default(DEFAULTS.center_crop_ratio),
});
export type DetailerParameters = z.infer<typeof DetailerParameters>;

/** Every stage_type and the parameters it reads. A new stage is added here, once. */
export const STAGE_PARAMETERS = {
  text_to_image: TextToImageParameters,
  refiner: RefinerParameters,
  detailer: DetailerParameters,
  upscaler: UpscalerParameters,
} as const;
export type StageType = keyof typeof STAGE_PARAMETERS;
export const STAGE_TYPES = Object.keys(STAGE_PARAMETERS) as StageType[];
export const isStageType = (value: unknown): value is StageType => typeof value === 'string' && Object.hasOwn(STAGE_PARAMETERS, value);
export type StageParameters<T extends StageType> = z.infer<(typeof STAGE_PARAMETERS)[T]>;

// ---------------------------------------------------------------------------------------------
// The config

/**
 * One stage as configured. Its parameters may be partial: a job's `input_data` and the config's
 * own `parameters` fill in the rest (stage < config.parameters < input_data); unknown keys are
 * refused, since a misspelt key would otherwise be silently ignored.
 */
const stageConfig = <T extends StageType, P extends z.ZodRawShape>(stageType: T, parameters: z.ZodObject<P>) =>
  z.object({
    stage_type: z.literal(stageType),
    name: z.string().min(1, 'name must not be empty').optional(),
    parameters: parameters.partial().strict().default({} as never),
  });

export const StageConfig = z.discriminatedUnion(
  'stage_type',
  [
    stageConfig('text_to_image', STAGE_PARAMETERS.text_to_image),
    stageConfig('refiner', STAGE_PARAMETERS.refiner),
    stageConfig('detailer', STAGE_PARAMETERS.detailer),
    stageConfig('upscaler', STAGE_PARAMETERS.upscaler),
  ],
  {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const type = (issue.input as { stage_type?: unknown } | undefined)?.stage_type;
      const known = `(known: ${STAGE_TYPES.join(', ')})`;
      return typeof type === 'string' ? `unknown stage_type '${type}' ${known}` : `stage_type is missing ${known}`;
    },
  },
);
export type StageConfig = z.infer<typeof StageConfig>;

export const PipelineConfig = z.object({
  stages: z.array(StageConfig, { error: 'stages must be a list of stages' }).min(1, 'a pipeline needs at least one stage'),
  /** Values for every stage that takes the key (between a stage's own and the job's input_data). */
  parameters: z.record(z.string(), z.unknown()).default({}),
});
export type PipelineConfig = z.infer<typeof PipelineConfig>;
/** A config as written (defaults not yet applied), e.g. built by the UI or loaded from a file. */
export type PipelineConfigInput = z.input<typeof PipelineConfig>;
export type StageConfigInput = PipelineConfigInput['stages'][number];

/** A zod issue list as one line a person can read: `stages[0].parameters.upscale_factor: ...`. */
export function formatZodError(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      const where = `${prefix}${path}`.replace(/^\./, '');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
