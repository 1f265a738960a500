/**
 * A1111's "infotext": the text stable-diffusion-webui stores in a PNG's `parameters` chunk and
 * shows under every image. Its shape:
 *
 *   <prompt, any number of lines>
 *   Negative prompt: <negative prompt, any number of lines>     (omitted when empty)
 *   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, …
 *
 * Writing and reading follow the webui's own rules (modules/infotext_utils.py: `quote`,
 * `unquote`, `parse_generation_parameters`; modules/processing.py: `create_infotext`), so images
 * from this app paste into A1111 and images from A1111 load here. Written from those rules, not
 * from their code.
 *
 * Pure TypeScript: runs in the worker and in Node.
 */
import type { SchedulerName } from '../protocol/pipeline-config';

/** Generation parameters read from an image: every field optional, because any may be missing. */
export interface ImportedGenerationParams {
  prompt?: string;
  negative_prompt?: string;
  steps?: number;
  guidance_scale?: number;
  seed?: number;
  width?: number;
  height?: number;
  scheduler?: SchedulerName;
  karras?: boolean;
  /** img2img denoising strength (A1111 "Denoising strength", ComfyUI `denoise` < 1). */
  strength?: number;
  /** A1111's "Variation seed" and "Variation seed strength". */
  subseed?: number;
  subseed_strength?: number;
  model?: string;
  model_hash?: string;
  /** `Lora hashes`: each LoRA the prompt's tags used, by name, with its A1111 (addnet) short hash. */
  lora_hashes?: Record<string, string>;
  /** `TI hashes`: each embedding the prompts used, by name, with its short hash. */
  ti_hashes?: Record<string, string>;
  /** Everything else the image holds, as text, so nothing is lost on the way through. */
  extra: Record<string, string>;
  /** What was in the file but could not be used here (unknown sampler, unreadable number, …). */
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------
// Samplers

/** Our scheduler names and A1111's sampler names for the same algorithm. */
const A1111_SAMPLERS: Record<SchedulerName, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  lcm: 'LCM',
};

/** A1111 also accepts these old k-diffusion aliases for the same samplers. */
const A1111_ALIASES: Record<string, SchedulerName> = {
  k_euler: 'euler',
  k_euler_a: 'euler_a',
  k_euler_ancestral: 'euler_a',
  k_dpmpp_2m: 'dpmpp_2m',
  k_lcm: 'lcm',
};

/** A1111's sampler name (and schedule type, when Karras) for one of our schedulers. */
export function samplerToA1111(name: SchedulerName, karras: boolean): { sampler: string; scheduleType?: string } {
  if (!Object.hasOwn(A1111_SAMPLERS, name)) throw new Error(`unknown scheduler '${String(name)}'`);
  const sampler = A1111_SAMPLERS[name];
  return karras ? { sampler, scheduleType: 'Karras' } : { sampler };
}

/**
 * Our scheduler for an A1111 sampler name, or null (with the name kept by the caller for its
 * message) when this app has no such sampler. Handles both the current form
 * (`Sampler: DPM++ 2M, Schedule type: Karras`) and the pre-1.9 one where the schedule was part
 * of the sampler's name (`Sampler: DPM++ 2M Karras`). A1111 1.8 wrote the schedule type in
 * lower case ("karras"), so it is compared case-insensitively. Any other schedule type
 * (Exponential, Uniform, …) reads as "not Karras"; toGenerationParams warns about it.
 */
