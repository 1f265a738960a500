/**
 * The text a PNG of ours carries, made from the metadata a stage recorded for the image: our
 * `media-lab` JSON always, and A1111's `parameters` infotext for generated, refined and detailed
 * images so other tools can read them. Pure: the worker's artifact sink adds the chunks and
 * stores the file.
 */
import { DETAILER_TARGETS, SCHEDULER_NAMES, type DetailerTarget, type SchedulerName } from '../protocol/pipeline-config';
import type { ArtifactMetadata, DetailerMetadata } from '../protocol/stage-results';
import { adetailerParams, formatInfotext, formatNameHashes, samplerToA1111, type AdetailerTab } from './infotext';

/**
 * A1111's `Lora hashes` and `TI hashes` for the LoRAs and embeddings a stage used (the stage
 * records them as `{name: short hash}`); nothing when it used none.
 */
function networkHashes(metadata: ArtifactMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  const fields = metadata as { lora_hashes?: unknown; ti_hashes?: unknown };
  const hashes = (value: unknown) =>
    Object.fromEntries(Object.entries(value !== null && typeof value === 'object' ? value : {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const loras = hashes(fields.lora_hashes);
  const embeddings = hashes(fields.ti_hashes);
  if (Object.keys(loras).length) out['Lora hashes'] = formatNameHashes(loras);
  if (Object.keys(embeddings).length) out['TI hashes'] = formatNameHashes(embeddings);
  return out;
}

/**
 * Parameters travel with the image: our JSON (the stage's metadata, and the whole job) always,
 * and A1111's `parameters` text for generated, refined and detailed images so other tools can
 * read them.
 */
export function textChunks(metadata: ArtifactMetadata): Array<{ keyword: string; text: string }> {
  const chunks = [{ keyword: 'media-lab', text: JSON.stringify(metadata) }];
  const infotext = a1111Infotext(metadata);
  if (infotext) chunks.unshift({ keyword: 'parameters', text: infotext });
  return chunks;
}

/**
 * A1111's infotext for a generated (txt2img) or refined (img2img, "Denoising strength", hires
 * fix as "Hires upscale"/"Hires upscaler") image; nothing for an upscaled one.
 */
function a1111Infotext(metadata: ArtifactMetadata): string | null {
  if (metadata.stage_type === 'upscaler') return null;
  if (metadata.stage_type === 'detailer') return detailerInfotext(metadata);
  const refined = metadata.stage_type === 'refiner' ? metadata : null;
  // text_to_image records its values at the top level, refiner the values it ran with under `parameters`.
  const p: Record<string, unknown> = refined ? metadata.parameters : metadata;
  const [scheduler, schedule] = metadata.scheduler.split(' ');
  const { sampler, scheduleType } = samplerToA1111(scheduler as SchedulerName, schedule === 'karras' || p.karras === true);
  const extra: Record<string, string | number> = {};
  if (refined?.high_res_fix) {
    extra['Hires upscale'] = refined.high_res_fix.scale;
    extra['Hires upscaler'] = refined.high_res_fix.upscaler === 'latent' ? 'Latent' : refined.high_res_fix.upscaler;
  }
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  // A1111 writes the variation right after the seed's neighbours; here among the extras.
  if (num(p.subseed) !== undefined && (num(p.subseed_strength) ?? 0) > 0) {
    extra['Variation seed'] = num(p.subseed)!;
    extra['Variation seed strength'] = num(p.subseed_strength)!;
  }
  Object.assign(extra, networkHashes(metadata));
  // The final size (a refiner's after a hires fix), as A1111 writes it.
  const [width, height] = metadata.output_size;
  return formatInfotext({
    prompt: String(p.prompt ?? ''),
    negative_prompt: typeof p.negative_prompt === 'string' ? p.negative_prompt : undefined,
    steps: num(p.steps) ?? 0,
    sampler,
    scheduleType,
    cfg_scale: num(p.guidance_scale) ?? 0,
    seed: num(p.seed) ?? metadata.seed,
    width,
    height,
    model: metadata.model,
    model_hash: metadata.model_hash,
    denoising_strength: refined ? (num(p.strength) ?? refined.strength) : undefined,
    extra,
  });
}

// ---------------------------------------------------------------------------------------------
// The detailer: the generation's infotext plus ADetailer's keys

type DetailerArtifact = Extract<ArtifactMetadata, { stage_type: 'detailer' }>;

const record = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/**
 * The generation a detailer ran after, from the job the artifact carries: its text_to_image
 * stage's values merged as the workbench merges them (stage < config.parameters < input_data).
 * Undefined for a job without one (an uploaded image detailed in Enhance).
 */
function generationOf(job: unknown): Record<string, unknown> | undefined {
  const request = record(job);
  const config = record(request?.pipeline_config);
  const stages = Array.isArray(config?.stages) ? config.stages : [];
  const stage = stages.map(record).find((s) => s?.stage_type === 'text_to_image');
  if (!stage) return undefined;
  return { ...record(stage.parameters), ...record(config?.parameters), ...record(request?.input_data) };
}

/** Detector ids that say what they find: `blazeface-back` a face, `mediapipe-palm` a hand. */
const DETECTOR_WORDS: Record<DetailerTarget, RegExp> = { face: /face/i, hand: /hand|palm/i };

/**
 * ADetailer's model name for each target: the detector ids run for it. The metadata lists the
 * ids in the order the targets ran; an id is matched to its target by name, else by place when
 * each target ran one detector, else the target's own name stands in (so it reads back).
 */
function detectorNames(metadata: DetailerMetadata, targets: readonly DetailerTarget[]): Record<DetailerTarget, string> {
  const ids = metadata.detectors ?? [];
  const out = {} as Record<DetailerTarget, string>;
  targets.forEach((target, i) => {
    const named = ids.filter((id) => DETECTOR_WORDS[target].test(id));
    out[target] = named.length ? named.join('+') : ids.length === targets.length ? ids[i] : target;
  });
  return out;
}

/**
 * A detailed image's infotext. Found faces/hands (detect mode) are written as ADetailer writes
 * its tabs: faces as its first tab (unsuffixed keys), hands as its second (` 2nd`), the model
 * being the detector's id (`blazeface-back`, `mediapipe-palm`); settings the stage shares between
 * the targets (confidence, dilate, blur, padding) are repeated on each tab. A given mask or roi
 * is not ADetailer's work: it is written as A1111's img2img inpainting (denoising strength, mask
 * blur). The prompt, sampler, steps, CFG and seed are the generation's when the job has one;
 * the size is the image's own (after any hires fix, whose keys are not repeated here).
 */
function detailerInfotext(metadata: DetailerArtifact): string {
  const p = metadata.parameters;
  const gen = generationOf(metadata.job);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const detect = metadata.mode === 'detect';
  // Without a generation on record, the detailer's own prompt is the one the image was made with.
  const prompt = gen ? (text(gen.prompt) ?? '') : (text(p.prompt) ?? '');
  const negative = gen ? text(gen.negative_prompt) : text(p.negative_prompt);
  const steps = num(gen?.steps) ?? num(p.steps);
  const cfg = num(gen?.guidance_scale) ?? num(p.guidance_scale) ?? 0;
  const [asRun, schedule] = metadata.scheduler.split(' ');
  const schedulerName = text(gen?.scheduler) ?? asRun;
  const karras = gen ? gen.karras === true : schedule === 'karras' || p.karras === true;
  const sampler = (SCHEDULER_NAMES as readonly string[]).includes(schedulerName) ? samplerToA1111(schedulerName as SchedulerName, karras) : undefined;
  const [width, height] = metadata.output_size;

  let extra: Record<string, string | number> = {};
  if (detect) {
    const targets = (Array.isArray(p.targets) ? p.targets : []).filter((t): t is DetailerTarget => (DETAILER_TARGETS as readonly unknown[]).includes(t));
    const models = detectorNames(metadata, targets);
    // ADetailer writes separate steps / CFG only when they differ from the generation's.
    const ownSteps = gen && num(p.steps) !== undefined && num(p.steps) !== num(gen.steps) ? num(p.steps) : undefined;
    const ownCfg = gen && num(p.guidance_scale) !== undefined && num(p.guidance_scale) !== num(gen.guidance_scale) ? num(p.guidance_scale) : undefined;
    const tabs = targets.map(
      (target): AdetailerTab & { index: number } => ({
        index: target === 'face' ? 0 : 1,
        model: models[target],
        ...(gen && text(p.prompt) ? { prompt: text(p.prompt) } : {}),
        ...(gen && text(p.negative_prompt) ? { negative_prompt: text(p.negative_prompt) } : {}),
        confidence: num(p.confidence),
        mask_k_largest: num(p.max_regions),
        dilate_erode: num(p.dilate),
        mask_blur: metadata.mask_blur,
        denoising_strength: num(target === 'face' ? p.face_strength : p.hand_strength),
        inpaint_only_masked: metadata.inpaint_area === 'only_masked',
        inpaint_padding: metadata.inpaint_padding,
        ...(ownSteps !== undefined ? { steps: ownSteps } : {}),
        ...(ownCfg !== undefined ? { cfg_scale: ownCfg } : {}),
      }),
    );
    extra = adetailerParams(tabs.sort((a, b) => a.index - b.index));
  } else {
    extra = { 'Mask blur': metadata.mask_blur };
  }
  Object.assign(extra, networkHashes(metadata));
  return formatInfotext({
    prompt,
    negative_prompt: negative,
    steps,
    ...(sampler ?? {}),
    cfg_scale: cfg,
    seed: num(gen?.seed) ?? metadata.seed,
    width,
    height,
    model: metadata.model || undefined,
    model_hash: metadata.model_hash,
    denoising_strength: detect ? undefined : metadata.strength,
    extra,
  });
}
