/**
 * One shape for "the parameters of an image" wherever they come from, so the Generate view can
 * be filled from any of them:
 *
 * - our own records: the `media-lab` PNG chunk (a stage's metadata, as the gallery keeps it),
 *   or a job's pipeline config (gallery "reuse parameters", a saved config file);
 * - A1111's `parameters` chunk (infotext, incl. hires fix and ADetailer keys);
 * - ComfyUI's `prompt` chunk (an API-format graph: KSampler or SamplerCustom / SamplerCustomAdvanced);
 * - Fooocus's and RuinedFooocus's JSON `parameters` chunk;
 * - InvokeAI's `invokeai_metadata`, `sd-metadata` (2.x) and `Dream` (2.x) chunks;
 * - NovelAI's `Comment` JSON with its `Description` and `Software` chunks.
 *
 * Every reader returns what it could map plus a list of what it could not, in words a person can
 * read; nothing in a file is evaluated (JSON is parsed as data, text chunks are read with the
 * caps of src/media/png-text.ts). `buildPipelineConfig` goes the other way: the form's values
 * → the pipeline config a generate job runs (DESIGN §2, snake_case as the seed).
 *
 * Pure TypeScript (no DOM): unit-tested in Node.
 */
import { z } from 'zod';
import { readComfyPrompt } from '../../media/comfy';
import { fooocusFlavour, readFooocusParameters } from '../../media/fooocus';
import { readInvokeAiDream, readInvokeAiMetadata, readInvokeAiSdMetadata } from '../../media/invokeai';
import { isNovelAi, readNovelAi, type NovelAiChunks } from '../../media/novelai';
import { ADETAILER_VERSION_KEY, adetailerSuffix, parseInfotext, readAdetailerTabs, setOwn, toGenerationParams, type ImportedGenerationParams } from '../../media/infotext';
import { readPngTextChunks, type PngTextChunk } from '../../media/png-text';
import {
  DEFAULTS,
  DETAILER_MODES,
  DETAILER_TARGETS,
  DetailerParameters,
  EMPHASIS_MODES,
  formatZodError,
  HighResFix,
  KARRAS_SCHEDULERS,
  LIMITS,
  SCHEDULER_NAMES,
  STAGE_PARAMETERS,
  Steps,
  Strength,
  supportsKarras,
  TextToImageParameters,
  UPSCALE_FACTORS,
  UpscaleFactorSchema,
  type DetailerTarget,
  type Emphasis,
  type InpaintAreaName,
  type MaskedContent,
  type PipelineConfigInput,
  type SchedulerName,
  type StageConfigInput,
  type UpscaleFactor,
} from '../../protocol/pipeline-config';

// The protocol's limits and enums, for the views that import them from here.
export { EMPHASIS_MODES, KARRAS_SCHEDULERS, SCHEDULER_NAMES, supportsKarras, UPSCALE_FACTORS };
export type { Emphasis, SchedulerName, UpscaleFactor };

/** A1111's names for our samplers, for labels. */
export const SAMPLER_LABELS: Record<SchedulerName, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  lcm: 'LCM',
};

/** The refiner stage as the Generate view offers it: img2img of the result, maybe with another model. */
export interface RefinerSettings {
  strength: number;
  /** Absent = the model that made the image. */
  model?: string;
  /** Absent = the generation's steps. */
  steps?: number;
}

/** A1111's hires fix: a refiner stage with `high_res_fix`. */
export interface HiresFixSettings {
  /** Greater than 1, at most 4. */
  scale: number;
  /** 'latent' or an upscaler model's name. */
  upscaler: string;
  strength: number;
  steps?: number;
}

export interface UpscalerSettings {
  factor: UpscaleFactor;
  /** Absent = the bundled model for the factor. */
  model?: string;
}

/**
 * The detailer stage as the Generate view offers it: faces and/or hands found and redrawn (as
 * ADetailer does), with the generation's checkpoint, steps, CFG and sampler.
 */
export interface DetailerSettings {
  /** At least one. */
  targets: DetailerTarget[];
  face_strength: number;
  hand_strength: number;
  confidence: number;
  /** Absent = the generation's prompt. */
  prompt?: string;
  /** Settings the form does not show, kept from a loaded file so it runs the same; absent = the stage's defaults. */
  dilate?: number;
  mask_blur?: number;
  inpaint_padding?: number;
  inpaint_area?: InpaintAreaName;
  masked_content?: MaskedContent;
  max_regions?: number;
}

/** The detailer settings a loaded file may set that the form keeps without showing. */
export const DETAILER_KEPT_KEYS = ['dilate', 'mask_blur', 'inpaint_padding', 'inpaint_area', 'masked_content', 'max_regions'] as const;
export type DetailerKept = Pick<DetailerSettings, (typeof DETAILER_KEPT_KEYS)[number]>;

/**
 * Everything the Generate view can be filled with. Every field is optional: a source sets only
 * what it holds. For the optional stages, `null` means "off" and `undefined` "not said".
 */
export interface GenerationParameters {
  prompt?: string;
  negative_prompt?: string;
  model?: string;
  seed?: number;
  /** A1111's variation seed and strength. */
  subseed?: number;
  subseed_strength?: number;
  steps?: number;
  guidance_scale?: number;
  scheduler?: SchedulerName;
  karras?: boolean;
  width?: number;
  height?: number;
  batch_size?: number;
  emphasis?: Emphasis;
  hires_fix?: HiresFixSettings | null;
  refiner?: RefinerSettings | null;
  detailer?: DetailerSettings | null;
  upscaler?: UpscalerSettings | null;
}

