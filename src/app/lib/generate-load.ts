/**
 * Loaded parameters (a PNG, a saved config, a gallery image) → the Generate form's new values,
 * with what could not be used said in words. Pure: unit-tested in Node.
 */
import { DETAILER_KEPT_KEYS, describeLoaded, matchModelName, type GenerationParameters, type LoadedParameters } from './generation-parameters';
import { INITIAL_FORM, type GenerateFormText } from './generate-form';
import { loraNamesIn } from './extra-networks';

/**
 * What the loaded image used that is not imported here: its LoRA tags (kept in the prompt; the
 * job would fail on them) and its embeddings (kept as words, which then mean only their letters).
 */
function missingNetworks(loaded: LoadedParameters, prompt: string | undefined, context: LoadContext): string[] {
  const out: string[] = [];
  const hashOf = (kind: 'loras' | 'embeddings', name: string) => {
    const hash = loaded.networks?.[kind][name];
    return hash ? ` (hash ${hash})` : '';
  };
  if (context.loras) {
    const names = new Set([...loraNamesIn(prompt ?? ''), ...Object.keys(loaded.networks?.loras ?? {})]);
    for (const name of names) {
      if (!context.loras.includes(name)) out.push(`LoRA '${name}'${hashOf('loras', name)} is not imported here: import it in the Models view, or remove its tag from the prompt`);
    }
  }
  if (context.embeddings) {
    for (const name of Object.keys(loaded.networks?.embeddings ?? {})) {
      if (!context.embeddings.includes(name)) out.push(`embedding '${name}'${hashOf('embeddings', name)} is not imported here: until it is, the word is only text`);
    }
  }
  return out;
}

export interface LoadContext {
  /** Names of the checkpoints a job can use now. */
  usableModels: readonly string[];
  /** The model the form uses now ('' = none). */
  currentModel: string;
  /** Names of the installed upscaler models (for the hires fix's upscaler). */
  upscalers: readonly string[];
  /** Names of the imported LoRAs and embeddings (to say which of the image's are missing). */
  loras?: readonly string[];
  embeddings?: readonly string[];
}

export interface LoadOutcome {
  form: GenerateFormText;
  /** The registered model to switch to, when the parameters name one. */
  model?: string;
  /** The fields set ("prompt", "seed", …) and what could not be used. */
  loaded: string[];
  unmapped: string[];
}

/** The form after loading `loaded` into `current`. */
export function applyLoaded(current: GenerateFormText, loaded: LoadedParameters, context: LoadContext): LoadOutcome {
  const p: GenerationParameters = loaded.parameters;
  const unmapped = [...loaded.unmapped];
  const set = describeLoaded(p);
  const form: GenerateFormText = {
    ...current,
    hires: { ...current.hires },
    refiner: { ...current.refiner },
    detailer: { ...current.detailer, kept: { ...current.detailer.kept } },
    upscale: { ...current.upscale },
  };
  let model: string | undefined;

  unmapped.push(...missingNetworks(loaded, p.prompt, context));
  if (p.prompt !== undefined) form.prompt = p.prompt;
  if (p.negative_prompt !== undefined) form.negativePrompt = p.negative_prompt;
  if (p.model !== undefined) {
    model = matchModelName(p.model, context.usableModels);
    if (!model) {
      unmapped.push(
        context.usableModels.length
          ? `model '${p.model}' is not registered here; keeping ${context.currentModel || 'the current model'}`
          : `model '${p.model}' is not registered here (import it in the Models view)`,
      );
      set.splice(set.indexOf('model'), 1);
    }
  }
  if (p.scheduler !== undefined) form.scheduler = p.scheduler;
  if (p.karras !== undefined) form.karras = p.karras;
  if (p.steps !== undefined) form.steps = String(p.steps);
  if (p.guidance_scale !== undefined) form.cfg = String(p.guidance_scale);
  if (p.seed !== undefined) {
    form.seedText = String(p.seed);
    form.seedLocked = true;
  }
  if (p.subseed !== undefined || p.subseed_strength !== undefined) {
    form.variationSeed = p.subseed !== undefined ? String(p.subseed) : '';
    form.variationStrength = String(p.subseed_strength ?? 0);
  } else if (p.seed !== undefined) {
    // A seed loaded without a variation is that image: no variation of the form's stays on.
    form.variationStrength = '0';
  }
  if (p.width !== undefined) form.width = String(p.width);
  if (p.height !== undefined) form.height = String(p.height);
  if (p.batch_size !== undefined) form.batchSize = String(p.batch_size);
  if (p.emphasis !== undefined) form.emphasis = p.emphasis;
  if (p.hires_fix !== undefined) {
    form.hires.on = p.hires_fix !== null;
    if (p.hires_fix) {
      const up = p.hires_fix.upscaler;
      const known = up === INITIAL_FORM.hiresUpscaler || context.upscalers.includes(up);
      form.hires = {
        on: true,
        scale: String(p.hires_fix.scale),
        strength: String(p.hires_fix.strength),
        steps: p.hires_fix.steps !== undefined ? String(p.hires_fix.steps) : '',
        upscaler: known ? up : INITIAL_FORM.hiresUpscaler,
      };
      if (!known) unmapped.push(`hires fix upscaler '${up}' is not installed here; using Latent`);
    }
  }
  if (p.refiner !== undefined) {
    form.refiner.on = p.refiner !== null;
    if (p.refiner) {
      const match = p.refiner.model ? matchModelName(p.refiner.model, context.usableModels) : undefined;
      form.refiner = {
        on: true,
        strength: String(p.refiner.strength),
        steps: p.refiner.steps !== undefined ? String(p.refiner.steps) : '',
        model: match ?? '',
      };
      if (p.refiner.model && !match) unmapped.push(`refiner model '${p.refiner.model}' is not registered here; the main model is used`);
    }
  }
  if (p.detailer !== undefined) {
    form.detailer.on = p.detailer !== null;
    if (p.detailer) {
      const d = p.detailer;
      const kept: GenerateFormText['detailer']['kept'] = {};
      for (const key of DETAILER_KEPT_KEYS) if (d[key] !== undefined) (kept as Record<string, unknown>)[key] = d[key];
      form.detailer = {
        on: true,
        face: d.targets.includes('face'),
        hand: d.targets.includes('hand'),
        faceStrength: String(d.face_strength),
        handStrength: String(d.hand_strength),
        confidence: String(d.confidence),
        prompt: d.prompt ?? '',
        kept,
      };
    }
  }
  if (p.upscaler !== undefined) {
    form.upscale.on = p.upscaler !== null;
    if (p.upscaler) form.upscale = { on: true, factor: p.upscaler.factor, model: p.upscaler.model ?? '' };
  }
  return { form, ...(model ? { model } : {}), loaded: set, unmapped };
}
