/**
 * Generation parameters from NovelAI PNGs. NovelAI writes tEXt chunks:
 *   Software    "NovelAI"
 *   Description the prompt
 *   Source      the model ("Stable Diffusion 1D44365E", "NovelAI Diffusion V4.5 4BDE2A90" …)
 *   Comment     JSON: steps, scale (CFG), seed, sampler ("k_euler_ancestral" …), uc (the negative
 *               prompt), and in later versions prompt, width, height, noise_schedule, sm, sm_dyn,
 *               cfg_rescale, uncond_scale, request_type, v4_prompt …
 *
 * NovelAI's {…} / […] emphasis is not A1111's; the prompt is kept as written and that is said.
 *
 * Pure TypeScript: runs in the worker and in Node.
 */
import type { SchedulerName } from '../protocol/pipeline-config';
import type { ImportedGenerationParams } from './infotext';
import { asRecord, describeValue, FieldWriter, largeIntegerLiterals, newImported, numberOf, own, parseJsonObject } from './tool-metadata';

/** NovelAI's sampler names this app has; the schedule comes from noise_schedule. */
const NOVELAI_SAMPLERS: Readonly<Record<string, SchedulerName>> = {
  k_euler: 'euler',
  k_euler_ancestral: 'euler_a',
  ddim: 'ddim',
  k_dpmpp_2m: 'dpmpp_2m',
};

export interface NovelAiChunks {
  comment: string;
  description?: string;
  software?: string;
  source?: string;
}

/** Whether text chunks look like NovelAI's: Software "NovelAI", or a Comment JSON with its keys beside a Description. */
export function isNovelAi(chunks: { comment?: string; description?: string; software?: string }): boolean {
  if (chunks.comment === undefined) return false;
  if (chunks.software?.trim() === 'NovelAI') return true;
  if (chunks.description === undefined || !chunks.comment.trimStart().startsWith('{')) return false;
  try {
    const obj = parseJsonObject(chunks.comment, 'NovelAI');
    return own(obj, 'uc') !== undefined && own(obj, 'scale') !== undefined;
  } catch {
    return false;
  }
}

/** Parameters from NovelAI's text chunks. Throws ToolMetadataError. */
export function readNovelAi(chunks: NovelAiChunks): ImportedGenerationParams {
  const obj = parseJsonObject(chunks.comment, 'NovelAI');
  const get = (key: string) => own(obj, key);
  const w = new FieldWriter(newImported(), largeIntegerLiterals(chunks.comment));

  w.text('prompt', chunks.description ?? get('prompt'), chunks.description !== undefined ? 'Description' : 'prompt');
  w.text('negative_prompt', get('uc'), 'uc');
  w.seed(get('seed'), 'seed');
  w.steps(get('steps'), 'steps');
  w.cfg(get('scale'), 'scale');
  w.size(get('width'), get('height'), 'width × height');
  if (typeof chunks.source === 'string' && chunks.source.trim() !== '') w.out.model = chunks.source.trim();

  const sampler = get('sampler');
  const schedule = get('noise_schedule');
  if (sampler !== undefined) {
    if (typeof sampler === 'string' && Object.hasOwn(NOVELAI_SAMPLERS, sampler)) {
      w.out.scheduler = NOVELAI_SAMPLERS[sampler];
      w.out.karras = schedule === 'karras';
    } else {
      w.out.extra.sampler = typeof sampler === 'string' ? sampler : describeValue(sampler);
      w.note(`sampler ${describeValue(sampler)} is not one this app has (k_euler, k_euler_ancestral, ddim, k_dpmpp_2m); the sampler is left as it is`);
    }
  }
  if (schedule !== undefined && schedule !== 'native' && schedule !== 'karras') {
    w.note(`noise_schedule ${describeValue(schedule)} is not one this app has (native, karras)`);
  }

  const prompts = [w.out.prompt, w.out.negative_prompt].filter((p): p is string => typeof p === 'string');
  if (prompts.some((p) => /[{}]/.test(p))) {
    w.note("NovelAI's {…} and […] emphasis weighs words differently from this app's (…) syntax; the prompts are kept as written");
  }
  const requestType = get('request_type');
  if (typeof requestType === 'string' && /img2img|inpaint/i.test(requestType)) {
    const strength = numberOf(get('strength'));
    if (strength !== undefined && strength >= 0 && strength <= 1) w.out.strength = strength;
    w.note(`request type "${requestType}" starts from an input image, which is not in the file`);
  }
  if (get('sm') === true) w.note(`SMEA${get('sm_dyn') === true ? ' DYN' : ''} sampling is not a setting this app has`);
  for (const key of ['cfg_rescale', 'skip_cfg_above_sigma']) {
    const n = numberOf(get(key));
    if (n !== undefined && n > 0) w.note(`${key} ${n} is not a setting this app has`);
  }
  const uncond = numberOf(get('uncond_scale'));
  if (uncond !== undefined && uncond !== 1) w.note(`uncond_scale ${uncond} (negative prompt strength) is not a setting this app has`);
  if (get('dynamic_thresholding') === true) w.note('dynamic thresholding (decrisp) is not a setting this app has');
  const controlStrength = numberOf(get('controlnet_strength'));
  if (typeof get('controlnet_model') === 'string' || (controlStrength !== undefined && get('controlnet_condition') !== undefined)) {
    w.note(`NovelAI control tool ${describeValue(get('controlnet_model'))} is not applied`);
  }
  const references = get('reference_strength_multiple') ?? get('reference_strength');
  if ((Array.isArray(references) && references.length > 0) || typeof references === 'number') w.note('NovelAI vibe transfer (reference images) is not applied');
  const characters = own(asRecord(own(asRecord(get('v4_prompt')), 'caption')), 'char_captions');
  if (Array.isArray(characters) && characters.length > 0) {
    w.note(`${characters.length} character prompt${characters.length === 1 ? '' : 's'} (v4_prompt) are not applied`);
  }
  return w.out;
}
