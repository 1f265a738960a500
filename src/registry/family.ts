/**
 * A checkpoint's family (SD 1.x, SD 2.x, SD-Turbo, LCM) and the sampling defaults it implies,
 * inferred from its text encoder's width, its configs and its name. Separate from classify.ts,
 * which says what each ONNX file is; this says what the files together are.
 */
import { FamilySettings, padTokenForTextEncoderWidth } from '../protocol/models';

export interface FamilyEvidence {
  /** Width of the text encoder's last_hidden_state (null/undefined when symbolic or absent). */
  textEncoderHidden?: number | null;
  /** `prediction_type` from the UNet's config, when the folder has one. */
  unetPredictionType?: string;
  /** Parsed scheduler/scheduler_config.json. */
  schedulerConfig?: Record<string, unknown>;
  /** Parsed model_index.json. */
  modelIndex?: Record<string, unknown>;
  /** The model's name (its folder name, as the user picked it). */
  name: string;
}

type Scheduler = FamilySettings['default_scheduler'];
type Spacing = NonNullable<FamilySettings['timestep_spacing']>;
type Family = FamilySettings['family'];

/** diffusers scheduler classes → the studio's samplers (PNDM/LMS/… have no counterpart). */
const SCHEDULER_CLASSES: Record<string, Scheduler> = {
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler_a',
  DDIMScheduler: 'ddim',
  DPMSolverMultistepScheduler: 'dpmpp_2m',
  LCMScheduler: 'lcm',
};

