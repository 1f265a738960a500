/**
 * Shared pieces of the readers for other tools' PNG metadata (Fooocus, InvokeAI, NovelAI, and
 * the seeds of ComfyUI graphs): bounded JSON parsing, the digits of integers too large for a
 * JavaScript number, and the checks every reader applies to a field.
 *
 * Every reader returns an ImportedGenerationParams: what it could map, plus `warnings` naming
 * everything else in the file that changes the image (a LoRA, a ControlNet, an img2img strength,
 * a seed past 2^53 - 1, a sampler this app lacks …). Nothing read is evaluated; JSON is parsed as
 * data only.
 *
 * Pure TypeScript: runs in the worker and in Node.
 */
import type { SchedulerName } from '../protocol/pipeline-config';
import type { ImportedGenerationParams } from './infotext';

/** Why a tool's metadata could not be read; the message names the tool. */
export class ToolMetadataError extends Error {
  override readonly name = 'ToolMetadataError';
  constructor(tool: string, why: string, options?: { cause?: unknown }) {
    super(`could not read ${tool} parameters: ${why}`, options);
  }
}

/** Longest metadata text accepted, in characters: the PNG text chunk cap (1 MiB). */
export const MAX_METADATA_CHARS = 1024 * 1024;

/**
 * Decimal integer literals in JSON text that a JavaScript number cannot hold exactly, keyed by
 * the number JSON.parse makes of them, so a seed can be quoted with the digits the file has.
 * One linear pass, outside strings only.
 */
export function largeIntegerLiterals(json: string): Map<number, string> {
  const out = new Map<number, string>();
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      let j = i + 1;
      while (j < json.length && /[0-9.eE+-]/.test(json[j])) j++;
      const literal = json.slice(i, j);
      if (/^-?\d{16,}$/.test(literal)) {
        const value = Number(literal);
        if (!Number.isSafeInteger(value) && !out.has(value)) out.set(value, literal);
      }
      i = j - 1;
    }
  }
  return out;
}

