/**
 * Generation parameters from InvokeAI PNGs, in the three forms its versions wrote:
 *
 * - `invokeai_metadata` (3.x and later): JSON with positive_prompt, negative_prompt, seed, steps,
 *   cfg_scale, scheduler (InvokeAI's names: "dpmpp_2m_k" = DPM++ 2M with Karras), width, height,
 *   model {model_name | name}, and loras, controlnets, ipAdapters, t2iAdapters, strength
 *   (img2img), refiner_model, hrf_enabled …, which are named in the warnings.
 * - `sd-metadata` (2.x): JSON {model_weights, image: {prompt, steps, cfg_scale, seed, width,
 *   height, sampler ("k_euler_a" …), type, strength, postprocessing, variations}}.
 * - `Dream` (2.x): a command line, `"prompt [negative]" -s 50 -S 42 -W 512 -H 768 -C 7.5 -A k_lms`.
 *
 * In 2.x prompts, text in [square brackets] is the negative prompt; it is moved, as written, to
 * the negative prompt (and that is said).
 *
 * Pure TypeScript: runs in the worker and in Node.
 */
import type { SchedulerName } from '../protocol/pipeline-config';
import type { ImportedGenerationParams } from './infotext';
import {
  asRecord,
  describeValue,
  FieldWriter,
  largeIntegerLiterals,
  MAX_METADATA_CHARS,
  newImported,
  numberOf,
  own,
  parseJsonObject,
  ToolMetadataError,
} from './tool-metadata';

/** InvokeAI 3+ scheduler names this app has (the `_k` forms use the Karras schedule). */
const INVOKE_SCHEDULERS: Readonly<Record<string, readonly [SchedulerName, boolean]>> = {
  euler: ['euler', false],
  euler_k: ['euler', true],
  euler_a: ['euler_a', false],
  ddim: ['ddim', false],
  dpmpp_2m: ['dpmpp_2m', false],
  dpmpp_2m_k: ['dpmpp_2m', true],
  lcm: ['lcm', false],
};

/** InvokeAI 2.x sampler names this app has (k_dpmpp_2 is its DPM++ 2M). */
const INVOKE2_SAMPLERS: Readonly<Record<string, readonly [SchedulerName, boolean]>> = {
  ddim: ['ddim', false],
  k_euler: ['euler', false],
  k_euler_a: ['euler_a', false],
  k_dpmpp_2: ['dpmpp_2m', false],
};

/** The name of a model reference: a string, or {model_name} (3.x), or {name} (4.x+). */
function modelNameOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value || undefined;
  const obj = asRecord(value);
  const name = own(obj, 'name') ?? own(obj, 'model_name');
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Parameters from an `invokeai_metadata` chunk (InvokeAI 3 and later). Throws ToolMetadataError. */
export function readInvokeAiMetadata(text: string): ImportedGenerationParams {
  const obj = parseJsonObject(text, 'InvokeAI');
  const get = (key: string) => own(obj, key);
  const w = new FieldWriter(newImported(), largeIntegerLiterals(text));
  w.text('prompt', get('positive_prompt'), 'positive_prompt');
  w.text('negative_prompt', get('negative_prompt'), 'negative_prompt');
  w.seed(get('seed'), 'seed');
  w.steps(get('steps'), 'steps');
  w.cfg(get('cfg_scale'), 'cfg_scale');
  w.sampler(get('scheduler'), 'scheduler', INVOKE_SCHEDULERS);
  w.size(get('width'), get('height'), 'width × height');
  const model = modelNameOf(get('model'));
  if (model !== undefined) w.out.model = model;

  for (const key of ['positive_style_prompt', 'negative_style_prompt']) {
    const style = get(key);
    if (typeof style === 'string' && style !== '' && style !== get(key.startsWith('positive') ? 'positive_prompt' : 'negative_prompt')) {
      w.note(`${key} ${describeValue(style)} (SDXL's second text encoder) is not applied`);
    }
  }
  for (const lora of listOf(get('loras'))) {
    const rec = asRecord(lora);
    const name = modelNameOf(own(rec, 'model') ?? own(rec, 'lora'));
    w.note(`LoRA "${name ?? '(unnamed)'}"${numberOf(own(rec, 'weight')) !== undefined ? ` (weight ${numberOf(own(rec, 'weight'))})` : ''} is not applied`);
  }
  for (const [key, what] of [
    ['controlnets', 'ControlNet'],
    ['controlLayers', 'control layer'],
    ['ipAdapters', 'IP-Adapter'],
    ['t2iAdapters', 'T2I-Adapter'],
  ] as const) {
    for (const item of listOf(get(key))) {
      const rec = asRecord(item);
      const name = modelNameOf(own(rec, 'control_model') ?? own(rec, 'ip_adapter_model') ?? own(rec, 't2i_adapter_model') ?? own(rec, 'model'));
      const weight = numberOf(own(rec, 'control_weight') ?? own(rec, 'weight'));
      w.note(`${what} "${name ?? '(unnamed)'}"${weight !== undefined ? ` (weight ${weight})` : ''} is not applied`);
    }
  }
  const mode = get('generation_mode');
  const strength = numberOf(get('strength'));
  if (typeof mode === 'string' && /img2img|inpaint|outpaint/.test(mode)) {
    if (strength !== undefined && strength >= 0 && strength <= 1) w.out.strength = strength;
    w.note(`generation mode "${mode}" starts from an input image, which is not in the file`);
  }
  const refiner = modelNameOf(get('refiner_model'));
  if (refiner !== undefined) w.note(`SDXL refiner "${refiner}" is not applied`);
  if (get('hrf_enabled') === true) w.note('InvokeAI high-resolution fix is not applied');
  const vae = modelNameOf(get('vae'));
  if (vae !== undefined) w.note(`VAE "${vae}" is not applied`);
  const clipSkip = numberOf(get('clip_skip'));
  if (clipSkip !== undefined && clipSkip > 0) w.note(`clip_skip ${clipSkip} is not a setting this app has`);
  const rescale = numberOf(get('cfg_rescale_multiplier'));
  if (rescale !== undefined && rescale > 0) w.note(`cfg_rescale_multiplier ${rescale} is not a setting this app has`);
  if (get('seamless_x') === true || get('seamless_y') === true) w.note('seamless tiling is not a setting this app has');
  return w.out;
}