/** Sampling defaults per family. SD 1.x/2.x follow A1111's habits (DPM++ 2M, 25 steps, CFG 7). */
const FAMILY_DEFAULTS: Record<Family, { steps: number; cfg: number; scheduler: Scheduler; spacing: Spacing; why: string }> = {
  sd1: { steps: 25, cfg: 7, scheduler: 'dpmpp_2m', spacing: 'leading', why: 'A1111-like default for SD 1.x' },
  sd2: { steps: 25, cfg: 7, scheduler: 'dpmpp_2m', spacing: 'leading', why: 'A1111-like default for SD 2.x' },
  // Turbo is distilled for 1–4 steps without guidance; it needs trailing spacing to start at t=999.
  'sd-turbo': { steps: 1, cfg: 0, scheduler: 'euler', spacing: 'trailing', why: 'SD-Turbo default (1 step, no guidance)' },
  // LCM: 4 steps; CFG 1–1.5 works, 1 skips the unconditional pass (twice as fast).
  lcm: { steps: 4, cfg: 1, scheduler: 'lcm', spacing: 'leading', why: 'LCM default (4 steps, CFG 1; 1–1.5 works)' },
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Family settings for a checkpoint, each value with where it came from. Precedence: the
 * scheduler config's prediction_type / timestep_spacing / class win over everything; then the
 * UNet config; then model_index.json and the name (turbo, lcm); then the text encoder's width
 * (768 → SD 1.x, 1024 → SD 2.x).
 *
 * SD 2.x prediction type without a config: 2.0/2.1 at 768 px are v-prediction, the 512 px
 * "base" and inpainting models epsilon. Most 2.x downloads are the 768 v-models, so v_prediction
 * is the default unless the name says base/512/inpaint; "768" or "v-pred" in the name confirms
 * it. A wrong guess gives grey or noisy images, so the UI shows the source and lets it be edited.
 */
export function inferFamily(evidence: FamilyEvidence): FamilySettings {
  const { textEncoderHidden: hidden, schedulerConfig: scheduler = {}, modelIndex = {}, name } = evidence;
  const sources: Record<string, string> = {};
  const schedulerClass = str(scheduler._class_name);
  const indexScheduler = Array.isArray(modelIndex.scheduler) ? str(modelIndex.scheduler[1]) : undefined;
  const indexClass = str(modelIndex._class_name) ?? '';
  const indexPath = str(modelIndex._name_or_path) ?? '';

  // Family
  let family: Family;
  if (schedulerClass === 'LCMScheduler' || indexScheduler === 'LCMScheduler' || /LatentConsistency/.test(indexClass)) {
    family = 'lcm';
    sources.family = schedulerClass === 'LCMScheduler' ? 'scheduler_config.json (LCMScheduler)' : 'model_index.json';
  } else if (/lcm/i.test(name)) {
    family = 'lcm';
    sources.family = `the name ("${name}")`;
  } else if (/turbo/i.test(name) || /turbo/i.test(indexPath)) {
    family = 'sd-turbo';
    sources.family = /turbo/i.test(name) ? `the name ("${name}")` : 'model_index.json';
  } else if (hidden === 1024) {
    family = 'sd2';
    sources.family = 'text encoder width 1024 (OpenCLIP ViT-H: SD 2.x)';
  } else if (hidden === 768) {
    family = 'sd1';
    sources.family = 'text encoder width 768 (CLIP ViT-L: SD 1.x)';
  } else {
    family = 'sd1';
    sources.family = `assumed SD 1.x (text encoder width ${hidden ?? 'unknown'})`;
  }
  const defaults = FAMILY_DEFAULTS[family];

  // Padding token: CLIP ViT-L's tokenizer pads with <|endoftext|> (49407), OpenCLIP's with 0.
  let pad_token_id: number;
  if (hidden === 768 || hidden === 1024) {
    pad_token_id = padTokenForTextEncoderWidth(hidden);
    sources.pad_token_id = `text encoder width ${hidden}`;
  } else {
    pad_token_id = padTokenForTextEncoderWidth(family === 'sd2' || family === 'sd-turbo' ? 1024 : 768);
    sources.pad_token_id = `${family} default`;
  }

  // Prediction type
  let prediction_type: FamilySettings['prediction_type'];
  const fromScheduler = str(scheduler.prediction_type);
  if (fromScheduler === 'epsilon' || fromScheduler === 'v_prediction') {
    prediction_type = fromScheduler;
    sources.prediction_type = 'scheduler_config.json';
  } else if (evidence.unetPredictionType === 'epsilon' || evidence.unetPredictionType === 'v_prediction') {
    prediction_type = evidence.unetPredictionType;
    sources.prediction_type = 'the UNet config';
  } else if (family === 'sd2') {
    if (/v[-_ ]?pred|768/i.test(name)) {
      prediction_type = 'v_prediction';
      sources.prediction_type = `the name ("${name}")`;
    } else if (/base|512|inpaint/i.test(name)) {
      prediction_type = 'epsilon';
      sources.prediction_type = `the name ("${name}": a 512 px base or inpainting model)`;
    } else {
      prediction_type = 'v_prediction';
      sources.prediction_type = 'SD 2.x default (the 768 px 2.0/2.1 models are v-prediction; 512 px base models are epsilon)';
    }
  } else {
    prediction_type = 'epsilon';
    sources.prediction_type = `${family} default`;
  }

  // Timestep spacing
  let timestep_spacing: Spacing = defaults.spacing;
  const spacing = str(scheduler.timestep_spacing);
  if (spacing === 'linspace' || spacing === 'leading' || spacing === 'trailing') {
    timestep_spacing = spacing;
    sources.timestep_spacing = 'scheduler_config.json';
  } else {
    sources.timestep_spacing = `${family} default`;
  }

  // Sampler: the scheduler config's class when the studio has it (LCM models need the LCM sampler).
  let default_scheduler = defaults.scheduler;
  const mapped = schedulerClass ? SCHEDULER_CLASSES[schedulerClass] : undefined;
  if (mapped && family !== 'lcm') {
    default_scheduler = mapped;
    sources.default_scheduler = `scheduler_config.json (${schedulerClass})`;
  } else {
    sources.default_scheduler = defaults.why;
  }
  sources.default_steps = defaults.why;
  sources.default_cfg = defaults.why;

  return FamilySettings.parse({
    family,
    prediction_type,
    default_steps: defaults.steps,
    default_cfg: defaults.cfg,
    default_scheduler,
    pad_token_id,
    timestep_spacing,
    sources,
  });
}