/** A JSON object from metadata text, or a ToolMetadataError saying why not. */
export function parseJsonObject(text: string, tool: string, maxChars = MAX_METADATA_CHARS): Record<string, unknown> {
  if (typeof text !== 'string') throw new ToolMetadataError(tool, 'the metadata is not text');
  if (text.length > maxChars) throw new ToolMetadataError(tool, `the metadata is ${text.length} characters long; the most accepted is ${maxChars}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ToolMetadataError(tool, `the metadata is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
  const obj = asRecord(raw);
  if (!obj) throw new ToolMetadataError(tool, 'the metadata is not a JSON object');
  return obj;
}

export const asRecord = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/** An own property of a parsed object (never one from its prototype, whatever the file's keys). */
export const own = (obj: Record<string, unknown> | undefined, key: string): unknown => (obj && Object.hasOwn(obj, key) ? obj[key] : undefined);

/** A short, non-recursive description of a value from a file, for a message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** A number, or a string that is exactly a plain decimal number (some tools write numbers as text). */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

export const newImported = (): ImportedGenerationParams => ({ extra: {}, warnings: [] });

/**
 * The field setters every reader uses: a value that is not what the field takes is named in the
 * warnings with the file's own key, never guessed at.
 */
export class FieldWriter {
  constructor(
    readonly out: ImportedGenerationParams,
    private readonly literals: Map<number, string> = new Map(),
  ) {}

  note(text: string): void {
    if (!this.out.warnings.includes(text)) this.out.warnings.push(text);
  }

  text(field: 'prompt' | 'negative_prompt' | 'model', value: unknown, key: string): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') this.out[field] = value;
    else this.note(`${key} ${describeValue(value)} is not text`);
  }

  steps(value: unknown, key: string): void {
    if (value === undefined || value === null) return;
    const n = numberOf(value);
    if (n !== undefined && Number.isInteger(n) && n >= 1) this.out.steps = n;
    else this.note(`${key} ${describeValue(value)} is not a whole number of steps`);
  }

  cfg(value: unknown, key: string): void {
    if (value === undefined || value === null) return;
    const n = numberOf(value);
    if (n !== undefined && n >= 0) this.out.guidance_scale = n;
    else this.note(`${key} ${describeValue(value)} is not a CFG scale`);
  }

  /**
   * A seed: a whole number from 0 to 2^53 - 1 is taken; a larger one is named with its digits
   * as the file writes them (a string's own text, or the JSON literal), never rounded.
   */
  seed(value: unknown, key: string): void {
    if (value === undefined || value === null) return;
    let digits: string | undefined;
    if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) digits = value.trim();
    else if (typeof value === 'number' && Number.isInteger(value) && value >= 0) digits = this.literals.get(value) ?? String(value);
    if (digits === undefined) {
      this.note(`${key} ${describeValue(value)} is not a seed (a whole number from 0)`);
      return;
    }
    const n = Number(digits);
    if (Number.isSafeInteger(n) && String(n) === digits.replace(/^0+(?=\d)/, '')) this.out.seed = n;
    else {
      this.out.extra.seed = digits;
      this.note(`seed ${digits} is outside the range this app can reproduce (0 to 2^53 - 1)`);
    }
  }

  size(width: unknown, height: unknown, key: string): void {
    if (width === undefined && height === undefined) return;
    const w = numberOf(width);
    const h = numberOf(height);
    if (w !== undefined && h !== undefined && Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0) {
      this.out.width = w;
      this.out.height = h;
    } else this.note(`${key} ${describeValue(width)}×${describeValue(height)} is not a size in pixels`);
  }

  /** A sampler through a tool's table; one it lacks is named and left unset. */
  sampler(value: unknown, key: string, table: Readonly<Record<string, readonly [SchedulerName, boolean]>>): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string' && Object.hasOwn(table, value)) {
      const [scheduler, karras] = table[value];
      this.out.scheduler = scheduler;
      this.out.karras = karras;
    } else {
      this.out.extra.sampler = typeof value === 'string' ? value : describeValue(value);
      this.note(`sampler ${describeValue(value)} is not one this app has (euler, euler a, ddim, dpm++ 2m, lcm); the sampler is left as it is`);
    }
  }
}

/** ComfyUI's sampler names (Fooocus and RuinedFooocus use them too); the schedule is separate. */
export const COMFY_SAMPLER_NAMES: Readonly<Record<string, SchedulerName>> = {
  euler: 'euler',
  euler_ancestral: 'euler_a',
  ddim: 'ddim',
  dpmpp_2m: 'dpmpp_2m',
  lcm: 'lcm',
};

/**
 * ComfyUI-style sampler + scheduler (as Fooocus writes them): the sampler is set when this app
 * has it; karras sets the Karras schedule, normal none; any other schedule is named.
 */
export function comfyStyleSampler(w: FieldWriter, sampler: unknown, scheduler: unknown, key: string): void {
  if (sampler !== undefined && sampler !== null) {
    const name = typeof sampler === 'string' ? sampler.replace(/^sample_/, '') : undefined;
    if (name !== undefined && Object.hasOwn(COMFY_SAMPLER_NAMES, name)) {
      w.out.scheduler = COMFY_SAMPLER_NAMES[name];
      w.out.karras = scheduler === 'karras';
    } else {
      w.out.extra.sampler = typeof sampler === 'string' ? sampler : describeValue(sampler);
      w.note(`${key} ${describeValue(sampler)} is not one this app has (euler, euler_ancestral, ddim, dpmpp_2m, lcm); the sampler is left as it is`);
    }
  }
  if (scheduler !== undefined && scheduler !== null && scheduler !== 'karras' && scheduler !== 'normal') {
    w.out.extra.scheduler = typeof scheduler === 'string' ? scheduler : describeValue(scheduler);
    w.note(`scheduler ${describeValue(scheduler)} is not one this app has (normal, karras); the sampler's default is used`);
  }
}