export function samplerFromA1111(sampler: string, scheduleType?: string): { scheduler: SchedulerName; karras: boolean } | null {
  let name = sampler.trim();
  let karras = scheduleType?.trim().toLowerCase() === 'karras';
  const suffix = / karras$/i.exec(name);
  if (suffix) {
    name = name.slice(0, suffix.index);
    karras = true;
  }
  const scheduler =
    (Object.keys(A1111_SAMPLERS) as SchedulerName[]).find((s) => A1111_SAMPLERS[s] === name) ??
    (Object.hasOwn(A1111_ALIASES, name) ? A1111_ALIASES[name] : undefined); // names come from files: no "toString"
  return scheduler ? { scheduler, karras } : null;
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface InfotextInput {
  prompt: string;
  negative_prompt?: string;
  /** Left out when not known (e.g. a detailed upload whose generation is not on record). */
  steps?: number;
  /** A1111's sampler name ("DPM++ 2M"), or one of ours ('dpmpp_2m'), which is translated; left out when not known. */
  sampler?: string;
  /** A1111's schedule type label, e.g. "Karras" (see samplerToA1111). */
  scheduleType?: string;
  cfg_scale: number;
  seed: number;
  width: number;
  height: number;
  model_hash?: string;
  model?: string;
  denoising_strength?: number;
  /** More `Key: value` pairs, written after the standard ones in insertion order. */
  extra?: Record<string, string | number>;
}

/** Keys must match what the reader's pattern accepts as a key, or the pair would be lost. */
const KEY = /^[\p{L}\p{N}_][\p{L}\p{N}_ \-/]+$/u;

export function formatInfotext(input: InfotextInput): string {
  const sampler = input.sampler !== undefined && Object.hasOwn(A1111_SAMPLERS, input.sampler) ? A1111_SAMPLERS[input.sampler as SchedulerName] : input.sampler;
  // A1111's order (create_infotext); undefined entries are left out, as A1111 leaves out None.
  const pairs: Array<[string, string | number | undefined]> = [
    ['Steps', input.steps],
    ['Sampler', sampler],
    ['Schedule type', input.scheduleType],
    ['CFG scale', input.cfg_scale],
    ['Seed', input.seed],
    ['Size', `${input.width}x${input.height}`],
    ['Model hash', input.model_hash],
    ['Model', input.model],
    ['Denoising strength', input.denoising_strength],
    ...Object.entries(input.extra ?? {}),
  ];
  const seen = new Set<string>();
  const params = pairs
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined)
    .map(([key, value]) => {
      if (!KEY.test(key)) throw new Error(`infotext key ${JSON.stringify(key)} must be a word followed by letters, digits, spaces, - or /`);
      if (seen.has(key)) throw new Error(`infotext key "${key}" is given twice`);
      seen.add(key);
      if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`infotext value for "${key}" is not a finite number`);
      return `${key}: ${quoteValue(String(value))}`;
    })
    .join(', ');

  const negative = input.negative_prompt ? `\nNegative prompt: ${input.negative_prompt}` : '';
  return `${input.prompt}${negative}\n${params}`.trim(); // A1111 strips the whole text too
}

/**
 * A1111's `quote`: a value holding a comma, a newline or a colon is written as a JSON string
 * (non-ASCII kept as is), otherwise as is. One addition: a value that starts with a double quote
 * is JSON-encoded too, because the reader would otherwise unquote it; A1111 reads it back the
 * same either way.
 */
export function quoteValue(value: string): string {
  return /[,\n:]/.test(value) || value.startsWith('"') ? JSON.stringify(value) : value;
}

/** A1111's `unquote`: a value in double quotes is a JSON string; if it does not parse, keep it. */
export function unquoteValue(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ParsedInfotext {
  prompt: string;
  negative_prompt: string;
  /** The `Key: value` pairs of the last line, unquoted; a repeated key keeps its last value. */
  params: Record<string, string>;
}

/**
 * A1111's regular expression for one `Key: value` pair: a key that starts with a word character,
 * then either a JSON-style quoted string or everything up to the next comma. Python's `\w` is
 * Unicode-aware, hence the \p classes.
 */
const PARAM = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu;

/**
 * Split an infotext the way A1111's `parse_generation_parameters` does: the last line holds the
 * parameters if at least 3 pairs are found on it (otherwise it is part of the prompt); of the
 * lines before it, those from the one starting with "Negative prompt:" on are the negative
 * prompt; each line is trimmed. Values stay text; see toGenerationParams for numbers.
 */
export function parseInfotext(text: string): ParsedInfotext {
  // Windows line endings would otherwise leave a \r in the last value.
  const lines = text.replace(/\r\n?/g, '\n').trim().split('\n');
  let last = lines.pop() ?? '';
  if ([...last.matchAll(PARAM)].length < 3) {
    lines.push(last);
    last = '';
  }

  const prompt: string[] = [];
  const negative: string[] = [];
  let inNegative = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line.startsWith('Negative prompt:')) {
      inNegative = true;
      line = line.slice('Negative prompt:'.length).trim();
    }
    (inNegative ? negative : prompt).push(line);
  }

  // A null-prototype object: keys come from the file, and "__proto__" must stay a plain key.
  const params: Record<string, string> = Object.create(null);
  for (const [, key, value] of last.matchAll(PARAM)) params[key] = unquoteValue(value);
  return { prompt: prompt.join('\n'), negative_prompt: negative.join('\n'), params: { ...params } };
}

