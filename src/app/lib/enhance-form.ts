/**
 * The Enhance form: which stages a run has, what stops it from running, and what its result was.
 * Validity is the protocol's (LIMITS and the field schemas of src/protocol/pipeline-config.ts),
 * the rule the refiner and upscaler stages apply too.
 *
 * Pure (no DOM, no solid, no worker): unit-tested in Node.
 */
import { DEFAULTS, LIMITS, Steps, Strength, UpscaleFactorSchema, type StageConfigInput } from '../../protocol/pipeline-config';
import { hasComponent, type ModelInfo } from '../../protocol/models';
import type { ArtifactSummary, JobResult } from '../../protocol/schemas';
import { basename, formatSize, plainError } from '../format';
import { detailStage, type DetailChoice } from './enhance-detail';
import type { FormProblem } from './form-problem';
import { stageMetadata } from './stage-metadata';

/** The refiner's default denoising strength (the stage's own default). */
export const REFINE_DEFAULT_STRENGTH = DEFAULTS.refiner_strength;
/** The refiner works on latents (1/8 of the image): both sides must be multiples of this. */
export const REFINE_MULTIPLE = LIMITS.side.multiple;
/** The refine inputs' ranges (min / max attributes): the protocol's limits. */
export const REFINE_RANGES = {
  strength: { min: LIMITS.strength.min, max: LIMITS.strength.max, step: 0.05 },
  steps: { min: LIMITS.steps.min, max: LIMITS.steps.max, step: 1 },
} as const;

/** What the user chose for the optional refiner (img2img) stage. */
export interface RefineChoice {
  /** A verified checkpoint's registry name. */
  model: string;
  strength: number;
  prompt: string;
  /** Absent = the checkpoint's default steps. */
  steps?: number;
}

/** The stages of one enhance job, in the order they run. */
export interface EnhancePlan {
  refine: RefineChoice | null;
  detail?: DetailChoice | null;
  upscale: { factor: number; model?: string } | null;
}

/**
 * The pipeline's stages for a plan: refiner, detailer, upscaler, each if chosen, in that order
 * (the detailer redraws faces at the image's own scale; the upscaler enlarges the finished image).
 */
export function buildEnhanceStages(plan: EnhancePlan): StageConfigInput[] {
  const stages: StageConfigInput[] = [];
  if (plan.refine) {
    const prompt = plan.refine.prompt.trim();
    stages.push({
      stage_type: 'refiner',
      parameters: {
        strength: plan.refine.strength,
        ...(plan.refine.model ? { model: plan.refine.model } : {}),
        ...(prompt ? { prompt } : {}),
        ...(plan.refine.steps !== undefined ? { steps: plan.refine.steps } : {}),
      },
    });
  }
  if (plan.detail) stages.push(detailStage(plan.detail));
  if (plan.upscale) {
    stages.push({
      stage_type: 'upscaler',
      parameters: { upscale_factor: plan.upscale.factor, ...(plan.upscale.model ? { model: plan.upscale.model } : {}) },
    });
  }
  return stages;
}

/** Why an image of this size cannot be refined, or null. */
export function refineSizeProblem(size: { width: number; height: number }): string | null {
  const { width, height } = size;
  if (width % REFINE_MULTIPLE === 0 && height % REFINE_MULTIPLE === 0) return null;
  const down = (v: number) => Math.max(REFINE_MULTIPLE, Math.floor(v / REFINE_MULTIPLE) * REFINE_MULTIPLE);
  const up = (v: number) => Math.ceil(v / REFINE_MULTIPLE) * REFINE_MULTIPLE;
  return (
    `This image is ${formatSize(width, height)}: the refiner needs a width and height that are multiples of ` +
    `${REFINE_MULTIPLE} (e.g. ${formatSize(down(width), down(height))} or ${formatSize(up(width), up(height))}). ` +
    `Crop or resize it first, or untick “Refine first” to only upscale.`
  );
}

/** A blocking reason for the refine settings. */
export type RefineProblem = FormProblem;

