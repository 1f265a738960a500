/**
 * The Generate form survives a reload, as A1111's and ComfyUI's pages keep what was typed: each
 * change is saved for this tab (sessionStorage) and as "the last form used" (localStorage), so a
 * reload restores the tab's own form and a new tab starts from the last one used in any tab.
 *
 * What is read back is checked field by field (a stored value is input from another version of
 * the app, or from the user's devtools): a field of the wrong type keeps the fresh form's value.
 * A detailer's `kept` settings (from a loaded file) are not stored: they belong to that file.
 */
import { z } from 'zod';
import { EMPHASIS_MODES, SCHEDULER_NAMES } from '../../protocol/pipeline-config';
import type { GenerateFormText } from './generate-form';

export const FORM_STORAGE_KEY = 'media-lab:generate-form';
/** Larger is not a form someone typed: refused rather than parsed. */
const MAX_STORED_CHARS = 256 * 1024;

export interface StoredForm {
  form: GenerateFormText;
  /** The model picked ('' = the first usable one). */
  model: string;
}

/** Minimal Storage (window.localStorage / sessionStorage, or a test double). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const text = z.string();
const flag = z.boolean();
/** Each field optional: what does not parse is dropped, the fresh form's value kept. */
const Stored = z
  .object({
    model: text,
    form: z
      .object({
        prompt: text,
        negativePrompt: text,
        scheduler: z.enum(SCHEDULER_NAMES),
        karras: flag,
        steps: text,
        cfg: text,
        seedText: text,
        seedLocked: flag,
        variationSeed: text,
        variationStrength: text,
        width: text,
        height: text,
        batchSize: text,
        emphasis: z.enum(EMPHASIS_MODES),
        hires: z.object({ on: flag, scale: text, upscaler: text, strength: text, steps: text }).partial(),
        refiner: z.object({ on: flag, strength: text, model: text, steps: text }).partial(),
        detailer: z.object({ on: flag, face: flag, hand: flag, faceStrength: text, handStrength: text, confidence: text, prompt: text }).partial(),
        upscale: z.object({ on: flag, factor: z.number(), model: text }).partial(),
      })
      .partial(),
  })
  .partial();

/** Keeps the entries of `raw` (an object) that its schema accepts one by one. */
function lenient<T extends z.ZodRawShape>(schema: z.ZodObject<T>, raw: unknown): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const value = (raw as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const inner = field instanceof z.ZodOptional ? field.unwrap() : field;
    if (inner instanceof z.ZodObject) out[key] = lenient(inner, value);
    else if ((field as z.ZodType).safeParse(value).success) out[key] = value;
  }
  return out;
}

/** The stored form over `fresh` (each part merged), or null when nothing usable is stored. */
export function restoreForm(stores: readonly KeyValueStore[], fresh: GenerateFormText): StoredForm | null {
  for (const store of stores) {
    let raw: string | null = null;
    try {
      raw = store.getItem(FORM_STORAGE_KEY);
    } catch {
      continue; // storage blocked (private mode, a sandboxed frame)
    }
    if (!raw || raw.length > MAX_STORED_CHARS) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    const top = lenient(Stored, parsed) as { model?: string; form?: Partial<Record<keyof GenerateFormText, unknown>> };
    const f = top.form ?? {};
    const part = <K extends 'hires' | 'refiner' | 'detailer' | 'upscale'>(key: K) => ({ ...fresh[key], ...(f[key] as object | undefined) }) as GenerateFormText[K];
    return {
      model: top.model ?? '',
      form: { ...fresh, ...(f as Partial<GenerateFormText>), hires: part('hires'), refiner: part('refiner'), detailer: { ...part('detailer'), kept: {} }, upscale: part('upscale') },
    };
  }
  return null;
}

/** Saves the form to every store (a full store only loses the saving, never the form). */
export function saveForm(stores: readonly KeyValueStore[], stored: StoredForm): void {
  const { kept: _kept, ...detailer } = stored.form.detailer;
  const value = JSON.stringify({ model: stored.model, form: { ...stored.form, detailer } });
  for (const store of stores) {
    try {
      store.setItem(FORM_STORAGE_KEY, value);
    } catch {
      // Quota or blocked storage: the next change tries again.
    }
  }
}