export type ParametersSource = 'media-lab' | 'a1111' | 'comfyui' | 'fooocus' | 'invokeai' | 'novelai' | 'pipeline-config';

export const SOURCE_LABELS: Record<ParametersSource, string> = {
  'media-lab': 'Media Lab',
  a1111: 'AUTOMATIC1111',
  comfyui: 'ComfyUI',
  fooocus: 'Fooocus',
  invokeai: 'InvokeAI',
  novelai: 'NovelAI',
  'pipeline-config': 'a pipeline config',
};

export interface LoadedParameters {
  source: ParametersSource;
  parameters: GenerationParameters;
  /** What the source held that could not be used here, one sentence each. */
  unmapped: string[];
  /**
   * The LoRAs and embeddings the image was made with, by name, with their short hashes (A1111's
   * `Lora hashes` / `TI hashes`, or ours): the LoRA tags stay in the prompt, and loading says which
   * of these are not imported here.
   */
  networks?: { loras: Record<string, string>; embeddings: Record<string, string> };
}

/** A `{name: hash}` record of strings from loaded JSON (anything else dropped). */
function nameHashes(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const obj = asObject(value);
  for (const [name, hash] of Object.entries(obj ?? {})) if (typeof hash === 'string') setOwn(out, name, hash);
  return out;
}

/** Why nothing could be loaded (not a PNG, no parameters, a broken config …). */
export class ParametersError extends Error {
  override readonly name = 'ParametersError';
}

// ---------------------------------------------------------------------------------------------
// Field checks shared by every source

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const describeValue = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
};

/** The fields of the text_to_image stage the form has (latents are data, not a setting). */
const MAIN_KEYS = [
  'prompt',
  'negative_prompt',
  'model',
  'seed',
  'subseed',
  'subseed_strength',
  'steps',
  'guidance_scale',
  'scheduler',
  'karras',
  'width',
  'height',
  'batch_size',
  'emphasis',
] as const;
type MainKey = (typeof MAIN_KEYS)[number];

/**
 * What a note says a field must be. Whether a value is taken is decided by the stage's own schema
 * (TextToImageParameters); these words only explain a refusal.
 */
const FIELD_RULES: Record<MainKey, string> = {
  prompt: 'is not text',
  negative_prompt: 'is not text',
  model: 'is not a model name',
  seed: 'is not a seed this app can use (a whole number from 0 to 2^53 - 1)',
  subseed: 'is not a variation seed this app can use (a whole number from 0 to 2^53 - 1)',
  subseed_strength: 'is not a variation strength from 0 to 1',
  steps: `is not a number of steps from ${LIMITS.steps.min} to ${LIMITS.steps.max}`,
  guidance_scale: `is not a CFG scale from ${LIMITS.guidance_scale.min} to ${LIMITS.guidance_scale.max}`,
  scheduler: `is not a sampler this app has (${SCHEDULER_NAMES.join(', ')})`,
  karras: 'is not true or false',
  width: `is not a width from ${LIMITS.side.min} to ${LIMITS.side.max} in steps of ${LIMITS.side.multiple}`,
  height: `is not a height from ${LIMITS.side.min} to ${LIMITS.side.max} in steps of ${LIMITS.side.multiple}`,
  batch_size: `is not a batch size from ${LIMITS.batch_size.min} to ${LIMITS.batch_size.max}`,
  emphasis: `is not one of ${EMPHASIS_MODES.join(', ')}`,
};

/** Copies the fields of `source` the stage's schema accepts into `out`; a refused value becomes an `unmapped` line. */
function takeMainFields(source: Record<string, unknown>, out: GenerationParameters, unmapped: string[], keys: readonly MainKey[] = MAIN_KEYS): void {
  for (const key of keys) {
    if (!Object.hasOwn(source, key)) continue;
    const value = source[key];
    if (value === undefined || value === null) continue;
    if (TextToImageParameters.shape[key].safeParse(value).success) (out as Record<string, unknown>)[key] = value;
    else unmapped.push(`${key} ${describeValue(value)} ${FIELD_RULES[key]}`);
  }
}

/** Karras on a sampler that has no Karras schedule here: dropped, and said so. */
function checkKarras(out: GenerationParameters, unmapped: string[]): void {
  if (out.karras && out.scheduler && !supportsKarras(out.scheduler)) {
    unmapped.push(`the Karras schedule is not available with ${SAMPLER_LABELS[out.scheduler]} here (only ${KARRAS_SCHEDULERS.map((k) => SAMPLER_LABELS[k]).join(' and ')}); the sampler's own schedule is used`);
    out.karras = false;
  }
}

const asObject = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

function strengthOf(value: unknown, what: string, unmapped: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (Strength.safeParse(value).success) return value as number;
  unmapped.push(`${what} ${describeValue(value)} is not a strength from ${LIMITS.strength.min} to ${LIMITS.strength.max}`);
  return undefined;
}

