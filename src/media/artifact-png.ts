/**
 * The text a PNG of ours carries, made from the metadata a stage recorded for the image: our
 * `media-lab` JSON always, and A1111's `parameters` infotext for generated and refined images so
 * other tools can read them. Pure: the worker's artifact sink adds the chunks and stores the file.
 */
import type { SchedulerName } from '../protocol/pipeline-config';
import type { ArtifactMetadata } from '../protocol/stage-results';
import { formatInfotext, samplerToA1111 } from './infotext';

/**
 * Parameters travel with the image: our JSON (the stage's metadata, and the whole job) always,
 * and A1111's `parameters` text for generated and refined images so other tools can read them.
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
  // The detailer's ADetailer-style keys are not written yet: its PNG carries our JSON only.
  if (metadata.stage_type === 'upscaler' || metadata.stage_type === 'detailer') return null;
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
