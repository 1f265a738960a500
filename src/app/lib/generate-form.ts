/**
 * The Generate form's values as typed → a GenerateForm to submit, or a message per field saying
 * what is wrong. Validity is the protocol's (src/protocol/pipeline-config.ts: its LIMITS and field
 * schemas), the one rule the stages apply too: a value this form accepts is one the job accepts.
 *
 * Pure (no DOM, no solid): unit-tested in Node.
 */
import {
  BatchSize,
  DEFAULT_SCHEDULER,
  DEFAULTS,
  DetailerParameters,
  GuidanceScale,
  HighResFix,
  LIMITS,
  MAX_OUTPUT_PIXELS,
  Seed,
  side,
  Steps,
  Strength,
  SubseedStrength,
  supportsKarras,
  UPSCALE_FACTORS,
  UpscaleFactorSchema,
  type Emphasis,
  type SchedulerName,
} from '../../protocol/pipeline-config';
import type { DetailerKept, DetailerSettings, GenerateForm, UpscalerSettings } from './generation-parameters';

/** The number inputs' ranges (their min / max / step attributes): the protocol's limits. */
export const FORM_RANGES = {
  steps: { min: LIMITS.steps.min, max: LIMITS.steps.max, step: 1 },
  cfg: { min: LIMITS.guidance_scale.min, max: LIMITS.guidance_scale.max, step: 0.5 },
  side: { min: LIMITS.side.min, max: LIMITS.side.max, step: LIMITS.side.multiple },
  batch: { min: LIMITS.batch_size.min, max: LIMITS.batch_size.max, step: 1 },
  strength: { min: LIMITS.strength.min, max: LIMITS.strength.max, step: 0.05 },
  hiresScale: { min: LIMITS.high_res_scale.above + 0.05, max: LIMITS.high_res_scale.max, step: 0.05 },
  confidence: { min: LIMITS.confidence.min, max: LIMITS.confidence.max, step: 0.05 },
} as const;

/** What the form starts with, before a model's defaults or loaded parameters fill it. */
export const INITIAL_FORM = {
  scheduler: DEFAULT_SCHEDULER as SchedulerName,
  steps: String(DEFAULTS.steps),
  cfg: String(DEFAULTS.guidance_scale),
  side: String(DEFAULTS.side),
  batch: String(DEFAULTS.batch_size),
  emphasis: DEFAULTS.emphasis as Emphasis,
  hiresScale: '2',
  hiresUpscaler: DEFAULTS.hires_upscaler as string,
  hiresStrength: String(DEFAULTS.hires_strength),
  refinerStrength: String(DEFAULTS.refiner_strength),
  upscaleFactor: DEFAULTS.upscale_factor as number,
  faceStrength: String(DEFAULTS.face_strength),
  handStrength: String(DEFAULTS.hand_strength),
  confidence: String(DEFAULTS.confidence),
} as const;

export interface FieldErrors {
  prompt?: string;
  model?: string;
  steps?: string;
  cfg?: string;
  seed?: string;
  variation?: string;
  width?: string;
  height?: string;
  batch?: string;
  hires?: string;
  refiner?: string;
  detailer?: string;
  upscaler?: string;
}

/** The form as typed: numbers are text until checked, so a half-typed value never becomes a silent default. */
export interface GenerateFormText {
  prompt: string;
  negativePrompt: string;
  scheduler: SchedulerName;
  karras: boolean;
  steps: string;
  cfg: string;
  seedText: string;
  /** Unlocked = the worker draws a seed. */
  seedLocked: boolean;
  /** A1111's variation seed and its strength (0 or empty = none). */
  variationSeed: string;
  variationStrength: string;
  width: string;
  height: string;
  batchSize: string;
  emphasis: Emphasis;
  hires: { on: boolean; scale: string; upscaler: string; strength: string; steps: string };
  refiner: { on: boolean; strength: string; model: string; steps: string };
  detailer: DetailerFormText;
  upscale: { on: boolean; factor: number; model: string };
}

/** The detailer's part of the form. */
export interface DetailerFormText {
  on: boolean;
  face: boolean;
  hand: boolean;
  faceStrength: string;
  handStrength: string;
  confidence: string;
  /** '' = the generation's prompt. */
  prompt: string;
  /** From a loaded file: settings the form does not show, passed on as they were. */
  kept: DetailerKept;
}