export const REFINE_MESSAGES = {
  strength: `Strength must be a number from ${LIMITS.strength.min} to ${LIMITS.strength.max}.`,
  steps: `Steps must be a whole number from ${LIMITS.steps.min} to ${LIMITS.steps.max} (or empty for the model’s default).`,
} as const;

/** img2img starts by encoding the image: only checkpoints with a VAE encoder can refine. */
export const canRefineWith = (m: ModelInfo): boolean => hasComponent(m, 'vae_encoder');

export interface RefineState {
  /** The checkpoint list: undefined while loading; `error` when it could not be listed. */
  checkpoints: readonly ModelInfo[] | undefined;
  checkpointsError?: unknown;
  /** The checkpoint the refiner would use ('' = none can). */
  model: string;
  inputSize: { width: number; height: number } | null;
  strength: number;
  /** null = the checkpoint's default. */
  steps: number | null;
}

/** Everything that stops the refiner from running now (all of it, so one fix is not followed by another surprise). */
export function refineProblems(state: RefineState): RefineProblem[] {
  const problems: RefineProblem[] = [];
  if (state.checkpointsError) {
    problems.push({ kind: 'model', message: `Could not list the checkpoints: ${plainError(state.checkpointsError)}` });
  } else if (state.checkpoints === undefined) {
    problems.push({ kind: 'loading', message: 'Looking for checkpoints…' });
  } else if (!state.model) {
    problems.push({ kind: 'model', message: noCheckpointMessage(state.checkpoints, 'refine') });
  }
  const sizeProblem = state.inputSize ? refineSizeProblem(state.inputSize) : null;
  if (sizeProblem) problems.push({ kind: 'size', message: sizeProblem });
  if (!Strength.safeParse(state.strength).success) problems.push({ kind: 'value', message: REFINE_MESSAGES.strength });
  if (state.steps !== null && !Steps.safeParse(state.steps).success) problems.push({ kind: 'value', message: REFINE_MESSAGES.steps });
  return problems;
}

/** Why no checkpoint can refine (or detail) an image, and what to do. */
export function noCheckpointMessage(list: readonly ModelInfo[], use: 'refine' | 'detail'): string {
  const all = list.filter((m) => m.model_type === 'checkpoint');
  const who = use === 'refine' ? 'the refiner' : 'the detailer';
  if (all.some((m) => m.status === 'verified')) {
    return (
      `None of the imported checkpoints has a VAE encoder, which ${who} needs to start from an image ` +
      '(the SD-Turbo export for onnxruntime-web has none). Import a diffusers / Optimum ONNX folder with ' +
      'vae_encoder/ on the Models view (Import folder…).'
    );
  }
  if (all.length > 0) {
    return (
      `No checkpoint is ready: ${all.map((m) => `“${m.name}” is ${m.status === 'importing' ? 'still importing' : 'not verified'}`).join(', ')}. ` +
      'Check it on the Models view, or import another Stable Diffusion ONNX folder there (Import folder…).'
    );
  }
  return (
    `${use === 'refine' ? 'Refining' : 'Redrawing faces, hands or a mask'} needs a Stable Diffusion checkpoint, and none is imported. ` +
    'Import an ONNX model folder on the Models view (Import folder…, or drop the folder there), then come back. Upscaling alone needs none.'
  );
}

/** Why an upscale factor cannot run (the protocol's words), or null. */
export function factorProblem(factor: number): string | null {
  const parsed = UpscaleFactorSchema.safeParse(factor);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? 'the upscale factor is not one of the allowed ones');
}

// ---------------------------------------------------------------------------------------------
// The result

/** What a run was asked to do (for messages and for what its result does not say). */
export interface EnhanceRun {
  /** Stage types in order (`refiner`, `detailer`, `upscaler`). */
  stages: string[];
  factor: number;
  model?: string;
  refine: RefineChoice | null;
  detail?: DetailChoice | null;
}

export interface EnhanceOutcome {
  artifactId: string;
  name: string;
  url: string;
  width?: number;
  height?: number;
  bytes?: number;
  /** Time the stages spent working (from their metadata). */
  ms?: number;
  /** From submit to the result being loaded, as the user waited. */
  totalMs: number;
  backend?: string;
  model?: string;
  /** 1 when nothing was upscaled. */
  factor: number;
  /** The stage types that ran, in order. */
  stages: string[];
  /** Set when the refiner ran. */
  refine?: { model?: string; strength?: number };
  /** Set when the detailer ran: what it redrew (or why nothing, e.g. "no face found"). */
  detail?: { mode: string; regions: number; strength?: number; model?: string; message?: string };
}