function stepsOf(value: unknown, what: string, unmapped: string[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (Steps.safeParse(value).success) return value as number;
  unmapped.push(`${what} ${describeValue(value)} ${FIELD_RULES.steps}`);
  return undefined;
}

function hiresOf(value: unknown, strength: number | undefined, steps: number | undefined, unmapped: string[]): HiresFixSettings | undefined {
  const hires = asObject(value);
  if (!hires) return undefined;
  // Only the keys the stage takes: run records also hold `from` and `to`.
  const parsed = HighResFix.safeParse({ scale: hires.scale, upscaler: hires.upscaler ?? undefined });
  if (!parsed.success) {
    const bad = parsed.error.issues[0]?.path[0] === 'upscaler' ? `upscaler ${describeValue(hires.upscaler)} is not 'latent' or an upscaler name` : `scale ${describeValue(hires.scale)} is not a number greater than ${LIMITS.high_res_scale.above} and at most ${LIMITS.high_res_scale.max}`;
    unmapped.push(`hires fix ${bad}`);
    return undefined;
  }
  return { ...parsed.data, strength: strength ?? DEFAULT_HIRES_STRENGTH, ...(steps !== undefined ? { steps } : {}) };
}

function factorOf(value: unknown, unmapped: string[]): UpscaleFactor | undefined {
  const parsed = UpscaleFactorSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  unmapped.push(`upscale factor ${describeValue(value)} is not one of ${UPSCALE_FACTORS.join(', ')}`);
  return undefined;
}

/**
 * Detailer settings from a stage's values (DetailerParameters' names), each checked with the
 * protocol's schema; a refused value becomes a note and the stage's default is used.
 */
function detailerOf(values: Record<string, unknown>, what: string, unmapped: string[]): DetailerSettings {
  const field = <K extends 'targets' | 'face_strength' | 'hand_strength' | 'confidence' | 'prompt' | (typeof DETAILER_KEPT_KEYS)[number]>(key: K) => {
    const value = values[key];
    if (value === undefined || value === null) return undefined;
    const parsed = DetailerParameters.shape[key].safeParse(value);
    if (parsed.success) return parsed.data as DetailerParameters[K];
    unmapped.push(`${what}: ${parsed.error.issues[0]?.message ?? `${key} is not valid`} (it is ${describeValue(value)}); the default is used`);
    return undefined;
  };
  const out: DetailerSettings = {
    targets: [...new Set(field('targets') ?? DEFAULTS.detailer_targets)],
    face_strength: field('face_strength') ?? DEFAULTS.face_strength,
    hand_strength: field('hand_strength') ?? DEFAULTS.hand_strength,
    confidence: field('confidence') ?? DEFAULTS.confidence,
  };
  const prompt = field('prompt');
  if (prompt) out.prompt = prompt;
  for (const key of DETAILER_KEPT_KEYS) {
    const value = field(key);
    if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

export const DEFAULT_REFINER_STRENGTH = DEFAULTS.refiner_strength;
export const DEFAULT_HIRES_STRENGTH = DEFAULTS.hires_strength;

// ---------------------------------------------------------------------------------------------
// Our own records

/**
 * Our `media-lab` chunk (= an artifact's metadata): `{stage, stage_type, parameters, model, …}`.
 * A generated image gives the generation; a refined one the generation plus its refiner or hires
 * fix; an upscaled one only the upscale (it does not carry the prompt).
 */
export function fromMediaLabMetadata(raw: unknown): LoadedParameters {
  const meta = asObject(raw);
  if (!meta) throw new ParametersError('the Media Lab parameters are not a JSON object');
  const loaded = oneOfBatch(meta, fromMediaLabFields(meta));
  const networks = { loras: nameHashes(meta.lora_hashes), embeddings: nameHashes(meta.ti_hashes) };
  return Object.keys(networks.loras).length || Object.keys(networks.embeddings).length ? { ...loaded, networks } : loaded;
}

/**
 * An image of a generated batch is reproduced alone: batch 1 with its own seed (seed + its index,
 * which the image records), as A1111 reuses the infotext of image i.
 */
export function oneOfBatch(meta: Record<string, unknown>, loaded: LoadedParameters): LoadedParameters {
  if (meta.stage_type !== 'text_to_image' || !isInt(meta.batch_index)) return loaded;
  // The image's own seed, when it was one this app can use (else the loaded notes say why).
  const own = {
    ...(isInt(meta.seed) && meta.seed >= 0 && loaded.parameters.seed !== undefined ? { seed: meta.seed } : {}),
    ...(isInt(meta.subseed) && meta.subseed >= 0 && loaded.parameters.subseed !== undefined ? { subseed: meta.subseed } : {}),
  };
  return { ...loaded, parameters: { ...loaded.parameters, ...own, batch_size: 1 } };
}

function fromMediaLabFields(meta: Record<string, unknown>): LoadedParameters {
  const stageType = meta.stage_type;
  // Images we write carry the whole job: its pipeline restores every stage, from any of its images.
  const job = asObject(meta.job);
  if (job?.pipeline_config !== undefined) {
    try {
      return fromPipelineConfig(job.pipeline_config, asObject(job.input_data) ?? {}, 'media-lab');
    } catch (err) {
      // A job with no text_to_image stage (an enhance job): read the stage's own values below.
      if (!(err instanceof ParametersError)) throw err;
    }
  }
  const params = asObject(meta.parameters) ?? {};
  const unmapped: string[] = [];
  const out: GenerationParameters = {};

  if (stageType === 'text_to_image') {
    // `parameters` holds the values as run (raw scheduler name + karras flag); the top level
    // repeats them and adds the model's name.
    takeMainFields({ ...meta, ...params, scheduler: params.scheduler ?? schedulerBase(meta.scheduler), model: meta.model ?? params.model }, out, unmapped);
    if (params.karras === undefined && typeof meta.scheduler === 'string') out.karras = / karras$/.test(meta.scheduler);
    out.hires_fix = null;
    out.refiner = null;
    out.detailer = null;
    out.upscaler = null;
  } else if (stageType === 'refiner') {
    const strength = strengthOf(meta.strength ?? params.strength, 'refiner strength', unmapped);
    const hiresRaw = asObject(meta.high_res_fix) ?? asObject(params.high_res_fix);
    takeMainFields({ ...params, model: meta.model ?? params.model }, out, unmapped, MAIN_KEYS.filter((k) => k !== 'width' && k !== 'height'));
    if (hiresRaw) {
      const hires = hiresOf(hiresRaw, strength, stepsOf(params.steps, 'hires fix steps', unmapped), unmapped);
      out.hires_fix = hires ?? null;
      const from = hiresRaw.from;
      if (Array.isArray(from) && from.length === 2) takeMainFields({ width: from[0], height: from[1] }, out, unmapped, ['width', 'height']);
      out.refiner = null;
    } else {
      takeMainFields(params, out, unmapped, ['width', 'height']);
      out.hires_fix = null;
      out.refiner = { strength: strength ?? DEFAULT_REFINER_STRENGTH };
    }
    out.detailer = null;
    out.upscaler = null;
    unmapped.push('this image was refined: the image it started from is not in the file, so the generation before it is made again from the same values');
  } else if (stageType === 'detailer' && (DETAILER_MODES as readonly unknown[]).includes(meta.mode)) {
    // A detailer run on its own (Enhance): its settings, not the generation before it.
    takeMainFields({ model: meta.model || undefined }, out, unmapped, ['model']);
    if (meta.mode === 'detect') out.detailer = detailerOf(params, 'detailer', unmapped);
    else unmapped.push(`this image was detailed with a ${meta.mode === 'inpainting' ? 'painted mask' : 'chosen region'}, which the Generate view does not do`);
    unmapped.push('this image was detailed: the image it started from is not in the file, and its prompt and generation settings are not either; only the detailer settings are loaded');
  } else if (stageType === 'upscaler') {
    const factor = factorOf(meta.upscale_factor ?? params.upscale_factor, unmapped);
    const model = typeof (params.model ?? meta.model) === 'string' ? String(params.model ?? meta.model) : undefined;
    if (factor) out.upscaler = { factor, ...(params.model ? { model } : {}) };
    unmapped.push('this image is an upscale: it holds no prompt or generation settings, only the upscale factor');
  } else {
    throw new ParametersError(
      `the Media Lab parameters are from a ${typeof stageType === 'string' ? `'${stageType}'` : 'unknown'} stage, which the Generate view cannot load`,
    );
  }
  checkKarras(out, unmapped);
  return { source: 'media-lab', parameters: out, unmapped };
}

/** `"dpmpp_2m karras"` (how stage metadata writes it) → `"dpmpp_2m"`. */
function schedulerBase(value: unknown): string | undefined {
  return typeof value === 'string' ? value.split(' ')[0] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Pipeline configs (saved files, a job's request)

/**
 * A config's outline: stages with a type and parameters. Values are then checked one by one with
 * the stages' schemas, so one bad value or an unknown stage becomes a note instead of refusing
 * the whole file.
 */
const ConfigOutline = z.object({
  stages: z
    .array(
      z.object({
        stage_type: z.string().min(1, 'stage_type is empty'),
        name: z.string().min(1).optional(),
        parameters: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .min(1, 'a pipeline needs at least one stage'),
  parameters: z.record(z.string(), z.unknown()).default({}),
});

/** Keys each stage takes (for "not used" notes): the protocol's stage schemas. */
const stageKeys = (stageType: string): readonly string[] =>
  Object.hasOwn(STAGE_PARAMETERS, stageType) ? Object.keys(STAGE_PARAMETERS[stageType as keyof typeof STAGE_PARAMETERS].shape) : [];

/**
 * A pipeline config (a saved file, or a job's request with its `input_data`) → form values.
 * Parameters merge as the workbench merges them: stage < `config.parameters` < `input_data`.
 * Throws ParametersError for a config that is not one (with zod's words for what is wrong).
 */
export function fromPipelineConfig(raw: unknown, inputData: Record<string, unknown> = {}, source: ParametersSource = 'pipeline-config'): LoadedParameters {
  const parsed = ConfigOutline.safeParse(raw);
  if (!parsed.success) throw new ParametersError(`not a pipeline config: ${formatZodError(parsed.error)}`);
  const config = parsed.data;
  const t2iIndex = config.stages.findIndex((s) => s.stage_type === 'text_to_image');
  if (t2iIndex < 0) {
    const types = config.stages.map((s) => s.stage_type).join(', ');
    throw new ParametersError(`this pipeline has no text_to_image stage (it has ${types}), so there is nothing to generate`);
  }
  const unmapped: string[] = [];
  const out: GenerationParameters = { hires_fix: null, refiner: null, detailer: null, upscaler: null };
  const merged = (stage: (typeof config.stages)[number]) => {
    const keys = stageKeys(stage.stage_type);
    const values: Record<string, unknown> = { ...stage.parameters };
    for (const source of [config.parameters, inputData]) for (const key of keys) if (source[key] !== undefined) values[key] = source[key];
    return values;
  };
  const label = (i: number) => {
    const stage = config.stages[i];
    return `stages[${i}] (${stage.name ?? stage.stage_type})`;
  };
  const unknownKeys = (i: number, values: Record<string, unknown>) => {
    const keys = stageKeys(config.stages[i].stage_type);
    for (const key of Object.keys(values)) if (!keys.includes(key)) unmapped.push(`${label(i)}: parameter '${key}' is not one this stage takes`);
  };

  if (t2iIndex > 0) unmapped.push(`the stages before text_to_image (${config.stages.slice(0, t2iIndex).map((s) => s.stage_type).join(', ')}) are not used`);
  const t2i = merged(config.stages[t2iIndex]);
  unknownKeys(t2iIndex, t2i);
  if (t2i.latents !== undefined) unmapped.push('latents given as data are not kept; the seed is used instead');
  takeMainFields(t2i, out, unmapped);

  for (let i = t2iIndex + 1; i < config.stages.length; i++) {
    const stage = config.stages[i];
    const values = merged(stage);
    unknownKeys(i, values);
    if (stage.stage_type === 'refiner') {
      const strength = strengthOf(values.strength, `${label(i)} strength`, unmapped);
      const steps = stepsOf(values.steps, `${label(i)} steps`, unmapped);
      if (values.high_res_fix && values.high_res_fix !== false) {
        if (out.hires_fix) {
          unmapped.push(`${label(i)}: a second hires fix is not supported here`);
          continue;
        }
        out.hires_fix = hiresOf(values.high_res_fix, strength, steps, unmapped) ?? null;
      } else {
        if (out.refiner) {
          unmapped.push(`${label(i)}: a second refiner is not supported here`);
          continue;
        }
        const model = typeof values.model === 'string' && values.model ? values.model : undefined;
        out.refiner = { strength: strength ?? DEFAULT_REFINER_STRENGTH, ...(model ? { model } : {}), ...(steps !== undefined ? { steps } : {}) };
      }
    } else if (stage.stage_type === 'detailer') {
      if (out.detailer) {
        unmapped.push(`${label(i)}: a second detailer is not supported here`);
        continue;
      }
      if (values.roi !== undefined || values.roi_mode !== undefined) {
        unmapped.push(`${label(i)}: it redraws a chosen region (roi); the Generate view's detailer redraws found faces and hands, so it is left out`);
        continue;
      }
      // The form's detailer runs with the generation's values; a stage of its own is said so.
      for (const key of ['model', 'negative_prompt', 'steps', 'guidance_scale', 'scheduler', 'seed'] as const) {
        const own = values[key];
        if (own !== undefined && own !== null && own !== '' && own !== out[key]) {
          unmapped.push(`${label(i)}: its own ${key} ${describeValue(own)} is not kept; the detailer here uses the generation's`);
        }
      }
      const detailer = detailerOf(values, label(i), unmapped);
      if (detailer.prompt === out.prompt) delete detailer.prompt;
      out.detailer = detailer;
    } else if (stage.stage_type === 'upscaler') {
      if (out.upscaler) {
        unmapped.push(`${label(i)}: a second upscaler is not supported here`);
        continue;
      }
      const factor = factorOf(values.upscale_factor ?? 2, unmapped);
      const model = typeof values.model === 'string' && values.model ? values.model : undefined;
      if (factor) out.upscaler = { factor, ...(model ? { model } : {}) };
    } else {
      unmapped.push(`${label(i)}: the Generate view has no '${stage.stage_type}' stage; it is left out`);
    }
  }
  checkKarras(out, unmapped);
  return { source, parameters: out, unmapped };
}

/** Parses and loads a config file's text (at most `maxChars`, 1 MiB by default). */
export function parsePipelineConfigText(text: string, maxChars = 1024 * 1024): LoadedParameters {
  if (text.length > maxChars) throw new ParametersError(`the file is ${text.length} characters long; a pipeline config is at most ${maxChars}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ParametersError(`the file is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  // A whole job request ({pipeline_config, input_data}) loads too.
  const request = asObject(raw);
  if (request && 'pipeline_config' in request) {
    return fromPipelineConfig(request.pipeline_config, asObject(request.input_data) ?? {});
  }
  return fromPipelineConfig(raw);
}

// ---------------------------------------------------------------------------------------------
// Other apps' PNGs

/** A1111's hires fix keys, read on top of the infotext parser's fields. */
function a1111Hires(extra: Record<string, string>, strength: number | undefined, unmapped: string[]): HiresFixSettings | null {
  const scaleText = extra['Hires upscale'];
  if (scaleText === undefined) return null;
  const scale = Number(scaleText);
  if (!(Number.isFinite(scale) && scale > 1 && scale <= 4)) {
    unmapped.push(`Hires upscale "${scaleText}" is not a scale this app can use (greater than 1, at most 4)`);
    return null;
  }
  const name = (extra['Hires upscaler'] ?? 'Latent').trim();
  const upscaler = /^latent/i.test(name) ? 'latent' : name;
  if (upscaler === 'latent' && name.toLowerCase() !== 'latent') unmapped.push(`Hires upscaler "${name}" is read as plain "Latent"`);
  const stepsText = extra['Hires steps'];
  const steps = stepsText !== undefined && /^\d+$/.test(stepsText.trim()) && Number(stepsText) >= 1 ? Number(stepsText) : undefined;
  return { scale, upscaler, strength: strength ?? DEFAULT_HIRES_STRENGTH, ...(steps ? { steps } : {}) };
}

/** What an ADetailer model name finds: `face_yolov8n.pt`, `mediapipe_face_full` → face; `hand_yolov8n.pt`, `mediapipe-palm` → hand. */
export function adetailerTarget(model: string): DetailerTarget | undefined {
  if (/face/i.test(model)) return 'face';
  if (/hand|palm/i.test(model)) return 'hand';
  return undefined;
}

/**
 * ADetailer's keys → the detailer stage. Its first face tab and first hand tab are used; the
 * stage has one confidence, dilate, blur and padding for both, so the first tab's win and a
 * second tab's different value is noted. Returns the keys read, for the "not used" notes.
 */
function a1111Detailer(extra: Record<string, string>, unmapped: string[]): { detailer: DetailerSettings | null; used: string[] } {
  const { tabs, used, warnings } = readAdetailerTabs(extra);
  unmapped.push(...warnings);
  const values: Record<string, unknown> = {};
  const from: Record<string, string> = {};
  const targets: DetailerTarget[] = [];
  for (const tab of tabs) {
    const sfx = adetailerSuffix(tab.index);
    const model = `ADetailer model${sfx} "${tab.model}"`;
    const target = adetailerTarget(tab.model);
    if (!target) {
      unmapped.push(`${model} finds neither faces nor hands; the detailer here redraws only those, so that pass is left out`);
      continue;
    }
    if (targets.includes(target)) {
      unmapped.push(`${model} is a second ${target} pass; only one is supported here, so it is left out`);
      continue;
    }
    targets.push(target);
    if (tab.denoising_strength !== undefined) values[`${target}_strength`] = tab.denoising_strength;
    const shared: Array<[string, unknown, string]> = [
      ['confidence', tab.confidence, 'confidence'],
      ['dilate', tab.dilate_erode, 'dilate erode'],
      ['mask_blur', tab.mask_blur, 'mask blur'],
      ['inpaint_padding', tab.inpaint_padding, 'inpaint padding'],
      ['inpaint_area', tab.inpaint_only_masked === undefined ? undefined : tab.inpaint_only_masked ? 'only_masked' : 'whole_picture', 'inpaint only masked'],
      ['max_regions', tab.mask_k_largest, 'mask only top k largest'],
      ['prompt', tab.prompt, 'prompt'],
    ];
    for (const [key, value, name] of shared) {
      if (value === undefined) continue;
      if (!(key in values)) {
        values[key] = value;
        from[key] = sfx;
      } else if (values[key] !== value) {
        unmapped.push(`ADetailer ${name}${sfx} ${describeValue(value)} differs from ADetailer ${name}${from[key]} ${describeValue(values[key])}; faces and hands share one here, so ${describeValue(values[key])} is used`);
      }
    }
    if (tab.negative_prompt) unmapped.push(`ADetailer negative prompt${sfx}: the detailer here uses the generation's negative prompt`);
    if (tab.steps !== undefined) unmapped.push(`ADetailer steps${sfx} ${tab.steps}: the detailer here uses the generation's steps`);
    if (tab.cfg_scale !== undefined) unmapped.push(`ADetailer CFG scale${sfx} ${tab.cfg_scale}: the detailer here uses the generation's CFG`);
  }
  if (targets.length === 0) return { detailer: null, used };
  values.targets = DETAILER_TARGETS.filter((t) => targets.includes(t));
  return { detailer: detailerOf(values, 'ADetailer', unmapped), used };
}

/** Keys of A1111's infotext this module uses besides toGenerationParams' own. */
const A1111_USED_EXTRA = new Set(['Hires upscale', 'Hires upscaler', 'Hires steps']);
/** Keys that are about the file or the run, not settings to reproduce: not reported as unmapped. */
const A1111_IGNORED = new Set(['Version', 'Model hash', 'VAE hash', 'TI hashes', 'Lora hashes', 'Hashes', ADETAILER_VERSION_KEY]);

function fromImported(
  imported: ImportedGenerationParams,
  source: 'a1111' | 'comfyui' | 'fooocus' | 'invokeai' | 'novelai',
  hires: HiresFixSettings | null,
  extraUsed: ReadonlySet<string>,
  detailer: DetailerSettings | null = null,
): LoadedParameters {
  const unmapped = [...imported.warnings];
  const out: GenerationParameters = { hires_fix: hires, refiner: null, detailer, upscaler: null };
  takeMainFields(
    {
      prompt: imported.prompt,
      negative_prompt: imported.negative_prompt,
      model: imported.model,
      seed: imported.seed,
      subseed: imported.subseed,
      subseed_strength: imported.subseed_strength,
      steps: imported.steps,
      guidance_scale: imported.guidance_scale,
      scheduler: imported.scheduler,
      karras: imported.karras,
      width: imported.width,
      height: imported.height,
    },
    out,
    unmapped,
  );
  if (imported.strength !== undefined && !hires) {
    unmapped.push(`denoising strength ${imported.strength} is for img2img, which the Generate view does not do`);
  }
  for (const [key, value] of Object.entries(imported.extra)) {
    if (extraUsed.has(key) || A1111_IGNORED.has(key) || imported.warnings.some((w) => w.startsWith(`${key} `))) continue;
    if (source !== 'a1111') continue; // the other readers' extras are already explained by their warnings
    unmapped.push(`${key}: ${value.length > 60 ? `${value.slice(0, 60)}…` : value} (not a setting this app has)`);
  }
  checkKarras(out, unmapped);
  return { source, parameters: out, unmapped };
}

/** A1111's infotext (the `parameters` chunk, or text pasted from its UI). */
export function fromA1111Infotext(text: string): LoadedParameters {
  const imported = toGenerationParams(parseInfotext(text));
  const unmapped: string[] = [];
  const hires = a1111Hires(imported.extra, imported.strength, unmapped);
  const { detailer, used } = a1111Detailer(imported.extra, unmapped);
  const loaded = fromImported(imported, 'a1111', hires, new Set([...A1111_USED_EXTRA, ...used]), detailer);
  loaded.unmapped.unshift(...unmapped);
  if (imported.lora_hashes || imported.ti_hashes) loaded.networks = { loras: imported.lora_hashes ?? {}, embeddings: imported.ti_hashes ?? {} };
  return loaded;
}

/** ComfyUI's `prompt` chunk (an API-format graph). */
export function fromComfyPrompt(json: string): LoadedParameters {
  return fromImported(readComfyPrompt(json), 'comfyui', null, new Set());
}

/** Fooocus's or RuinedFooocus's JSON `parameters` chunk. */
export function fromFooocusParameters(text: string): LoadedParameters {
  return fromImported(readFooocusParameters(text), 'fooocus', null, new Set());
}

/** InvokeAI's `invokeai_metadata` chunk (3.x and later). */
export function fromInvokeAiMetadata(text: string): LoadedParameters {
  return fromImported(readInvokeAiMetadata(text), 'invokeai', null, new Set());
}

/** InvokeAI 2.x's `sd-metadata` chunk. */
export function fromInvokeAiSdMetadata(text: string): LoadedParameters {
  return fromImported(readInvokeAiSdMetadata(text), 'invokeai', null, new Set());
}

/** InvokeAI 2.x's `Dream` chunk (its command line). */
export function fromInvokeAiDream(text: string): LoadedParameters {
  return fromImported(readInvokeAiDream(text), 'invokeai', null, new Set());
}

/** NovelAI's chunks: `Comment` JSON, with `Description` (the prompt) and `Source` (the model). */
export function fromNovelAi(chunks: NovelAiChunks): LoadedParameters {
  return fromImported(readNovelAi(chunks), 'novelai', null, new Set());
}

/**
 * Text chunks of a PNG → parameters. Ours win (exact), then the `parameters` chunk (Fooocus's
 * JSON, else A1111's infotext), ComfyUI's graph, InvokeAI's (newest form first), NovelAI's; if
 * the preferred one cannot be read the next is tried and the failure noted.
 */
export function fromPngTextChunks(chunks: readonly PngTextChunk[]): LoadedParameters {
  const find = (keyword: string) => chunks.find((c) => c.keyword === keyword)?.text;
  const failures: string[] = [];
  const parameters = find('parameters');
  const novelai = { comment: find('Comment'), description: find('Description'), software: find('Software'), source: find('Source') };
  const attempts: Array<[string, string | undefined, (text: string) => LoadedParameters]> = [
    ['Media Lab', find('media-lab'), (text) => fromMediaLabMetadata(parseJson(text, 'Media Lab'))],
    parameters !== undefined && fooocusFlavour(parameters) !== undefined
      ? ['Fooocus', parameters, fromFooocusParameters]
      : ['A1111', parameters, fromA1111Infotext],
    ['ComfyUI', find('prompt'), fromComfyPrompt],
    ['InvokeAI', find('invokeai_metadata'), fromInvokeAiMetadata],
    ['InvokeAI', find('sd-metadata'), fromInvokeAiSdMetadata],
    ['InvokeAI', find('Dream'), fromInvokeAiDream],
    ['NovelAI', isNovelAi(novelai) ? novelai.comment : undefined, (comment) => fromNovelAi({ ...novelai, comment })],
  ];
  for (const [name, text, read] of attempts) {
    if (text === undefined) continue;
    try {
      const loaded = read(text);
      loaded.unmapped.unshift(...failures);
      return loaded;
    } catch (err) {
      failures.push(`the ${name} parameters could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (failures.length) throw new ParametersError(failures.join('; '));
  throw new ParametersError(
    'this PNG holds no generation parameters (no Media Lab, A1111 or Fooocus "parameters", ComfyUI "prompt", InvokeAI or NovelAI text)',
  );
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ParametersError(`the ${what} parameters are not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Largest PNG file read for its parameters. */
export const MAX_PNG_BYTES = 256 * 1024 * 1024;

/** A PNG file's bytes → its parameters (text chunks read with png-text's caps). */
export function readPngParameters(bytes: Uint8Array): LoadedParameters {
  if (bytes.length > MAX_PNG_BYTES) throw new ParametersError(`the file is larger than ${MAX_PNG_BYTES / 2 ** 20} MB`);
  return fromPngTextChunks(readPngTextChunks(bytes));
}

// ---------------------------------------------------------------------------------------------
// Form → pipeline config

/** The values the Generate view submits (every field decided). */
export interface GenerateForm {
  prompt: string;
  negative_prompt: string;
  model: string;
  /** undefined = let the worker draw one (and record it). */
  seed?: number;
  /** A1111's variation seed: absent, or strength 0, = none. */
  subseed?: number;
  subseed_strength?: number;
  steps: number;
  guidance_scale: number;
  scheduler: SchedulerName;
  karras: boolean;
  width: number;
  height: number;
  batch_size: number;
  emphasis: Emphasis;
  hires_fix: HiresFixSettings | null;
  refiner: RefinerSettings | null;
  detailer: DetailerSettings | null;
  upscaler: UpscalerSettings | null;
}

type TextToImageStageInput = Extract<StageConfigInput, { stage_type: 'text_to_image' }>;

/** Stage names in the configs this view builds (progress events and metadata use them). */
export const STAGE_NAMES = { generate: 'text_to_image', hires: 'hires_fix', refiner: 'refiner', detailer: 'detailer', upscaler: 'upscaler' } as const;

/**
 * The pipeline config for a form: text_to_image → hires fix → refiner → detailer → upscaler. The
 * refiner stages get the prompt, sampler and CFG of the generation (their own defaults are an
 * empty prompt), and its seed when one is fixed (otherwise the worker's drawn seed reaches them
 * too). The detailer gets its steps, CFG and sampler, as ADetailer redraws with them; it takes
 * the checkpoint, prompts and seed from the generation's record itself.
 */
export function buildPipelineConfig(form: GenerateForm): PipelineConfigInput & { stages: [TextToImageStageInput, ...StageConfigInput[]] } {
  const shared: Record<string, unknown> = {
    prompt: form.prompt,
    negative_prompt: form.negative_prompt,
    guidance_scale: form.guidance_scale,
    scheduler: form.scheduler,
    karras: form.karras && supportsKarras(form.scheduler),
    emphasis: form.emphasis,
    ...(form.seed !== undefined ? { seed: form.seed } : {}),
  };
  const stages: [TextToImageStageInput, ...StageConfigInput[]] = [
    {
      stage_type: 'text_to_image',
      parameters: {
        ...shared,
        model: form.model,
        steps: form.steps,
        width: form.width,
        height: form.height,
        batch_size: form.batch_size,
        ...(form.subseed !== undefined && form.subseed_strength ? { subseed: form.subseed, subseed_strength: form.subseed_strength } : {}),
      },
    },
  ];
  if (form.hires_fix) {
    stages.push({
      stage_type: 'refiner',
      name: STAGE_NAMES.hires,
      parameters: {
        ...shared,
        model: form.model,
        strength: form.hires_fix.strength,
        steps: form.hires_fix.steps ?? form.steps,
        high_res_fix: { scale: form.hires_fix.scale, upscaler: form.hires_fix.upscaler },
      },
    });
  }
  if (form.refiner) {
    stages.push({
      stage_type: 'refiner',
      name: STAGE_NAMES.refiner,
      parameters: {
        ...shared,
        model: form.refiner.model || form.model,
        strength: form.refiner.strength,
        steps: form.refiner.steps ?? form.steps,
      },
    });
  }
  if (form.detailer) {
    const d = form.detailer;
    const kept: Record<string, unknown> = {};
    for (const key of DETAILER_KEPT_KEYS) if (d[key] !== undefined) kept[key] = d[key];
    stages.push({
      stage_type: 'detailer',
      name: STAGE_NAMES.detailer,
      parameters: {
        steps: form.steps,
        guidance_scale: form.guidance_scale,
        scheduler: form.scheduler,
        karras: shared.karras as boolean,
        emphasis: form.emphasis,
        targets: [...d.targets],
        face_strength: d.face_strength,
        hand_strength: d.hand_strength,
        confidence: d.confidence,
        ...(d.prompt ? { prompt: d.prompt } : {}),
        ...kept,
      },
    });
  }
  if (form.upscaler) {
    stages.push({
      stage_type: 'upscaler',
      parameters: { upscale_factor: form.upscaler.factor, ...(form.upscaler.model ? { model: form.upscaler.model } : {}) },
    });
  }
  return { stages, parameters: {} };
}

/**
 * The registered model a loaded name stands for: the same name, else the same name ignoring case
 * and a file extension (`v1-5-pruned-emaonly.safetensors` ↔ `v1-5-pruned-emaonly`).
 */
export function matchModelName(name: string, registered: readonly string[]): string | undefined {
  if (registered.includes(name)) return name;
  const norm = (n: string) =>
    n
      .replace(/\\/g, '/')
      .split('/')
      .pop()!
      .replace(/\.(safetensors|ckpt|pt|pth|bin|onnx)$/i, '')
      .toLowerCase();
  const wanted = norm(name);
  return registered.find((r) => norm(r) === wanted);
}

/** "prompt, seed, steps" — the fields a load set, in form order, for the notice after loading. */
export function describeLoaded(parameters: GenerationParameters): string[] {
  const names: Array<[keyof GenerationParameters, string]> = [
    ['prompt', 'prompt'],
    ['negative_prompt', 'negative prompt'],
    ['model', 'model'],
    ['scheduler', 'sampler'],
    ['karras', 'Karras'],
    ['steps', 'steps'],
    ['guidance_scale', 'CFG'],
    ['seed', 'seed'],
    ['subseed', 'variation seed'],
    ['width', 'size'],
    ['batch_size', 'batch'],
    ['hires_fix', 'hires fix'],
    ['refiner', 'refiner'],
    ['detailer', 'detailer'],
    ['upscaler', 'upscaler'],
  ];
  return names.filter(([key]) => parameters[key] !== undefined && parameters[key] !== null).map(([, label]) => label);
}

// ---------------------------------------------------------------------------------------------
// What a registered model allows

/** The shape of a registered checkpoint this module reads (a subset of protocol ModelInfo). */
export interface CheckpointShape {
  metadata?: Record<string, unknown>;
  components?: ReadonlyArray<{ role: string; inputs?: ReadonlyArray<{ name: string; shape: ReadonlyArray<number | string> }> }>;
}

/**
 * The one size a static-shape checkpoint makes (its UNet's fixed latent size × 8), or null when
 * its UNet takes any size. Read from the registry's `latent_size`, else the UNet's `sample` input.
 */
export function modelFixedSize(model: CheckpointShape | undefined): { width: number; height: number } | null {
  if (!model) return null;
  const latent = model.metadata?.latent_size;
  if (Array.isArray(latent) && latent.length === 2 && latent.every((v) => isInt(v) && v > 0)) {
    return { width: (latent[1] as number) * 8, height: (latent[0] as number) * 8 };
  }
  const unet = model.components?.find((c) => c.role === 'unet');
  const sample = unet?.inputs?.find((i) => i.name === 'sample') ?? unet?.inputs?.find((i) => i.shape.length === 4);
  const [, , h, w] = sample?.shape ?? [];
  return isInt(h) && isInt(w) && h > 0 && w > 0 ? { width: w * 8, height: h * 8 } : null;
}