/**
 * A1111's `Lora hashes` / `TI hashes` value: `name: hash, name: hash`. A1111 drops `:` and `,`
 * from the names so that the list splits back; so does this.
 */
export function formatNameHashes(hashes: Readonly<Record<string, string>>): string {
  return Object.entries(hashes)
    .map(([name, hash]) => `${name.replace(/[:,]/g, '')}: ${hash}`)
    .join(', ');
}

/** The pairs of a `Lora hashes` / `TI hashes` value; an entry without `name: hash` is skipped. */
export function parseNameHashes(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const entry of text.split(',')) {
    const at = entry.lastIndexOf(':');
    const name = entry.slice(0, at).trim();
    const hash = entry.slice(at + 1).trim();
    if (at > 0 && name && /^[0-9a-f]+$/i.test(hash)) setOwn(out, name, hash.toLowerCase());
  }
  return { ...out };
}

/** Keys toGenerationParams turns into fields; every other key goes to `extra` unchanged. */
const USED_KEYS = new Set([
  'Steps',
  'Sampler',
  'Schedule type',
  'CFG scale',
  'Seed',
  'Size',
  'Model',
  'Model hash',
  'Denoising strength',
  'Variation seed',
  'Variation seed strength',
]);

/** Typed generation parameters from a parsed infotext: numbers parsed and checked, sampler mapped. */
export function toGenerationParams(parsed: ParsedInfotext): ImportedGenerationParams {
  const { params } = parsed;
  const out: ImportedGenerationParams = {
    prompt: parsed.prompt,
    negative_prompt: parsed.negative_prompt,
    extra: {},
    warnings: [],
  };
  const has = (key: string) => Object.hasOwn(params, key);
  // A value that does not parse is kept in `extra` and reported, never guessed at.
  const keep = (key: string, why: string) => {
    setOwn(out.extra, key, params[key]);
    out.warnings.push(`${key} "${params[key]}" ${why}`);
  };

  for (const [key, value] of Object.entries(params)) if (!USED_KEYS.has(key)) setOwn(out.extra, key, value);

  if (has('Steps')) {
    const steps = parseNumber(params.Steps);
    if (steps !== undefined && Number.isInteger(steps) && steps >= 1) out.steps = steps;
    else keep('Steps', 'is not a whole number of steps');
  }
  if (has('CFG scale')) {
    const cfg = parseNumber(params['CFG scale']);
    if (cfg !== undefined && cfg >= 0) out.guidance_scale = cfg;
    else keep('CFG scale', 'is not a number');
  }
  if (has('Seed')) {
    const seed = parseNumber(params.Seed);
    if (seed !== undefined && Number.isSafeInteger(seed) && seed >= 0) out.seed = seed;
    else keep('Seed', 'is not a seed this app can use (a whole number from 0)');
  }
  if (has('Size')) {
    const size = /^(\d+)x(\d+)$/.exec(params.Size.trim());
    if (size) {
      out.width = Number(size[1]);
      out.height = Number(size[2]);
    } else keep('Size', 'is not WIDTHxHEIGHT');
  }
  if (has('Sampler')) {
    const sampler = samplerFromA1111(params.Sampler, params['Schedule type']);
    if (sampler) {
      out.scheduler = sampler.scheduler;
      out.karras = sampler.karras;
    } else keep('Sampler', 'is not a sampler this app has (it has Euler, Euler a, DDIM, DPM++ 2M, LCM)');
  }
  if (has('Schedule type') && !/^(karras|automatic)$/i.test(params['Schedule type'].trim())) {
    keep('Schedule type', 'is not a schedule this app has (it has Karras or the sampler’s default)');
  }
  if (has('Denoising strength')) {
    const strength = parseNumber(params['Denoising strength']);
    if (strength !== undefined && strength >= 0 && strength <= 1) out.strength = strength;
    else keep('Denoising strength', 'is not a number from 0 to 1');
  }
  if (has('Variation seed')) {
    const subseed = parseNumber(params['Variation seed']);
    if (subseed !== undefined && Number.isSafeInteger(subseed) && subseed >= 0) out.subseed = subseed;
    else keep('Variation seed', 'is not a seed this app can use (a whole number from 0)');
  }
  if (has('Variation seed strength')) {
    const strength = parseNumber(params['Variation seed strength']);
    if (strength !== undefined && strength >= 0 && strength <= 1) out.subseed_strength = strength;
    else keep('Variation seed strength', 'is not a number from 0 to 1');
  }
  if (has('Model')) out.model = params.Model;
  if (has('Model hash')) out.model_hash = params['Model hash'];
  if (has('Lora hashes')) out.lora_hashes = parseNameHashes(params['Lora hashes']);
  if (has('TI hashes')) out.ti_hashes = parseNameHashes(params['TI hashes']);
  return out;
}