/** The detailer's part of a fresh form (off, faces only, ADetailer's defaults). */
export const initialDetailerText = (): DetailerFormText => ({
  on: false,
  face: DEFAULTS.detailer_targets.includes('face'),
  hand: DEFAULTS.detailer_targets.includes('hand'),
  faceStrength: INITIAL_FORM.faceStrength,
  handStrength: INITIAL_FORM.handStrength,
  confidence: INITIAL_FORM.confidence,
  prompt: '',
  kept: {},
});

/** What the form is checked against besides its own values. */
export interface GenerateFormContext {
  /** The chosen (usable) model, '' when there is none. */
  model: string;
  /** How many checkpoints are registered at all (for the message when none is usable). */
  registeredCount: number;
  /** Names of the usable (verified) checkpoints. */
  usableModels: readonly string[];
  /** The one size a fixed-shape model makes. */
  fixedSize: { width: number; height: number } | null;
  /** Saving a config: an empty prompt and no model are allowed. */
  forSave?: boolean;
}

export interface CheckedForm {
  form?: GenerateForm;
  errors: FieldErrors;
}

const WHOLE = /^\s*\d+\s*$/;
const DECIMAL = /^\s*(\d+\.?\d*|\.\d+)\s*$/;

/** A whole number as typed, or undefined ("1.5", "", "-1", "abc"). */
export function parseWhole(text: string): number | undefined {
  return WHOLE.test(text) ? Number(text) : undefined;
}
/** A non-negative decimal as typed, or undefined. */
export function parseDecimal(text: string): number | undefined {
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** The value when the protocol's schema accepts it. */
const valid = <T>(schema: { safeParse(v: unknown): { success: boolean } }, value: T | undefined): value is T =>
  value !== undefined && schema.safeParse(value).success;

const WIDTH = side('width');
const HEIGHT = side('height');

const { steps: S, guidance_scale: G, side: SIDE, batch_size: B, seed: SEED, strength: STR, high_res_scale: HR } = LIMITS;
export const MESSAGES = {
  noModel: 'No image model is registered. Import a Stable Diffusion checkpoint (an ONNX export) in the Models view first.',
  notReady: 'None of the registered checkpoints is ready (verified); see the Models view.',
  prompt: 'Write a prompt first: describe the image to make.',
  steps: `Steps must be a whole number from ${S.min} to ${S.max}.`,
  cfg: `CFG must be a number from ${G.min} to ${G.max}.`,
  seed: `The seed must be a whole number from ${SEED.min} to ${SEED.max}.`,
  variationSeed: `The variation seed must be a whole number from ${SEED.min} to ${SEED.max} (or set the variation strength to 0).`,
  variationStrength: 'The variation strength must be a number from 0 to 1.',
  side: (what: string) => `${what} must be a multiple of ${SIDE.multiple} from ${SIDE.min} to ${SIDE.max}.`,
  batch: `Batch must be a whole number from ${B.min} to ${B.max}.`,
  hiresScale: `Hires fix scale must be more than ${HR.above} and at most ${HR.max}.`,
  hiresStrength: `Hires fix denoising strength must be from ${STR.min} to ${STR.max}.`,
  hiresSteps: `Hires fix steps must be empty (same as above) or ${S.min} to ${S.max}.`,
  refinerStrength: `Refiner strength must be from ${STR.min} to ${STR.max}.`,
  refinerSteps: `Refiner steps must be empty (same as above) or ${S.min} to ${S.max}.`,
  factor: `The upscale factor must be one of ${UPSCALE_FACTORS.map((f) => `×${f}`).join(', ')}.`,
  detailerTargets: 'The detailer needs something to look for: tick Faces, Hands or both.',
  faceStrength: `Face strength must be from ${STR.min} to ${STR.max}.`,
  handStrength: `Hand strength must be from ${STR.min} to ${STR.max}.`,
  confidence: `Detection confidence must be from ${LIMITS.confidence.min} to ${LIMITS.confidence.max}.`,
} as const;

/** Optional steps ('' = the generation's): undefined when empty, null when wrong. */
function optionalSteps(text: string): number | undefined | null {
  if (!text.trim()) return undefined;
  const value = parseWhole(text);
  return valid(Steps, value) ? value : null;
}

/** The form as a GenerateForm, or what is wrong with each field. */
export function checkGenerateForm(text: GenerateFormText, context: GenerateFormContext): CheckedForm {
  const errors: FieldErrors = {};
  const { model: name, fixedSize: fixed, forSave = false } = context;
  if (!name && !forSave) errors.model = context.registeredCount === 0 ? MESSAGES.noModel : MESSAGES.notReady;
  if (!forSave && text.prompt.trim() === '') errors.prompt = MESSAGES.prompt;

  const steps = parseWhole(text.steps);
  if (!valid(Steps, steps)) errors.steps = MESSAGES.steps;
  const cfg = parseDecimal(text.cfg);
  if (!valid(GuidanceScale, cfg)) errors.cfg = MESSAGES.cfg;

  let seed: number | undefined;
  if (text.seedLocked) {
    const s = parseWhole(text.seedText);
    if (valid(Seed, s)) seed = s;
    else errors.seed = MESSAGES.seed;
  }

  // The variation seed only counts with a strength above 0 (A1111's "Extra" off otherwise).
  let variation: { subseed: number; subseed_strength: number } | undefined;
  const vStrength = text.variationStrength.trim() === '' ? 0 : parseDecimal(text.variationStrength);
  if (!valid(SubseedStrength, vStrength)) errors.variation = MESSAGES.variationStrength;
  else if (vStrength! > 0) {
    const subseed = parseWhole(text.variationSeed);
    if (valid(Seed, subseed)) variation = { subseed: subseed!, subseed_strength: vStrength! };
    else errors.variation = MESSAGES.variationSeed;
  }

  const w = parseWhole(text.width);
  const h = parseWhole(text.height);
  if (!valid(WIDTH, w)) errors.width = MESSAGES.side('Width');
  if (!valid(HEIGHT, h)) errors.height = MESSAGES.side('Height');
  if (!errors.width && !errors.height && fixed && (w !== fixed.width || h !== fixed.height)) {
    errors.width = `${name} only makes ${fixed.width}×${fixed.height} images (its UNet has a fixed size). Set the size to ${fixed.width}×${fixed.height}, or pick another model.`;
  }
  const batchSize = parseWhole(text.batchSize);
  if (!valid(BatchSize, batchSize)) errors.batch = MESSAGES.batch;

  let hires: GenerateForm['hires_fix'] = null;
  if (text.hires.on) {
    const scale = parseDecimal(text.hires.scale);
    const upscaler = text.hires.upscaler || DEFAULTS.hires_upscaler;
    const strength = parseDecimal(text.hires.strength);
    const hSteps = optionalSteps(text.hires.steps);
    if (!valid(HighResFix, scale === undefined ? undefined : { scale, upscaler })) errors.hires = MESSAGES.hiresScale;
    else if (!valid(Strength, strength)) errors.hires = MESSAGES.hiresStrength;
    else if (hSteps === null) errors.hires = MESSAGES.hiresSteps;
    else if (fixed && w && h) {
      const to = (v: number) => Math.round((v * scale!) / SIDE.multiple) * SIDE.multiple;
      errors.hires = `${name} only makes ${fixed.width}×${fixed.height} images, so it cannot refine a ${to(w)}×${to(h)} hires fix.`;
    } else hires = { scale: scale!, upscaler, strength, ...(hSteps !== undefined ? { steps: hSteps } : {}) };
  }

  let refiner: GenerateForm['refiner'] = null;
  if (text.refiner.on) {
    const strength = parseDecimal(text.refiner.strength);
    const rSteps = optionalSteps(text.refiner.steps);
    const rModel = text.refiner.model;
    if (!valid(Strength, strength)) errors.refiner = MESSAGES.refinerStrength;
    else if (rSteps === null) errors.refiner = MESSAGES.refinerSteps;
    else if (rModel && !context.usableModels.includes(rModel)) errors.refiner = `The refiner model '${rModel}' is not a ready checkpoint.`;
    else refiner = { strength, ...(rModel ? { model: rModel } : {}), ...(rSteps !== undefined ? { steps: rSteps } : {}) };
  }

  let detailer: GenerateForm['detailer'] = null;
  if (text.detailer.on) {
    const d = text.detailer;
    const targets = [...(d.face ? (['face'] as const) : []), ...(d.hand ? (['hand'] as const) : [])];
    const faceStrength = parseDecimal(d.faceStrength);
    const handStrength = parseDecimal(d.handStrength);
    const confidence = parseDecimal(d.confidence);
    const shape = DetailerParameters.shape;
    if (!valid(shape.targets, targets)) errors.detailer = MESSAGES.detailerTargets;
    else if (!valid(shape.face_strength, faceStrength)) errors.detailer = MESSAGES.faceStrength;
    else if (!valid(shape.hand_strength, handStrength)) errors.detailer = MESSAGES.handStrength;
    else if (!valid(shape.confidence, confidence)) errors.detailer = MESSAGES.confidence;
    else {
      const settings: DetailerSettings = { targets, face_strength: faceStrength, hand_strength: handStrength, confidence, ...d.kept };
      if (d.prompt.trim()) settings.prompt = d.prompt;
      detailer = settings;
    }
  }

  let upscaler: GenerateForm['upscaler'] = null;
  if (text.upscale.on) {
    const factor = text.upscale.factor;
    const scale = hires?.scale ?? 1;
    const [outW, outH] = [Math.round((w ?? 0) * scale * factor), Math.round((h ?? 0) * scale * factor)];
    if (!UpscaleFactorSchema.safeParse(factor).success) errors.upscaler = MESSAGES.factor;
    else if (outW * outH > MAX_OUTPUT_PIXELS) {
      errors.upscaler = `×${factor} would make ${outW}×${outH}; the largest upscale result is ${(MAX_OUTPUT_PIXELS / 1e6).toFixed(1)} MP.`;
    } else upscaler = { factor: factor as UpscalerSettings['factor'], ...(text.upscale.model ? { model: text.upscale.model } : {}) };
  }

  for (const key of Object.keys(errors) as Array<keyof FieldErrors>) if (!errors[key]) delete errors[key];
  if (Object.keys(errors).length > 0) return { errors };
  return {
    errors,
    form: {
      prompt: text.prompt,
      negative_prompt: text.negativePrompt,
      model: name,
      ...(seed !== undefined ? { seed } : {}),
      ...(variation ?? {}),
      steps: steps!,
      guidance_scale: cfg!,
      scheduler: text.scheduler,
      karras: text.karras && supportsKarras(text.scheduler),
      width: w!,
      height: h!,
      batch_size: batchSize!,
      emphasis: text.emphasis,
      hires_fix: hires,
      refiner,
      detailer,
      upscaler,
    },
  };
}

/** What a checkpoint's family says (src/protocol/models.ts FamilySettings, the parts read here). */
export interface ModelDefaults {
  default_steps?: number;
  default_cfg?: number;
  default_scheduler?: SchedulerName;
}

/**
 * The fields a newly picked model changes (an SD-Turbo wants 1 step and CFG 0; a fixed-size export
 * only one size), and how to say so. On the first pick (the list just arrived) what the user
 * typed stays: only fields still at their initial values change; a fixed size always wins, as the
 * model cannot make another.
 */
export function modelDefaultsPatch(
  family: ModelDefaults | undefined,
  fixedSize: { width: number; height: number } | null,
  form: Pick<GenerateFormText, 'steps' | 'cfg' | 'scheduler' | 'width' | 'height'>,
  firstPick: boolean,
): { patch: Partial<GenerateFormText>; changed: string[] } {
  const patch: Partial<GenerateFormText> = {};
  const changed: string[] = [];
  const mayChange = (value: string, initial: string) => !firstPick || value === initial;
  const { default_steps: steps, default_cfg: cfg, default_scheduler: scheduler } = family ?? {};
  if (steps !== undefined && String(steps) !== form.steps && mayChange(form.steps, INITIAL_FORM.steps)) {
    patch.steps = String(steps);
    changed.push(`${steps} steps`);
  }
  if (cfg !== undefined && String(cfg) !== form.cfg && mayChange(form.cfg, INITIAL_FORM.cfg)) {
    patch.cfg = String(cfg);
    changed.push(`CFG ${cfg}`);
  }
  if (scheduler && scheduler !== form.scheduler && mayChange(form.scheduler, INITIAL_FORM.scheduler)) {
    patch.scheduler = scheduler;
    changed.push(scheduler);
  }
  if (fixedSize && (String(fixedSize.width) !== form.width || String(fixedSize.height) !== form.height)) {
    Object.assign(patch, { width: String(fixedSize.width), height: String(fixedSize.height) });
    changed.push(`${fixedSize.width}×${fixedSize.height} (its only size)`);
  }
  return { patch, changed };
}

/** The first message of a check, for the banner under the form. */
export const firstError = (errors: FieldErrors): string | null => Object.values(errors).find(Boolean) ?? null;