/** Parameters from an `sd-metadata` chunk (InvokeAI 2.x). Throws ToolMetadataError. */
export function readInvokeAiSdMetadata(text: string): ImportedGenerationParams {
  const obj = parseJsonObject(text, 'InvokeAI');
  const image = asRecord(own(obj, 'image'));
  if (!image) throw new ToolMetadataError('InvokeAI', 'the sd-metadata JSON has no "image" object');
  const get = (key: string) => own(image, key);
  const w = new FieldWriter(newImported(), largeIntegerLiterals(text));

  let prompt = get('prompt');
  // 2.x wrote a list of weighted prompts; one with weight 1 is a plain prompt.
  if (Array.isArray(prompt)) {
    const parts = prompt.map(asRecord);
    if (parts.length === 1 && typeof own(parts[0], 'prompt') === 'string') {
      const weight = numberOf(own(parts[0], 'weight'));
      if (weight !== undefined && weight !== 1) w.note(`prompt weight ${weight} is not applied`);
      prompt = own(parts[0], 'prompt');
    } else {
      w.note(`the prompt is a blend of ${parts.length} weighted prompts, which this app does not do`);
      prompt = undefined;
    }
  }
  if (prompt !== undefined) {
    if (typeof prompt === 'string') splitBracketNegative(prompt, w);
    else w.note(`prompt ${describeValue(prompt)} is not text`);
  }
  w.seed(get('seed'), 'seed');
  w.steps(get('steps'), 'steps');
  w.cfg(get('cfg_scale'), 'cfg_scale');
  w.sampler(get('sampler'), 'sampler', INVOKE2_SAMPLERS);
  w.size(get('width'), get('height'), 'width × height');
  const weights = own(obj, 'model_weights');
  if (typeof weights === 'string' && weights !== '') w.out.model = weights;

  const type = get('type');
  if (typeof type === 'string' && type !== 'txt2img') {
    const strength = numberOf(get('strength'));
    if (strength !== undefined && strength >= 0 && strength <= 1) w.out.strength = strength;
    w.note(`generation type "${type}" starts from an input image, which is not in the file`);
  }
  for (const step of listOf(get('postprocessing'))) {
    const rec = asRecord(step);
    const kind = own(rec, 'type');
    const details = Object.entries(rec ?? {})
      .filter(([k, v]) => k !== 'type' && typeof v === 'number')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    w.note(`post-processing ${describeValue(kind)}${details ? ` (${details})` : ''} is not applied`);
  }
  const variations = listOf(get('variations'));
  if (variations.length) w.note(`${variations.length} seed variation${variations.length === 1 ? '' : 's'} are not applied`);
  if (get('hires_fix') === true) w.note('InvokeAI high-resolution fix is not applied');
  if (get('seamless') === true) w.note('seamless tiling is not a setting this app has');
  for (const key of ['threshold', 'perlin']) {
    const n = numberOf(get(key));
    if (n !== undefined && n !== 0) w.note(`${key} ${n} is not a setting this app has`);
  }
  return w.out;
}