/**
 * `obj[key] = value` that also works for the key "__proto__" (which plain assignment would turn
 * into a prototype change): keys here come from files.
 */
export function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A plain decimal number ("7", "7.0", "-1", "1e3"); anything else (empty, "7px", "0x10") is undefined. */
function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// ADetailer (the A1111 extension): its keys in the same infotext

/**
 * One ADetailer "tab" (a detector and how its finds are redrawn) as its infotext keys hold it.
 * Only the keys this app writes or reads are typed; ADetailer's others (checkpoint, sampler,
 * ControlNet, …) stay in the caller's `extra`.
 */
export interface AdetailerTab {
  /** The detection model, e.g. `face_yolov8n.pt`, `mediapipe_face_full`. */
  model: string;
  prompt?: string;
  negative_prompt?: string;
  confidence?: number;
  /** Keep the k largest detections (ADetailer writes it only when not 0 = all). */
  mask_k_largest?: number;
  dilate_erode?: number;
  mask_blur?: number;
  denoising_strength?: number;
  /** ADetailer's default is true (redraw a crop around each mask). */
  inpaint_only_masked?: boolean;
  inpaint_padding?: number;
  /** Separate steps / CFG for the redraw (ADetailer's "use separate …" switches). */
  steps?: number;
  cfg_scale?: number;
}

/** ADetailer's key names (adetailer/args.py), in the order it writes them; suffixed per tab. */
const ADETAILER_KEYS = {
  model: 'ADetailer model',
  prompt: 'ADetailer prompt',
  negative_prompt: 'ADetailer negative prompt',
  confidence: 'ADetailer confidence',
  mask_k_largest: 'ADetailer mask only top k largest',
  dilate_erode: 'ADetailer dilate erode',
  mask_blur: 'ADetailer mask blur',
  denoising_strength: 'ADetailer denoising strength',
  inpaint_only_masked: 'ADetailer inpaint only masked',
  inpaint_padding: 'ADetailer inpaint padding',
  use_steps: 'ADetailer use separate steps',
  steps: 'ADetailer steps',
  use_cfg_scale: 'ADetailer use separate CFG scale',
  cfg_scale: 'ADetailer CFG scale',
} as const;

/** Written by ADetailer itself; about the tool, not a setting. */
export const ADETAILER_VERSION_KEY = 'ADetailer version';

/** ADetailer's key suffix for its tab `index` (0-based): '' for the first, then ' 2nd', ' 3rd', ' 4th', … */
export function adetailerSuffix(index: number): string {
  if (index === 0) return '';
  const n = index + 1;
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const end = teen ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return ` ${n}${end}`;
}

/** Python's booleans, as ADetailer writes them. */
const pyBool = (value: boolean) => (value ? 'True' : 'False');

/**
 * The `Key: value` pairs for ADetailer tabs, `index` being each tab's place (0 = first, unsuffixed).
 * Left out as ADetailer leaves them out: empty prompts, k largest 0, the padding when not
 * inpainting only the masked area, steps / CFG unless separate.
 */
export function adetailerParams(tabs: ReadonlyArray<AdetailerTab & { index: number }>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const tab of tabs) {
    const sfx = adetailerSuffix(tab.index);
    const put = (key: string, value: string | number | undefined) => {
      if (value !== undefined) out[`${key}${sfx}`] = value;
    };
    const K = ADETAILER_KEYS;
    put(K.model, tab.model);
    put(K.prompt, tab.prompt || undefined);
    put(K.negative_prompt, tab.negative_prompt || undefined);
    put(K.confidence, tab.confidence);
    put(K.mask_k_largest, tab.mask_k_largest || undefined);
    put(K.dilate_erode, tab.dilate_erode);
    put(K.mask_blur, tab.mask_blur);
    put(K.denoising_strength, tab.denoising_strength);
    if (tab.inpaint_only_masked !== undefined) put(K.inpaint_only_masked, pyBool(tab.inpaint_only_masked));
    if (tab.inpaint_only_masked !== false) put(K.inpaint_padding, tab.inpaint_padding);
    if (tab.steps !== undefined) {
      put(K.use_steps, pyBool(true));
      put(K.steps, tab.steps);
    }
    if (tab.cfg_scale !== undefined) {
      put(K.use_cfg_scale, pyBool(true));
      put(K.cfg_scale, tab.cfg_scale);
    }
  }
  return out;
}

