/**
 * Generation parameters from the JSON that Fooocus and RuinedFooocus write into the PNG
 * `parameters` chunk (where A1111 writes its infotext).
 *
 * Fooocus (metadata_scheme "fooocus"), keys as it writes them:
 *   prompt, negative_prompt             → the prompts as typed (kept exactly)
 *   seed (a string of up to 20 digits)  → seed (past 2^53 - 1: named with its digits)
 *   steps, guidance_scale               → steps, CFG
 *   sampler, scheduler                  → ComfyUI names (Fooocus samples with ComfyUI's code)
 *   resolution "(width, height)"        → size
 *   base_model                          → model
 *   styles, prompt_expansion, loras, refiner_model, sharpness, adm_guidance, vae, clip_skip,
 *   performance (LoRA-based ones)       → named in the warnings: they change the image and are
 *                                          not applied here
 *
 * RuinedFooocus ("software": "RuinedFooocus"): Prompt, Negative, seed, steps, cfg, width, height,
 * sampler_name, scheduler, base_model_name, loras, denoise, clip_skip, style.
 *
 * Pure TypeScript: runs in the worker and in Node.
 */
import type { ImportedGenerationParams } from './infotext';
import {
  asRecord,
  comfyStyleSampler,
  describeValue,
  FieldWriter,
  largeIntegerLiterals,
  newImported,
  numberOf,
  own,
  parseJsonObject,
  ToolMetadataError,
} from './tool-metadata';

export type FooocusFlavour = 'fooocus' | 'ruinedfooocus';

/**
 * Which JSON flavour a `parameters` chunk holds, or undefined when it is not JSON from either
 * (A1111 infotext, or JSON of some other tool). Cheap: only text that starts with "{" is parsed.
 */
export function fooocusFlavour(text: string): FooocusFlavour | undefined {
  if (typeof text !== 'string' || !text.trimStart().startsWith('{')) return undefined;
  let obj: Record<string, unknown>;
  try {
    obj = parseJsonObject(text, 'Fooocus');
  } catch {
    return undefined;
  }
  if (own(obj, 'software') === 'RuinedFooocus') return 'ruinedfooocus';
  if (own(obj, 'metadata_scheme') === 'fooocus') return 'fooocus';
  // Versions before metadata_scheme existed: its own key set.
  if (typeof own(obj, 'prompt') === 'string' && (own(obj, 'resolution') !== undefined || own(obj, 'base_model') !== undefined) && own(obj, 'performance') !== undefined) return 'fooocus';
  return undefined;
}

/** Parameters from a Fooocus or RuinedFooocus `parameters` chunk. Throws ToolMetadataError. */
export function readFooocusParameters(text: string): ImportedGenerationParams {
  const flavour = fooocusFlavour(text);
  if (flavour === undefined) {
    // Say why: not JSON, or JSON without either tool's marks.
    parseJsonObject(text, 'Fooocus');
    throw new ToolMetadataError('Fooocus', 'the JSON has neither Fooocus\'s "metadata_scheme" nor RuinedFooocus\'s "software" mark');
  }
  const obj = parseJsonObject(text, flavour === 'fooocus' ? 'Fooocus' : 'RuinedFooocus');
  const w = new FieldWriter(newImported(), largeIntegerLiterals(text));
  if (flavour === 'fooocus') readFooocus(obj, w);
  else readRuined(obj, w);
  return w.out;
}

function readFooocus(obj: Record<string, unknown>, w: FieldWriter): void {
  const get = (key: string) => own(obj, key);
  w.text('prompt', get('prompt'), 'prompt');
  w.text('negative_prompt', get('negative_prompt'), 'negative_prompt');
  w.seed(get('seed'), 'seed');
  w.steps(get('steps'), 'steps');
  w.cfg(get('guidance_scale'), 'guidance_scale');
  comfyStyleSampler(w, get('sampler'), get('scheduler'), 'sampler');

  const resolution = get('resolution');
  if (resolution !== undefined) {
    // Fooocus writes str((width, height)): "(768, 1280)".
    const m = typeof resolution === 'string' ? /^\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$/.exec(resolution) : null;
    if (m) w.size(Number(m[1]), Number(m[2]), 'resolution');
    else w.note(`resolution ${describeValue(resolution)} is not "(width, height)"`);
  }
  const model = get('base_model');
  if (typeof model === 'string' && model !== '') w.text('model', model, 'base_model');

  const styles = listOf(get('styles'));
  if (styles.length) w.note(`Fooocus styles ${styles.map((s) => JSON.stringify(s)).join(', ')} added text to the prompt; the prompt is read as typed, without them`);
  const expansion = get('prompt_expansion');
  if (typeof expansion === 'string' && expansion !== '' && !styles.includes('Fooocus V2')) {
    w.note('Fooocus V2 prompt expansion added words to the prompt; the prompt is read as typed, without them');
  }
  const performance = get('performance');
  if (typeof performance === 'string' && !['Speed', 'Quality'].includes(performance)) {
    w.note(`performance "${performance}" applies its own LoRA and sampler in Fooocus, which are not applied here`);
  }
  for (const lora of lorasOf(get('loras'))) w.note(`LoRA "${lora.name}"${lora.weight !== undefined ? ` (weight ${lora.weight})` : ''} is not applied`);
  const refiner = get('refiner_model');
  if (typeof refiner === 'string' && refiner !== '' && refiner !== 'None') {
    w.note(`refiner "${refiner}" (switch at ${describeValue(get('refiner_switch'))}) is not applied`);
  }
  const vae = get('vae');
  if (typeof vae === 'string' && vae !== '' && !vae.startsWith('Default')) w.note(`VAE "${vae}" is not applied`);
  noteSetting(w, 'sharpness', get('sharpness'));
  noteSetting(w, 'adm_guidance', get('adm_guidance'));
  noteSetting(w, 'adaptive_cfg', get('adaptive_cfg'));
  noteSetting(w, 'freeu', get('freeu'));
  const clipSkip = numberOf(get('clip_skip'));
  if (clipSkip !== undefined && clipSkip !== 1) w.note(`clip_skip ${clipSkip} is not a setting this app has`);
}