/** Dream switches: the field each one sets, or a note for what this app does not do. */
const DREAM_SWITCHES: Readonly<Record<string, string>> = {
  '-s': 'steps',
  '--steps': 'steps',
  '-S': 'seed',
  '--seed': 'seed',
  '-W': 'width',
  '--width': 'width',
  '-H': 'height',
  '--height': 'height',
  '-C': 'cfg',
  '--cfg_scale': 'cfg',
  '-A': 'sampler',
  '--sampler': 'sampler',
  '-f': 'strength',
  '--strength': 'strength',
};
/** Switches that change the image, with their meaning, named in the notes. */
const DREAM_NOTED: Readonly<Record<string, string>> = {
  '-G': 'GFPGAN face restoration strength',
  '-cf': 'CodeFormer fidelity',
  '-ft': 'face restoration type',
  '-U': 'upscaling (factor, strength)',
  '-I': 'init image (img2img)',
  '--init_img': 'init image (img2img)',
  '-M': 'init mask (inpainting)',
  '-V': 'variation amount',
  '-v': 'variation amount',
  '--variation_amount': 'variation amount',
  '--with_variations': 'seed variations',
  '--seamless': 'seamless tiling',
  '--hires_fix': 'high-resolution fix',
  '--threshold': 'threshold',
  '--perlin': 'perlin noise',
};

/** Parameters from a `Dream` chunk (InvokeAI 2.x command line). Throws ToolMetadataError. */
export function readInvokeAiDream(text: string): ImportedGenerationParams {
  if (typeof text !== 'string' || text.length > MAX_METADATA_CHARS) throw new ToolMetadataError('InvokeAI', 'the Dream text is missing or too long');
  const m = /^\s*"((?:[^"\\]|\\.)*)"(.*)$/s.exec(text);
  if (!m) throw new ToolMetadataError('InvokeAI', 'the Dream text does not start with a quoted prompt');
  const w = new FieldWriter(newImported());
  splitBracketNegative(m[1].replace(/\\(["\\])/g, '$1'), w);

  const tokens = m[2].trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const [flag, inline] = token.startsWith('--') && token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
    const value = () => inline ?? tokens[++i];
    if (Object.hasOwn(DREAM_SWITCHES, flag)) {
      const field = DREAM_SWITCHES[flag];
      const v = value();
      if (field === 'steps') w.steps(v ?? null, flag);
      else if (field === 'seed') w.seed(v ?? null, flag);
      else if (field === 'cfg') w.cfg(v ?? null, flag);
      else if (field === 'sampler') w.sampler(v ?? null, flag, INVOKE2_SAMPLERS);
      else if (field === 'width' || field === 'height') {
        const n = numberOf(v);
        if (n !== undefined && Number.isInteger(n) && n > 0) w.out[field] = n;
        else w.note(`${flag} ${describeValue(v)} is not a ${field} in pixels`);
      } else if (field === 'strength') {
        const n = numberOf(v);
        if (n !== undefined && n >= 0 && n <= 1) w.out.strength = n;
      }
    } else if (flag.startsWith('-') && !/^-\d/.test(flag)) {
      // A switch's values run to the next switch.
      const values: string[] = [];
      if (inline !== undefined) values.push(inline);
      while (i + 1 < tokens.length && !(tokens[i + 1].startsWith('-') && !/^-\d/.test(tokens[i + 1]))) values.push(tokens[++i]);
      const meaning = Object.hasOwn(DREAM_NOTED, flag) ? DREAM_NOTED[flag] : 'an InvokeAI option';
      w.note(`${flag}${values.length ? ` ${values.join(' ')}` : ''} (${meaning}) is not applied`);
    }
  }
  if ((w.out.width === undefined) !== (w.out.height === undefined)) {
    delete w.out.width;
    delete w.out.height;
    w.note('the Dream text gives only one side of the size');
  }
  return w.out;
}

/**
 * InvokeAI 2.x's negative prompt: the text inside top-level [square brackets]. The prompt is the
 * rest (trimmed), the negative the bracketed parts joined with ", " — each as written.
 */
function splitBracketNegative(prompt: string, w: FieldWriter): void {
  const negatives: string[] = [];
  let positive = '';
  let depth = 0;
  let current = '';
  for (const ch of prompt) {
    if (ch === '[') {
      if (depth > 0) current += ch;
      depth++;
    } else if (ch === ']' && depth > 0) {
      depth--;
      if (depth > 0) current += ch;
      else {
        negatives.push(current);
        current = '';
      }
    } else if (depth > 0) current += ch;
    else positive += ch;
  }
  if (depth > 0 || negatives.length === 0) {
    // Unbalanced or none: the prompt as the file has it.
    w.out.prompt = prompt;
    return;
  }
  w.out.prompt = positive.trim();
  w.out.negative_prompt = negatives.map((n) => n.trim()).join(', ');
  w.note('the [bracketed] text of the InvokeAI prompt is its negative prompt, and was moved there');
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value.slice(0, 256) : [];
}