const ORDINAL = / (\d+)(st|nd|rd|th)$/;

/**
 * ADetailer's tabs from an infotext's `Key: value` pairs (e.g. toGenerationParams' `extra`): one
 * per tab that names a model, in tab order. `used` lists the keys read or warned about; a value
 * that does not parse is left out of its tab and said in `warnings`.
 */
export function readAdetailerTabs(params: Readonly<Record<string, string>>): {
  tabs: Array<AdetailerTab & { index: number }>;
  used: string[];
  warnings: string[];
} {
  const byIndex = new Map<number, Record<string, string>>();
  const keyOf = new Map<string, string>();
  for (const key of Object.keys(params)) {
    if (!key.startsWith('ADetailer ')) continue;
    const ordinal = ORDINAL.exec(key);
    const index = ordinal ? Number(ordinal[1]) - 1 : 0;
    const name = ordinal ? key.slice(0, ordinal.index) : key;
    if (ordinal && adetailerSuffix(index) !== ordinal[0]) continue; // "1st", "2th": not ADetailer's
    const tab = byIndex.get(index) ?? {};
    tab[name] = params[key];
    keyOf.set(`${index}:${name}`, key);
    byIndex.set(index, tab);
  }
  const tabs: Array<AdetailerTab & { index: number }> = [];
  const used: string[] = [];
  const warnings: string[] = [];
  const K = ADETAILER_KEYS;
  for (const index of [...byIndex.keys()].sort((a, b) => a - b)) {
    const raw = byIndex.get(index)!;
    const model = raw[K.model]?.trim();
    if (!model || model === 'None') continue;
    const tab: AdetailerTab & { index: number } = { index, model };
    const take = (name: string) => used.push(keyOf.get(`${index}:${name}`)!);
    take(K.model);
    const bad = (name: string, why: string) => {
      take(name);
      warnings.push(`${keyOf.get(`${index}:${name}`)!} "${raw[name]}" ${why}`);
    };
    const numberField = (name: string, field: 'confidence' | 'dilate_erode' | 'mask_blur' | 'denoising_strength' | 'inpaint_padding' | 'mask_k_largest' | 'steps' | 'cfg_scale', whole: boolean) => {
      if (raw[name] === undefined) return;
      const n = parseNumber(raw[name]);
      if (n === undefined || (whole && !Number.isInteger(n))) return bad(name, whole ? 'is not a whole number' : 'is not a number');
      tab[field] = n;
      take(name);
    };
    const boolField = (name: string): boolean | undefined => {
      const v = raw[name]?.trim();
      if (v === undefined) return undefined;
      if (v === 'True' || v === 'False') {
        take(name);
        return v === 'True';
      }
      bad(name, 'is not True or False');
      return undefined;
    };
    for (const [name, field] of [
      [K.prompt, 'prompt'],
      [K.negative_prompt, 'negative_prompt'],
    ] as const) {
      if (raw[name] === undefined) continue;
      tab[field] = raw[name];
      take(name);
    }
    numberField(K.confidence, 'confidence', false);
    numberField(K.mask_k_largest, 'mask_k_largest', true);
    numberField(K.dilate_erode, 'dilate_erode', true);
    numberField(K.mask_blur, 'mask_blur', true);
    numberField(K.denoising_strength, 'denoising_strength', false);
    const onlyMasked = boolField(K.inpaint_only_masked);
    if (onlyMasked !== undefined) tab.inpaint_only_masked = onlyMasked;
    numberField(K.inpaint_padding, 'inpaint_padding', true);
    // Separate steps / CFG count only when switched on; the switch itself is read either way.
    if (boolField(K.use_steps)) numberField(K.steps, 'steps', true);
    else if (raw[K.steps] !== undefined) take(K.steps);
    if (boolField(K.use_cfg_scale)) numberField(K.cfg_scale, 'cfg_scale', false);
    else if (raw[K.cfg_scale] !== undefined) take(K.cfg_scale);
    tabs.push(tab);
  }
  return { tabs, used, warnings };
}