function readRuined(obj: Record<string, unknown>, w: FieldWriter): void {
  const get = (key: string) => own(obj, key);
  w.text('prompt', get('Prompt'), 'Prompt');
  w.text('negative_prompt', get('Negative'), 'Negative');
  w.seed(get('seed'), 'seed');
  w.steps(get('steps'), 'steps');
  w.cfg(get('cfg'), 'cfg');
  comfyStyleSampler(w, get('sampler_name'), get('scheduler'), 'sampler_name');
  w.size(get('width'), get('height'), 'width × height');
  const model = get('base_model_name');
  if (typeof model === 'string' && model !== '') w.text('model', model, 'base_model_name');
  for (const lora of lorasOf(get('loras'))) w.note(`LoRA "${lora.name}"${lora.weight !== undefined ? ` (weight ${lora.weight})` : ''} is not applied`);
  const denoise = numberOf(get('denoise'));
  if (denoise !== undefined && denoise >= 0 && denoise < 1) w.out.strength = denoise;
  const start = numberOf(get('start_step'));
  if (start !== undefined && start > 0) w.note(`start_step ${start} (sampling starts part-way) is not a setting this app has`);
  const styles = listOf(get('style'));
  if (styles.length) w.note(`RuinedFooocus styles ${styles.map((s) => JSON.stringify(s)).join(', ')} added text to the prompt; the prompt is read as typed, without them`);
  const clipSkip = numberOf(get('clip_skip'));
  if (clipSkip !== undefined && clipSkip !== 1 && clipSkip !== 0) w.note(`clip_skip ${clipSkip} is not a setting this app has`);
}

function noteSetting(w: FieldWriter, key: string, value: unknown): void {
  if (value === undefined || value === null || value === false) return;
  w.note(`${key} ${describeValue(value)} is not a setting this app has`);
}

/** Style names: a JSON list, or Python's repr of one ("['Fooocus V2', 'Fooocus Sharp']"). */
function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string' || value === '') return [];
  const inner = /^\s*\[(.*)\]\s*$/s.exec(value);
  if (!inner) return [value];
  const out: string[] = [];
  for (const m of inner[1].matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)) out.push(m[1] ?? m[2]);
  return out;
}

/**
 * LoRAs as the forks write them: [[name, weight], …], [[name, weight, hash], …], [{name, weight}],
 * or ["name : weight"]. At most 256 are listed.
 */
function lorasOf(value: unknown): Array<{ name: string; weight?: number }> {
  if (!Array.isArray(value)) return [];
  const out: Array<{ name: string; weight?: number }> = [];
  for (const item of value.slice(0, 256)) {
    if (Array.isArray(item)) {
      const name = item.find((v) => typeof v === 'string' && v !== '' && !/^[0-9a-f]{8,}$/i.test(v));
      const weight = item.map(numberOf).find((n) => n !== undefined);
      if (typeof name === 'string' && name !== 'None') out.push({ name, weight });
    } else if (asRecord(item)) {
      const name = own(asRecord(item), 'name') ?? own(asRecord(item), 'lora');
      if (typeof name === 'string' && name !== 'None') out.push({ name, weight: numberOf(own(asRecord(item), 'weight')) });
    } else if (typeof item === 'string' && item !== '' && item !== 'None') {
      const m = /^(.*?)\s*:\s*(-?\d+(?:\.\d+)?)$/.exec(item);
      out.push(m ? { name: m[1], weight: Number(m[2]) } : { name: item });
    }
  }
  return out;
}