const STAGE_VERBS: Record<string, string> = { refiner: 'refine', detailer: 'detail', upscaler: 'upscale' };

/** "upscale", "refine", "refine + detail + upscale": what the run does, for messages. */
export function runNoun(stages: readonly string[]): string {
  return stages.length === 0 ? 'upscale' : stages.map((stage) => STAGE_VERBS[stage] ?? stage).join(' + ');
}

/** The data key each stage stores its artifact id under. */
const ARTIFACT_KEY: Record<string, string> = { refiner: 'refined_artifact', detailer: 'detailed_artifact', upscaler: 'upscaled_artifact' };
/** The artifact name each stage writes (before the gallery knows it). */
const ARTIFACT_NAME: Record<string, string> = {
  refiner: 'generated_refined.png',
  detailer: 'generated_detailed.png',
  upscaler: 'generated_upscaled.png',
};

/** The artifact a finished run made (the last stage's image), or undefined. */
export function resultArtifact(result: JobResult, run: EnhanceRun, lastSeen?: string): string | undefined {
  const last = run.stages[run.stages.length - 1] ?? 'upscaler';
  const fromData = result.data?.[ARTIFACT_KEY[last] ?? 'upscaled_artifact'];
  return typeof fromData === 'string' ? fromData : (lastSeen ?? result.artifacts[result.artifacts.length - 1]);
}

/** The outcome shown for a finished run, from its typed stage metadata (and the run, for what it does not say). */
export function enhanceOutcome(
  result: JobResult,
  run: EnhanceRun,
  found: { artifactId: string; summary?: ArtifactSummary; blobSize: number; url: string; totalMs: number; elapsedMs?: number },
): EnhanceOutcome {
  const { stages } = run;
  const last = stages[stages.length - 1] ?? 'upscaler';
  // Metadata is keyed by stage name, which is the stage type here (the Enhance view names none).
  const upscaler = stageMetadata(result.metadata, 'upscaler');
  const refiner = stageMetadata(result.metadata, 'refiner');
  const detailer = stageMetadata(result.metadata, 'detailer');
  const lastMeta = last === 'refiner' ? refiner : last === 'detailer' ? detailer : upscaler;
  const ran = [refiner, detailer, upscaler].filter((m) => m !== undefined);
  const ms = ran.length === stages.length && ran.length > 0 ? ran.reduce((sum, m) => sum + m.ms, 0) : (lastMeta?.ms ?? found.elapsedMs);
  const summary = found.summary;
  const upscaled = stages.includes('upscaler');
  return {
    artifactId: found.artifactId,
    name: basename(summary?.name ?? ARTIFACT_NAME[last] ?? 'generated_upscaled.png'),
    url: found.url,
    width: summary?.width || lastMeta?.output_size[0],
    height: summary?.height || lastMeta?.output_size[1],
    bytes: summary?.bytes ?? found.blobSize,
    ms,
    totalMs: found.totalMs,
    backend: upscaler?.backend,
    model: lastMeta?.model ?? (last === 'refiner' ? run.refine?.model : last === 'detailer' ? run.detail?.model : run.model),
    factor: upscaled ? (upscaler?.upscale_factor ?? run.factor) : 1,
    stages: [...stages],
    refine: stages.includes('refiner') ? { model: refiner?.model ?? run.refine?.model, strength: refiner?.strength ?? run.refine?.strength } : undefined,
    detail: stages.includes('detailer')
      ? {
          mode: detailer?.mode ?? (run.detail?.mode === 'mask' ? 'inpainting' : 'detect'),
          regions: detailer?.regions.length ?? 0,
          strength: detailer && detailer.regions.length > 0 ? detailer.strength : undefined,
          model: detailer?.model || run.detail?.model,
          ...(detailer?.message ? { message: detailer.message } : {}),
        }
      : undefined,
  };
}
