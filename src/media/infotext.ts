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
  model?: string;
  model_hash?: string;
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
  steps: number;
  /** A1111's sampler name ("DPM++ 2M"), or one of ours ('dpmpp_2m'), which is translated. */
  sampler: string;
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
  const sampler = Object.hasOwn(A1111_SAMPLERS, input.sampler) ? A1111_SAMPLERS[input.sampler as SchedulerName] : input.sampler;
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

/** Keys toGenerationParams turns into fields; every other key goes to `extra` unchanged. */
const USED_KEYS = new Set(['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model', 'Model hash', 'Denoising strength']);

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
  if (has('Model')) out.model = params.Model;
  if (has('Model hash')) out.model_hash = params['Model hash'];
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
